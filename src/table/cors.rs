//! An API's CORS configuration (AWS's `corsConfiguration`), as the table holds it: plain data
//! and the origin match, which is pure. The gateway answers preflights and adds the headers
//! (`crate::cors`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<Origin>,
    /// Upper-case methods, or `*` (the preflight's requested method is echoed).
    pub allow_methods: Vec<String>,
    /// Lower-case header names, or `*` (the preflight's requested headers are echoed).
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age`; `None` = not sent.
    pub max_age_s: Option<u32>,
    pub allow_credentials: bool,
}

/// An allowed origin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Origin {
    /// `*`: any origin (never with credentials).
    Any,
    /// `https://app.example.com[:port]`, lower-case.
    Exact(String),
    /// `https://*.example.com`: `scheme://` and `.example.com[:port]`, lower-case; any subdomain,
    /// not the domain itself.
    Subdomains { scheme: String, suffix: String },
}

impl Cors {
    /// Whether `origin` (the request's `Origin` header) is allowed, and whether the answer is `*`
    /// (rather than the origin echoed).
    pub fn allows(&self, origin: &[u8]) -> Option<Allowed> {
        let origin_lower = |s: &str| origin.eq_ignore_ascii_case(s.as_bytes());
        for o in &self.allow_origins {
            match o {
                Origin::Any => return Some(Allowed::Any),
                Origin::Exact(e) if origin_lower(e) => return Some(Allowed::Echo),
                Origin::Subdomains { scheme, suffix } => {
                    let ok = origin.len() > scheme.len() + suffix.len()
                        && origin[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
                        && origin[origin.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
                        && origin[scheme.len()..origin.len() - suffix.len()]
                            .iter()
                            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                    if ok {
                        return Some(Allowed::Echo);
                    }
                }
                Origin::Exact(_) => {}
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Answer `Access-Control-Allow-Origin: *`.
    Any,
    /// Answer the request's origin (and `Vary: Origin`).
    Echo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_exact_wildcard_and_subdomains() {
        let cors = Cors {
            allow_origins: vec![
                Origin::Exact("https://app.example.com".into()),
                Origin::Subdomains { scheme: "https://".into(), suffix: ".example.org".into() },
            ],
            ..Cors::default()
        };
        assert_eq!(cors.allows(b"https://app.example.com"), Some(Allowed::Echo));
        assert_eq!(cors.allows(b"HTTPS://APP.example.com"), Some(Allowed::Echo));
        assert_eq!(cors.allows(b"https://a.example.org"), Some(Allowed::Echo));
        assert_eq!(cors.allows(b"https://a.b.example.org"), Some(Allowed::Echo));
        for no in [
            &b"https://example.org"[..],
            b"http://a.example.org",
            b"https://evil.com/.example.org",
            b"https://evil.com?.example.org",
            b"https://app.example.com.evil.com",
            b"https://.example.org",
            b"null",
            b"",
        ] {
            assert_eq!(cors.allows(no), None, "{}", String::from_utf8_lossy(no));
        }
        let any = Cors { allow_origins: vec![Origin::Any], ..Cors::default() };
        assert_eq!(any.allows(b"https://whoever"), Some(Allowed::Any));
    }
}
