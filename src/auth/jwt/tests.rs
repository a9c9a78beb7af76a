//! Tokens signed here with aws-lc (ES256, EdDSA) against key sets parsed from JWK JSON: the
//! signature and claims rules without sockets. RSA and the forgeries are proven over sockets with
//! PyJWT (`tests/gateway/jwt.rs`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;

use super::keys::{self, Alg};
use super::token::{self, Rules};

const NOW: u64 = 1_800_000_000;

struct Signer {
    es: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

impl Signer {
    fn new() -> Signer {
        Signer {
            es: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
            ed: Ed25519KeyPair::generate().unwrap(),
        }
    }

    fn jwks(&self) -> String {
        let point = self.es.public_key().as_ref();
        json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": B64.encode(self.ed.public_key().as_ref())},
            {"kty": "oct", "kid": "secret", "k": B64.encode(b"hmac secret")},
            {"kty": "RSA", "kid": "short", "n": B64.encode([0xc1u8; 64]), "e": "AQAB"},
            "not even an object"
        ]})
        .to_string()
    }

    fn token(&self, alg: &str, kid: &str, claims: serde_json::Value) -> String {
        let header = B64.encode(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string());
        let input = format!("{header}.{}", B64.encode(claims.to_string()));
        let sig = match alg {
            "ES256" => self.es.sign(&SystemRandom::new(), input.as_bytes()).unwrap().as_ref().to_vec(),
            _ => self.ed.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", B64.encode(sig))
    }
}

fn claims() -> serde_json::Value {
    json!({"iss": "https://id.example.com", "aud": "app", "sub": "u1", "exp": NOW + 60, "iat": NOW - 1,
           "scope": "read write", "n": 5, "o": {"a": [1]}})
}

fn rules(allowed: &[Alg]) -> Rules<'_> {
    static AUD: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| vec!["app".into()]);
    Rules { issuer: "https://id.example.com", audiences: &AUD, allowed, leeway_s: 5, now_s: NOW }
}

fn check(set: &[keys::Key], token: &str, allowed: &[Alg]) -> Result<token::Verified, token::Refusal> {
    let parts = token::split(token.as_bytes())?;
    token::verify(&parts, set, &rules(allowed))
}

#[test]
fn key_sets_keep_only_keys_that_can_verify() {
    let s = Signer::new();
    let (set, skipped) = keys::parse_set(s.jwks().as_bytes(), &Alg::ALL).unwrap();
    let kids: Vec<_> = set.iter().map(|k| (k.kid.as_deref().unwrap(), k.alg)).collect();
    assert_eq!(kids, [("ec", Alg::Es256), ("ed", Alg::EdDsa)]);
    assert_eq!(skipped, 3, "the HMAC secret, the short RSA key and the non-object");
    assert!(keys::parse_set(b"{\"nope\":1}", &Alg::ALL).is_err());
    // A set limited to RSA keeps none of them.
    assert!(keys::parse_set(s.jwks().as_bytes(), &[Alg::Rs256]).unwrap().0.is_empty());
}

#[test]
fn signatures_verify_with_the_named_key_only() {
    let s = Signer::new();
    let (set, _) = keys::parse_set(s.jwks().as_bytes(), &Alg::ALL).unwrap();
    for (alg, kid) in [("ES256", "ec"), ("EdDSA", "ed")] {
        let v = check(&set, &s.token(alg, kid, claims()), &Alg::ALL).expect(alg);
        assert_eq!(v.principal.as_deref(), Some("u1"));
        assert_eq!(v.scopes, ["read", "write"]);
        assert_eq!(v.claim("n"), Some("5"));
        assert_eq!(v.claim("o"), Some(r#"{"a":[1]}"#));
        assert_eq!((v.expires_s, v.not_before_s), (NOW + 65, NOW - 6));
    }
    // The EdDSA signature under the EC key's kid, an algorithm not allowed, an unknown kid.
    let wrong = s.token("EdDSA", "ec", claims());
    assert_eq!(check(&set, &wrong, &Alg::ALL).unwrap_err().description, "the token's key is unknown");
    let e = check(&set, &s.token("ES256", "ec", claims()), &[Alg::Rs256]).unwrap_err();
    assert_eq!(e.description, "the token's signing method is invalid");
    assert!(check(&set, &s.token("ES256", "nope", claims()), &Alg::ALL).unwrap_err().reason.contains("kid nope"));
    // A signature over other claims.
    let good = s.token("ES256", "ec", claims());
    let other = s.token("ES256", "ec", json!({"iss": "x"}));
    let spliced = format!("{}.{}", &other[..other.rfind('.').unwrap()], &good[good.rfind('.').unwrap() + 1..]);
    assert_eq!(check(&set, &spliced, &Alg::ALL).unwrap_err().description, "the token signature is invalid");
}

#[test]
fn claims_are_checked_within_the_leeway() {
    let s = Signer::new();
    let (set, _) = keys::parse_set(s.jwks().as_bytes(), &Alg::ALL).unwrap();
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims();
        change(&mut c);
        check(&set, &s.token("ES256", "ec", c), &Alg::ALL).map_err(|e| e.description)
    };
    assert!(with(&|c| c["exp"] = json!(NOW - 4)).is_ok(), "inside the leeway");
    assert_eq!(with(&|c| c["exp"] = json!(NOW - 5)), Err("the token has expired"));
    assert!(with(&|c| c["nbf"] = json!(NOW + 5)).is_ok());
    assert_eq!(with(&|c| c["nbf"] = json!(NOW + 6)), Err("the token is not valid yet"));
    assert_eq!(with(&|c| c["exp"] = json!("soon")), Err("the token is malformed"));
    assert_eq!(with(&|c| c["aud"] = json!(7)), Err("the token does not have a valid audience"));
    assert!(with(&|c| c["aud"] = json!(["x", "app"])).is_ok());
    assert_eq!(with(&|c| c["iss"] = json!("https://id.example.com/")), Err("the token does not have a valid issuer"));
    assert_eq!(
        with(&|c| {
            c.as_object_mut().unwrap().remove("scope");
            c["scp"] = json!("admin ops");
        })
        .map(|v| v.scopes),
        Ok(vec!["admin".to_owned(), "ops".to_owned()])
    );
}

#[test]
fn malformed_tokens_are_refused_without_panicking() {
    let too_long = "a".repeat(token::MAX_TOKEN_BYTES + 1);
    for t in ["", ".", "..", "a.b.c.d", "###.e30.", "e30.e30.", "eyJhbGciOjF9.e30.", too_long.as_str()] {
        assert_eq!(token::split(t.as_bytes()).err().map(|e| e.description), Some("the token is malformed"), "{t}");
    }
    assert_eq!(super::strip_bearer(b"Bearer  abc "), b"abc");
    assert_eq!(super::strip_bearer(b"bearer abc"), b"abc");
    assert_eq!(super::strip_bearer(b"abc"), b"abc");
}
