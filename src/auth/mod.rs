//! Authentication steps: the mutual-TLS domain check ([`mtls`]) and API keys ([`api_key`]).
//! Authorizers (JWT, Lambda-style, SigV4) come here too, and leave who the caller is in the
//! request context's identity.

pub mod api_key;
pub mod authorize;
pub mod function;
pub mod iam;
pub mod jwt;
pub mod mtls;
pub mod policy;

/// Compares secrets in constant time (the length is not secret): aws-lc's `CRYPTO_memcmp`, which
/// the compiler cannot turn into an early exit the way it may a hand-written loop.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_by_every_byte_and_length() {
        assert!(super::constant_time_eq(b"partner-key", b"partner-key"));
        assert!(!super::constant_time_eq(b"partner-key", b"partner-kez"));
        assert!(!super::constant_time_eq(b"partner-key", b"partner-ke"));
        assert!(!super::constant_time_eq(b"", b"x"));
        assert!(super::constant_time_eq(b"", b""));
    }
}
