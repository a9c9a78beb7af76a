//! Cache keys as AWS forms them: the stage (each stage has its own store), the method, the path the
//! router saw (so path parameters are always in it, and a custom domain and the default endpoint
//! share entries), and only the query parameters and headers the route declares — undeclared ones
//! neither split nor miss entries.
//!
//! The key is built into a reused buffer (no allocation once it has grown) and hashed with a
//! per-process random seed; the store compares the full key on every hit, so a hash collision is
//! a miss, never a wrong response.

use std::sync::OnceLock;

use crate::http::head::RequestHead;
use crate::table::RouteCache;

/// Separates the parts of a key; cannot appear in a request line or header value we accept.
const SEP: u8 = 0;

fn hasher() -> &'static ahash::RandomState {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new)
}

pub fn hash(bytes: &[u8]) -> u64 {
    hasher().hash_one(bytes)
}

/// Builds the key of `head` into `out`; returns its hash and the hash of the path alone.
pub fn build(out: &mut Vec<u8>, head: &RequestHead, routed_path: &[u8], cache: &RouteCache) -> (u64, u64) {
    out.clear();
    out.extend_from_slice(head.method_bytes());
    out.push(SEP);
    out.extend_from_slice(routed_path);
    for name in &cache.key_query {
        out.push(SEP);
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        for (n, v) in crate::http::query::pairs(head.query()) {
            if n == name.as_bytes() {
                out.extend_from_slice(v);
                out.push(b'&');
            }
        }
    }
    for name in &cache.key_headers {
        out.push(SEP);
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for v in head.values(name.as_bytes()) {
            out.extend_from_slice(v);
            out.push(b',');
        }
    }
    (hash(out), hash(routed_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::{HeadLimits, parse};

    fn head(raw: &str) -> RequestHead {
        let limits = HeadLimits { max_header_bytes: 8192, max_header_count: 64, max_uri_bytes: 4096 };
        let bytes = bytes::Bytes::from(raw.to_owned());
        let index = parse(&bytes, &limits).unwrap().unwrap();
        index.into_head(bytes)
    }

    fn key(raw: &str, query: &[&str], headers: &[&str]) -> Vec<u8> {
        let cache = RouteCache {
            ttl_ms: 1000,
            key_query: query.iter().map(|s| s.to_string()).collect(),
            key_headers: headers.iter().map(|s| s.to_string()).collect(),
            methods: vec![],
            statuses: vec![],
            max_entry_bytes: 1,
            encrypt: false,
        };
        let h = head(raw);
        let mut out = Vec::new();
        build(&mut out, &h, h.path(), &cache);
        out
    }

    #[test]
    fn declared_parameters_split_entries_and_others_do_not() {
        let a = key("GET /users?type=admin&department=A HTTP/1.1\r\nHost: x\r\n\r\n", &["type"], &[]);
        let b = key("GET /users?department=B&type=admin HTTP/1.1\r\nHost: x\r\n\r\n", &["type"], &[]);
        let c = key("GET /users?type=user HTTP/1.1\r\nHost: x\r\n\r\n", &["type"], &[]);
        assert_eq!(a, b, "AWS's example: undeclared `department` shares the entry");
        assert_ne!(a, c);
        let en = key("GET /p HTTP/1.1\r\nHost: x\r\nAccept-Language: en\r\n\r\n", &[], &["accept-language"]);
        let fr = key("GET /p HTTP/1.1\r\nHost: x\r\nAccept-Language: fr\r\n\r\n", &[], &["accept-language"]);
        let other = key("GET /p HTTP/1.1\r\nHost: y\r\nAccept-Language: en\r\n\r\n", &[], &["accept-language"]);
        assert_ne!(en, fr);
        assert_eq!(en, other, "Host is not in the key");
        assert_ne!(
            key("GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n", &[], &[]),
            key("GET /p/2 HTTP/1.1\r\nHost: x\r\n\r\n", &[], &[])
        );
    }
}
