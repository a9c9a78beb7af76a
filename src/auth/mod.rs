//! Authentication steps: the mutual-TLS domain check ([`mtls`]) and API keys ([`api_key`]).
//! Authorizers (JWT, Lambda-style, SigV4) come here too, and leave who the caller is in the
//! request context's identity.

pub mod api_key;
pub mod mtls;

/// Compares without an early exit on the first differing byte (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
