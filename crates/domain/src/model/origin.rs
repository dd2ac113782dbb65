//! Web origins (`scheme://host:port`): the main origin, the report origin that must differ from it, the `Origin`
//! and `Referer` of a browser's request and the entries of a CORS list are all compared as origins. One parser, so
//! two places cannot disagree on what `https://Hub.Example.com` and `https://hub.example.com:443` are (the same).

use std::fmt;

/// An `http` or `https` origin, normalised for comparison: lower case, the scheme's default port made explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of a URL (`scheme://host[:port]`, anything after the authority ignored); `None` for another
    /// scheme, a missing host or a port that is not a number (`null`, `file:`, a typo).
    pub fn parse(url: &str) -> Option<Self> {
        let (scheme, rest) = url.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
        // Credentials before the host are no part of the origin (and never sent by a browser in `Origin`).
        let authority = authority.rsplit_once('@').map_or(authority.as_str(), |(_, host)| host).to_owned();
        // An IPv6 literal keeps its colons inside brackets.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host.to_owned(), port.parse().ok()?),
            _ => (authority, default_port),
        };
        (!host.is_empty()).then_some(Self { scheme, host, port })
    }

    /// The host name or IP literal (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default when none was written.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The same scheme and host on another port (the report listener beside the main one).
    #[must_use]
    pub fn with_port(&self, port: u16) -> Self {
        Self { port, ..self.clone() }
    }

    /// `scheme://host[:port]`, without the scheme's default port: what a browser sends as `Origin`.
    pub fn to_url(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.scheme.as_str(), self.port) {
            ("http", 80) | ("https", 443) => write!(f, "{}://{}", self.scheme, self.host),
            _ => write!(f, "{}://{}:{}", self.scheme, self.host, self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_with_default_ports_and_case_folded() {
        assert_eq!(Origin::parse("HTTPS://Hub.Example.com"), Origin::parse("https://hub.example.com:443/x?y#z"));
        assert_ne!(Origin::parse("http://hub:8080"), Origin::parse("https://hub:8080"));
        assert_eq!(Origin::parse("http://[::1]:8081").map(|o| o.port()), Some(8081));
        assert_eq!(Origin::parse("http://[::1]").map(|o| o.to_url()).as_deref(), Some("http://[::1]"));
        assert_eq!(Origin::parse("https://Hub.Example.com:8443/x").unwrap().to_url(), "https://hub.example.com:8443");
        assert_eq!(Origin::parse("https://user:pw@hub.example.com").unwrap().to_url(), "https://hub.example.com");
        assert_eq!(Origin::parse("http://hub:8080").unwrap().with_port(8081).to_url(), "http://hub:8081");
        for bad in ["ftp://x", "null", "", "https://", "http://hub:port", "hub.example.com"] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }
}
