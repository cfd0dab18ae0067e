//! Where another server's federation API is, from its name: the spec's
//! "Resolving server names", step by step ([`locate`]).
//!
//! 1. An IP literal is used as it is (port 8448 unless given).
//! 2. A host name with an explicit port: that host and port.
//! 3. Else `https://<hostname>/.well-known/matrix/server` is asked, and its
//!    `m.server` (`<delegated_hostname>[:<delegated_port>]`) followed once:
//!    an IP literal or a name with a port as in 1 and 2; else the SRV
//!    records `_matrix-fed._tcp.<delegated_hostname>`, then the deprecated
//!    `_matrix._tcp.`; else the delegated name on 8448.
//! 4. Without a valid `.well-known` answer: the SRV records of the name
//!    itself, the same two services; else the name on 8448.
//!
//! A request found through an SRV record goes to the record's target and
//! port, while the certificate it must present is still for the name the
//! lookup started from: the request URL keeps that name (so TLS checks it)
//! and the federation client's own DNS resolver sends the connection to the
//! target's addresses ([`Discovery::http`]).
//!
//! `.well-known` answers are cached as the spec recommends: as long as
//! their `Cache-Control: max-age` says, 24 hours without one, 48 at most,
//! and an error for an hour. DNS answers are cached by the resolver for
//! their TTL. `--dns-server` points the resolver at another name server
//! than the system's (a test's, or a deployment's split DNS).

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The port of a server whose name and delegation give none.
const DEFAULT_PORT: u16 = 8448;

/// How long a `.well-known` answer is kept without `Cache-Control`, at
/// most, and after an error (the spec's recommendations).
const WELL_KNOWN_DEFAULT: Duration = Duration::from_secs(24 * 60 * 60);
const WELL_KNOWN_MAX: Duration = Duration::from_secs(48 * 60 * 60);
const WELL_KNOWN_ERROR: Duration = Duration::from_secs(60 * 60);

/// Where requests for one server go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The host in the request URL, whose certificate the server presents.
    pub host: String,
    pub port: u16,
    /// The host whose addresses the connection goes to, when an SRV record
    /// named one (else `host`'s own).
    pub connect_to: Option<String>,
}

impl Located {
    fn direct(host: &str, port: u16) -> Located {
        Located {
            host: host.to_owned(),
            port,
            connect_to: None,
        }
    }

    /// The base URL of the server's federation API.
    pub fn base_url(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("https://[{ip}]:{}", self.port),
            _ => format!("https://{}:{}", self.host, self.port),
        }
    }
}

/// What the steps ask of the outside world.
pub trait Lookups {
    /// The `m.server` of `https://<host>/.well-known/matrix/server`, when
    /// the answer is valid.
    fn well_known(&self, host: &str) -> impl Future<Output = Option<String>> + Send;
    /// The SRV record to use for `name` (`_service._tcp.host`): its target
    /// and port.
    fn srv(&self, name: &str) -> impl Future<Output = Option<(String, u16)>> + Send;
}

/// A server name's host (IPv6 literals without their brackets) and port.
fn split_host_port(name: &str) -> (&str, Option<u16>) {
    let parts = crate::server_name::split(name);
    (parts.host, parts.port)
}

