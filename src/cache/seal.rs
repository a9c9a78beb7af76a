//! Encryption at rest of cached bodies (`encrypt = true` on a route, AWS's `cacheDataEncrypted`):
//! ChaCha20-Poly1305 with a key generated from the OS at first use that never leaves the process
//! (entries do not outlive it either), and a random 96-bit nonce per entry.
//!
//! Cost: a sealed hit decrypts into a new buffer — the one allocation a hit makes, and only on
//! routes that ask for encryption.

use std::sync::OnceLock;

use bytes::Bytes;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

const NONCE_BYTES: usize = 12;

fn cipher() -> &'static ChaCha20Poly1305 {
    static CIPHER: OnceLock<ChaCha20Poly1305> = OnceLock::new();
    CIPHER.get_or_init(|| ChaCha20Poly1305::new(&ChaCha20Poly1305::generate_key(&mut OsRng)))
}

/// `nonce || ciphertext || tag`.
pub fn seal(plain: &[u8]) -> Option<Bytes> {
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher().encrypt(&nonce, plain).ok()?;
    let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Some(out.into())
}

pub fn open(sealed: &[u8]) -> Option<Bytes> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    cipher().decrypt(Nonce::from_slice(nonce), body).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_tamper_detection() {
        let sealed = super::seal(b"secret body").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "no plaintext at rest");
        assert_eq!(&super::open(&sealed).unwrap()[..], b"secret body");
        let mut bad = sealed.to_vec();
        bad[20] ^= 1;
        assert!(super::open(&bad).is_none());
        assert!(super::open(b"short").is_none());
    }
}
