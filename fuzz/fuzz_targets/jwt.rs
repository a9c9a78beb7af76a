#![no_main]
//! Tokens and key sets, any bytes: never a panic. As a token, split and verified against a fixed
//! key set (any answer but a pass: nothing here is signed by its key); as a JWKS document,
//! parsed (every key kept can verify).
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portico::auth::jwt::keys::{self, Alg, Key};
use portico::auth::jwt::token::{self, Rules};

fn keys() -> &'static [Key] {
    static KEYS: OnceLock<Vec<Key>> = OnceLock::new();
    KEYS.get_or_init(|| {
        // P-256 test key from RFC 7515 appendix A.3.
        let jwks = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a3","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
        keys::parse_set(jwks, &Alg::ALL).expect("the RFC's key").0
    })
}

fuzz_target!(|data: &[u8]| {
    let audiences = vec!["app".to_owned()];
    let rules =
        Rules { issuer: "https://id", audiences: &audiences, allowed: &Alg::ALL, leeway_s: 5, now_s: 1_800_000_000 };
    if let Ok(parts) = token::split(data) {
        assert!(token::verify(&parts, keys(), &rules).is_err(), "nothing fuzzed is signed by the RFC's key");
    }
    let _ = portico::auth::jwt::strip_bearer(data);
    if let Ok((set, _)) = keys::parse_set(data, &Alg::ALL) {
        for key in set {
            let _ = key.verify(data, data);
        }
    }
});