fn is_ip_literal(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// The SRV record for `host`: `_matrix-fed._tcp.` first, then the
/// deprecated `_matrix._tcp.`.
async fn srv_of(host: &str, lookups: &impl Lookups) -> Option<(String, u16)> {
    match lookups.srv(&format!("_matrix-fed._tcp.{host}")).await {
        Some(found) => Some(found),
        None => lookups.srv(&format!("_matrix._tcp.{host}")).await,
    }
}

/// Where `server_name`'s federation API is, by the spec's steps.
pub async fn locate(server_name: &str, lookups: &impl Lookups) -> Located {
    let (host, port) = split_host_port(server_name);
    if is_ip_literal(host) {
        return Located::direct(host, port.unwrap_or(DEFAULT_PORT));
    }
    if let Some(port) = port {
        return Located::direct(host, port);
    }
    if let Some(delegated) = lookups.well_known(host).await {
        let (delegated_host, delegated_port) = split_host_port(&delegated);
        if is_ip_literal(delegated_host) {
            return Located::direct(delegated_host, delegated_port.unwrap_or(DEFAULT_PORT));
        }
        if let Some(port) = delegated_port {
            return Located::direct(delegated_host, port);
        }
        if let Some((target, port)) = srv_of(delegated_host, lookups).await {
            return Located {
                host: delegated_host.to_owned(),
                port,
                connect_to: Some(target),
            };
        }
        return Located::direct(delegated_host, DEFAULT_PORT);
    }
    if let Some((target, port)) = srv_of(host, lookups).await {
        return Located {
            host: host.to_owned(),
            port,
            connect_to: Some(target),
        };
    }
    Located::direct(host, DEFAULT_PORT)
}

/// Server discovery over real DNS and HTTPS, with the federation client
/// that connects where it found.
pub struct Discovery {
    dns: TokioResolver,
    /// HTTPS for `.well-known`, to the host's own addresses.
    well_known_http: reqwest::Client,
    well_known_cache: Mutex<HashMap<String, (Option<String>, Instant)>>,
    /// Hosts whose connections go to an SRV target: host → target.
    srv_targets: Arc<Mutex<HashMap<String, String>>>,
    /// HTTPS to other servers' federation APIs.
    http: reqwest::Client,
}

impl Discovery {
    /// `name_server`: the DNS server to ask instead of the system's.
    /// `verify_certificates`: off only for test setups (self-signed peers).
    pub fn new(name_server: Option<SocketAddr>, verify_certificates: bool) -> Result<Discovery, String> {
        let dns = match name_server {
            Some(address) => {
                let mut server = NameServerConfig::udp(address.ip());
                let mut udp = ConnectionConfig::udp();
                udp.port = address.port();
                server.connections = vec![udp];
                let config = ResolverConfig::from_parts(None, vec![], vec![server]);
                TokioResolver::builder_with_config(config, Default::default()).build()
            }
            None => match TokioResolver::builder_tokio() {
                Ok(builder) => builder.build(),
                // No usable /etc/resolv.conf (a sandbox, a container
                // without DNS): only IP literals and names with ports
                // can be reached, and each lookup fails at once.
                Err(e) => {
                    tracing::warn!("no system DNS configuration ({e}); other servers' names will not resolve");
                    let none = ResolverConfig::from_parts(None, vec![], vec![]);
                    TokioResolver::builder_with_config(none, Default::default()).build()
                }
            },
        }
        .map_err(|e| format!("setting up DNS: {e}"))?;
        let srv_targets = Arc::new(Mutex::new(HashMap::new()));
        let client = |resolver: Resolver, redirects: reqwest::redirect::Policy, timeout: u64| {
            reqwest::Client::builder()
                .danger_accept_invalid_certs(!verify_certificates)
                .redirect(redirects)
                .timeout(Duration::from_secs(timeout))
                .dns_resolver(resolver)
                .build()
                .map_err(|e| format!("making an HTTP client: {e}"))
        };
        let plain = Resolver {
            dns: dns.clone(),
            srv_targets: None,
        };
        let federation = Resolver {
            dns: dns.clone(),
            srv_targets: Some(srv_targets.clone()),
        };
        Ok(Discovery {
            // The spec asks that `.well-known` redirects be followed, without loops.
            well_known_http: client(plain, reqwest::redirect::Policy::limited(5), 10)?,
            http: client(federation, reqwest::redirect::Policy::none(), 30)?,
            dns,
            well_known_cache: Mutex::new(HashMap::new()),
            srv_targets,
        })
    }

    /// The HTTPS client for requests to other servers' federation APIs.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The base URL (`https://host:port`) of `server_name`'s federation
    /// API; when an SRV record delegated it, connections to that host go
    /// to the record's target from now on.
    pub async fn base_url(&self, server_name: &str) -> String {
        let located = locate(server_name, self).await;
        if let Some(target) = &located.connect_to {
            lock(&self.srv_targets).insert(located.host.clone(), target.clone());
        }
        located.base_url()
    }

    async fn fetch_well_known(&self, host: &str) -> (Option<String>, Duration) {
        let url = format!("https://{host}/.well-known/matrix/server");
        let Ok(response) = self.well_known_http.get(&url).send().await else {
            return (None, WELL_KNOWN_ERROR);
        };
        if !response.status().is_success() {
            return (None, WELL_KNOWN_ERROR);
        }
        let keep = max_age(response.headers())
            .unwrap_or(WELL_KNOWN_DEFAULT)
            .min(WELL_KNOWN_MAX);
        let Ok(bytes) = response.bytes().await else {
            return (None, WELL_KNOWN_ERROR);
        };
        let body: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        match body.as_ref().and_then(|b| b.get("m.server")).and_then(|s| s.as_str()) {
            Some(server) if !server.is_empty() => (Some(server.to_owned()), keep),
            _ => (None, WELL_KNOWN_ERROR),
        }
    }
}

impl Lookups for Discovery {
    async fn well_known(&self, host: &str) -> Option<String> {
        if let Some((answer, until)) = lock(&self.well_known_cache).get(host) {
            if *until > Instant::now() {
                return answer.clone();
            }
        }
        let (answer, keep) = self.fetch_well_known(host).await;
        lock(&self.well_known_cache).insert(host.to_owned(), (answer.clone(), Instant::now() + keep));
        answer
    }

    /// The record of the lowest priority and, among those, the highest
    /// weight; a target of `.` says the service is not offered there.
    async fn srv(&self, name: &str) -> Option<(String, u16)> {
        let lookup = self.dns.srv_lookup(format!("{name}.")).await.ok()?;
        let best = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(srv),
                _ => None,
            })
            .min_by_key(|srv| (srv.priority, std::cmp::Reverse(srv.weight)))?;
        let target = best.target.to_string();
        let target = target.trim_end_matches('.');
        (!target.is_empty()).then(|| (target.to_owned(), best.port))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `max-age` of a `Cache-Control` header, if there is one.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    value
        .split(',')
        .filter_map(|directive| directive.trim().strip_prefix("max-age="))
        .find_map(|seconds| seconds.trim().parse().ok())
        .map(Duration::from_secs)
}

