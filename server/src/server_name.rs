//! A server name split into its host and port (the spec's grammar:
//! `hostname`, an IPv4 literal, or an IPv6 literal in brackets, then an
//! optional `:port`). One parser for the places that need the host:
//! certificates, discovery and server ACLs.

/// The parts of a server name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort<'a> {
    /// The host, an IPv6 literal without its brackets.
    pub host: &'a str,
    /// The host as written in the name (an IPv6 literal in brackets).
    pub written: &'a str,
    pub port: Option<u16>,
}

/// Splits `name`; a name whose port is not a number is all host.
pub fn split(name: &str) -> HostPort<'_> {
    let whole = HostPort {
        host: name,
        written: name,
        port: None,
    };
    if let Some(rest) = name.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return whole;
        };
        let written = &name[..host.len() + 2];
        return match after.strip_prefix(':').map(str::parse) {
            None if after.is_empty() => HostPort {
                host,
                written,
                port: None,
            },
            Some(Ok(port)) => HostPort {
                host,
                written,
                port: Some(port),
            },
            _ => whole,
        };
    }
    match name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => HostPort {
                host,
                written: host,
                port: Some(port),
            },
            Err(_) => whole,
        },
        _ => whole,
    }
}

#[cfg(test)]
mod tests {
    use super::{split, HostPort};

    #[test]
    fn names_split_as_the_grammar_says() {
        let parts = |name| {
            let HostPort { host, written, port } = split(name);
            (host, written, port)
        };
        assert_eq!(parts("example.org"), ("example.org", "example.org", None));
        assert_eq!(parts("example.org:8448"), ("example.org", "example.org", Some(8448)));
        assert_eq!(parts("1.2.3.4:80"), ("1.2.3.4", "1.2.3.4", Some(80)));
        assert_eq!(parts("[::1]"), ("::1", "[::1]", None));
        assert_eq!(parts("[::1]:8448"), ("::1", "[::1]", Some(8448)));
        assert_eq!(
            parts("example.org:port"),
            ("example.org:port", "example.org:port", None)
        );
        assert_eq!(parts("[::1"), ("[::1", "[::1", None));
        assert_eq!(parts("[::1]x"), ("[::1]x", "[::1]x", None));
    }
}
