//! Absolute `http://` and `https://` URLs of the control plane's own fetches (a JWT
//! authorizer's `issuer` and `jwks_uri`), parsed strictly: no user info, no fragment, no
//! whitespace or non-ASCII. Pure.

use std::net::IpAddr;

/// A URL the fetcher can call, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// `http(s)://host[:port][/path]`; `None` for anything else (user info, fragments, spaces).
    pub fn parse(text: &str) -> Option<Url> {
        let (tls, rest) = match text.split_once("://")? {
            ("https", rest) => (true, rest),
            ("http", rest) => (false, rest),
            _ => return None,
        };
        if text.bytes().any(|b| b <= b' ' || b == b'#' || b >= 0x7f) {
            return None;
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, _)) if !h.ends_with(']') && h.contains(':') => (authority, None),
            Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
            None => (authority, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return None;
        }
        let port = port.unwrap_or(if tls { 443 } else { 80 });
        Some(Url { tls, host: host.to_ascii_lowercase(), port, path: path.to_owned() })
    }

    /// The host is loopback: plain HTTP to it stays on the machine.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match (self.tls, self.port) {
            (true, 443) | (false, 80) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Url;

    #[test]
    fn urls_parse_strictly() {
        let u = Url::parse("https://Issuer.example.com/.well-known/jwks.json").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (true, "issuer.example.com", 443, "/.well-known/jwks.json")
        );
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.path.as_str()), (8080, "/"));
        assert!(u.is_loopback());
        let u = Url::parse("http://[::1]:9/k").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert!(Url::parse("ftp://x/").is_none());
        assert!(Url::parse("https://user@x/").is_none());
        assert!(Url::parse("https://x:99999/").is_none());
        assert!(Url::parse("https://x/a b").is_none());
        assert!(Url::parse("https:///a").is_none());
    }
}
