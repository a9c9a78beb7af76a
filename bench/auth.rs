//! Authorizers' per-request costs: an RS256 token checked in full (what a JWT verdict-cache miss
//! pays), the token's SHA-256 (what a hit pays besides a map lookup), and a function authorizer's
//! cached answer: a worker-cache lookup and the policy evaluated against a method ARN.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::auth::function::{cache, policy};
use portico::auth::jwt::keys::{self, Alg};
use portico::auth::jwt::token::{self, Rules};
use x509_parser::prelude::FromDer;

/// A fresh RSA-2048 key, its JWKS, and a token it signed.
fn rsa_token() -> (Vec<keys::Key>, String) {
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
    let der = aws_lc_rs::signature::KeyPair::public_key(&pair).as_der().expect("its DER");
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der.as_ref()).expect("an SPKI");
    let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() else { panic!("an RSA key") };
    let jwks = serde_json::json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
        "n": B64.encode(rsa.modulus), "e": B64.encode(rsa.exponent)}]});
    let (set, _) = keys::parse_set(jwks.to_string().as_bytes(), &Alg::ALL).expect("the JWKS");
    let header = B64.encode(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
    let claims = B64.encode(
        r#"{"iss":"https://id.example.com","aud":"app","sub":"user-7","exp":4102444800,"iat":1700000000,"scope":"read write","email":"u7@example.com"}"#,
    );
    let input = format!("{header}.{claims}");
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).expect("signed");
    (set, format!("{input}.{}", B64.encode(sig)))
}

fn auth(c: &mut Criterion) {
    let (set, token) = rsa_token();
    let audiences = vec!["app".to_owned()];
    let rules = Rules {
        issuer: "https://id.example.com",
        audiences: &audiences,
        allowed: &Alg::ALL,
        leeway_s: 0,
        now_s: 1_800_000_000,
    };
    assert!(token::verify(&token::split(token.as_bytes()).unwrap(), &set, &rules).is_ok());
    c.bench_function("jwt/rs256_split_verify_claims", |b| {
        b.iter(|| token::verify(&token::split(black_box(token.as_bytes())).unwrap(), &set, &rules).is_ok())
    });
    c.bench_function("jwt/verdict_key_sha256", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes())))
    });

    let answer = policy::read(
        br#"{"principalId":"u1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:shop/prod/GET/*"}]},"context":{"tier":"gold"}}"#,
        false,
    )
    .unwrap();
    let local = cache::Local::default();
    let key = [7u8; 32];
    let _ = local.get(1, &key, 0);
    local.put(key, std::sync::Arc::new(answer), u64::MAX);
    let arn = "arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/pets/7";
    c.bench_function("function_authorizer/cached_answer_evaluated", |b| {
        b.iter(|| {
            local.with(1, black_box(&key), 1000, |answer, identity| {
                (policy::evaluate(&answer.decision, black_box(arn)), identity.clone())
            })
        })
    });
}

criterion_group!(benches, auth);
criterion_main!(benches);
