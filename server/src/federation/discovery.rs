//! Where another server's federation API is, from its name (the spec's
//! "Resolving server names"): an IP literal or a name with an explicit
//! port is used as it is (an IP without a port on 8448); a host name is
//! asked for `/.well-known/matrix/server` and its delegation followed
//! once; otherwise the host on port 8448. SRV records are not consulted yet.

use super::tls::host_of;

/// The base URL (`https://host:port`) of `server_name`'s federation API.
pub async fn base_url(http: &reqwest::Client, server_name: &str) -> String {
    if let Some(direct) = direct(server_name) {
        return direct;
    }
    let url = format!("https://{server_name}/.well-known/matrix/server");
    let delegated = async {
        let response = http.get(&url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let bytes = response.bytes().await.ok()?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        body.get("m.server")?.as_str().map(str::to_owned)
    }
    .await;
    match delegated {
        Some(name) => direct(&name).unwrap_or_else(|| format!("https://{name}:8448")),
        None => format!("https://{server_name}:8448"),
    }
}

/// The URL of a name that needs no lookup: an IP literal, or a name with a port.
fn direct(server_name: &str) -> Option<String> {
    let host = host_of(server_name);
    let has_port = match server_name.strip_prefix('[') {
        Some(rest) => rest.split_once(']').is_some_and(|(_, after)| after.starts_with(':')),
        None => server_name.contains(':'),
    };
    if has_port {
        return Some(format!("https://{server_name}"));
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(match ip {
            std::net::IpAddr::V6(_) => format!("https://[{host}]:8448"),
            std::net::IpAddr::V4(_) => format!("https://{host}:8448"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::direct;

    #[test]
    fn names_with_ports_and_ip_literals_need_no_lookup() {
        assert_eq!(direct("127.0.0.1:1234").as_deref(), Some("https://127.0.0.1:1234"));
        assert_eq!(direct("127.0.0.1").as_deref(), Some("https://127.0.0.1:8448"));
        assert_eq!(direct("[::1]").as_deref(), Some("https://[::1]:8448"));
        assert_eq!(direct("[::1]:99").as_deref(), Some("https://[::1]:99"));
        assert_eq!(direct("example.org:8448").as_deref(), Some("https://example.org:8448"));
        assert_eq!(direct("example.org"), None);
    }
}