/// The DNS resolver of the HTTP clients: host names through hickory (the
/// system's configuration or `--dns-server`), and for the federation
/// client, a host an SRV record delegated through its target's addresses.
#[derive(Clone)]
struct Resolver {
    dns: TokioResolver,
    srv_targets: Option<Arc<Mutex<HashMap<String, String>>>>,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let target = self
            .srv_targets
            .as_ref()
            .and_then(|targets| lock(targets).get(&host).cloned())
            .unwrap_or(host);
        let dns = self.dns.clone();
        Box::pin(async move {
            let found = dns.lookup_ip(format!("{target}.")).await?;
            // The port is the URL's: reqwest puts it in.
            let addresses: Vec<SocketAddr> = found.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers from tables, and a log of what was asked.
    #[derive(Default)]
    struct Fake {
        well_known: HashMap<&'static str, &'static str>,
        srv: HashMap<&'static str, (&'static str, u16)>,
        asked: Mutex<Vec<String>>,
    }

    impl Lookups for Fake {
        async fn well_known(&self, host: &str) -> Option<String> {
            self.asked.lock().unwrap().push(format!("well-known {host}"));
            self.well_known.get(host).map(|s| s.to_string())
        }
        async fn srv(&self, name: &str) -> Option<(String, u16)> {
            self.asked.lock().unwrap().push(format!("srv {name}"));
            self.srv.get(name).map(|(t, p)| (t.to_string(), *p))
        }
    }

    fn located(host: &str, port: u16, connect_to: Option<&str>) -> Located {
        Located {
            host: host.to_owned(),
            port,
            connect_to: connect_to.map(str::to_owned),
        }
    }

    async fn locate_with(name: &str, fake: &Fake) -> (Located, Vec<String>) {
        let found = locate(name, fake).await;
        (found, fake.asked.lock().unwrap().clone())
    }

    #[tokio::test]
    async fn ip_literals_and_explicit_ports_need_no_lookup() {
        let fake = Fake::default();
        for (name, host, port) in [
            ("127.0.0.1:1234", "127.0.0.1", 1234),
            ("127.0.0.1", "127.0.0.1", 8448),
            ("[::1]", "::1", 8448),
            ("[::1]:99", "::1", 99),
            ("example.org:8448", "example.org", 8448),
        ] {
            assert_eq!(locate(name, &fake).await, located(host, port, None), "{name}");
        }
        assert!(fake.asked.lock().unwrap().is_empty());
        assert_eq!(located("::1", 99, None).base_url(), "https://[::1]:99");
    }

    #[tokio::test]
    async fn a_well_known_delegation_is_followed_once() {
        let fake = Fake {
            well_known: HashMap::from([
                ("ip.example", "10.1.2.3"),
                ("port.example", "matrix.port.example:443"),
                ("srv.example", "matrix.srv.example"),
                ("plain.example", "matrix.plain.example"),
                ("chain.example", "ip.example"),
            ]),
            srv: HashMap::from([("_matrix-fed._tcp.matrix.srv.example", ("hosts.srv.example", 8000))]),
            ..Fake::default()
        };
        assert_eq!(locate("ip.example", &fake).await, located("10.1.2.3", 8448, None));
        assert_eq!(
            locate("port.example", &fake).await,
            located("matrix.port.example", 443, None)
        );
        assert_eq!(
            locate("srv.example", &fake).await,
            located("matrix.srv.example", 8000, Some("hosts.srv.example")),
            "the certificate is the delegated name's, the connection the target's"
        );
        let (found, asked) = locate_with("plain.example", &Fake { ..fake }).await;
        assert_eq!(found, located("matrix.plain.example", 8448, None));
        assert!(asked.ends_with(&[
            "well-known plain.example".to_owned(),
            "srv _matrix-fed._tcp.matrix.plain.example".to_owned(),
            "srv _matrix._tcp.matrix.plain.example".to_owned(),
        ]));
    }

    #[tokio::test]
    async fn without_well_known_the_names_own_srv_records_then_8448() {
        let fake = Fake {
            srv: HashMap::from([
                ("_matrix-fed._tcp.new.example", ("fed.new.example", 8001)),
                ("_matrix._tcp.new.example", ("old.new.example", 8002)),
                ("_matrix._tcp.old.example", ("legacy.old.example", 8003)),
            ]),
            ..Fake::default()
        };
        assert_eq!(
            locate("new.example", &fake).await,
            located("new.example", 8001, Some("fed.new.example")),
            "_matrix-fed before the deprecated _matrix"
        );
        assert_eq!(
            locate("old.example", &fake).await,
            located("old.example", 8003, Some("legacy.old.example"))
        );
        assert_eq!(locate("none.example", &fake).await, located("none.example", 8448, None));
    }

    #[test]
    fn host_and_port_are_split_as_server_names_write_them() {
        assert_eq!(split_host_port("example.org"), ("example.org", None));
        assert_eq!(split_host_port("example.org:80"), ("example.org", Some(80)));
        assert_eq!(split_host_port("[2001:db8::1]:8448"), ("2001:db8::1", Some(8448)));
        assert_eq!(split_host_port("[2001:db8::1]"), ("2001:db8::1", None));
        assert_eq!(split_host_port("example.org:port"), ("example.org:port", None));
    }

    #[test]
    fn cache_control_max_age_is_read() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(max_age(&headers), None);
        headers.insert(reqwest::header::CACHE_CONTROL, "public, max-age=3600".parse().unwrap());
        assert_eq!(max_age(&headers), Some(Duration::from_secs(3600)));
    }
}
