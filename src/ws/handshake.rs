//! The opening handshake (RFC 6455 §4.2): whether a request asks to upgrade, whether it does so
//! correctly, and the `101 Switching Protocols` answer.
//!
//! Must not: decide whether the connection is allowed (`$connect` does). Cost: a few header
//! lookups; SHA-1 (aws-lc-rs) of 60 bytes for the accept key.

use base64::Engine;

use crate::http::Method;
use crate::http::head::RequestHead;

/// The GUID every accept key is hashed with (§1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A valid upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upgrade<'a> {
    /// `Sec-WebSocket-Key`, as sent.
    pub key: &'a [u8],
    /// `Sec-WebSocket-Protocol`, as sent (comma-separated), if any.
    pub protocols: Option<&'a [u8]>,
}

/// Why an upgrade request is refused: the HTTP status and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a WebSocket upgrade at all: a plain request on a WebSocket API (AWS answers 426).
    NotUpgrade,
    /// An upgrade with a missing or malformed part (400).
    Malformed(&'static str),
    /// A version other than 13 (426 with `Sec-WebSocket-Version: 13`).
    Version,
}

/// Whether `list` (a comma-separated header value) holds `token`, case-insensitively.
fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Checks an upgrade request.
pub fn check(head: &RequestHead) -> Result<Upgrade<'_>, Refusal> {
    let upgrade = head.values(b"upgrade").any(|v| has_token(v, b"websocket"));
    if !upgrade {
        return Err(Refusal::NotUpgrade);
    }
    if head.method != Method::Get || head.version_minor < 1 {
        return Err(Refusal::Malformed("a WebSocket upgrade must be a GET over HTTP/1.1"));
    }
    if !head.values(b"connection").any(|v| has_token(v, b"upgrade")) {
        return Err(Refusal::Malformed("Connection: Upgrade missing"));
    }
    if head.only(b"sec-websocket-version").map(<[u8]>::trim_ascii) != Some(b"13") {
        return Err(Refusal::Version);
    }
    let key = head
        .only(b"sec-websocket-key")
        .map(<[u8]>::trim_ascii)
        .ok_or(Refusal::Malformed("Sec-WebSocket-Key missing"))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if decoded.map(|k| k.len()) != Ok(16) {
        return Err(Refusal::Malformed("Sec-WebSocket-Key is not 16 bytes in base64"));
    }
    Ok(Upgrade { key, protocols: head.first(b"sec-websocket-protocol") })
}

/// `Sec-WebSocket-Accept` for `key`: base64 of SHA-1 of the key and the GUID.
pub fn accept_key(key: &[u8]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key);
    ctx.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
}

/// Whether the client offered `protocol` in `Sec-WebSocket-Protocol`.
pub fn offered(upgrade: &Upgrade<'_>, protocol: &[u8]) -> bool {
    upgrade.protocols.is_some_and(|p| has_token(p, protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> RequestHead {
        let limits =
            crate::http::head::HeadLimits { max_header_bytes: 8192, max_header_count: 100, max_uri_bytes: 4096 };
        let index = crate::http::head::parse(text.as_bytes(), &limits).expect("valid").expect("whole");
        index.into_head(bytes::Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn accept_key_is_the_rfcs() {
        // RFC 6455 §1.3's example.
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn checks_the_request() {
        let ok = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                  Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
        let h = head(ok);
        let u = check(&h).expect("valid");
        assert_eq!(u.key, b"dGhlIHNhbXBsZSBub25jZQ==");
        assert!(offered(&u, b"superchat") && !offered(&u, b"super"));
        assert_eq!(check(&head("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), Err(Refusal::NotUpgrade));
        let bad = [
            ok.replace("GET", "POST"),
            ok.replace("keep-alive, Upgrade", "keep-alive"),
            ok.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
            ok.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
        ];
        for b in bad {
            assert!(matches!(check(&head(&b)), Err(Refusal::Malformed(_))), "{b}");
        }
        assert_eq!(check(&head(&ok.replace("Version: 13", "Version: 8"))), Err(Refusal::Version));
    }
}
