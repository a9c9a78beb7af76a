//! A JSON Web Key Set as the keys it holds: each key parsed once, for each algorithm it may
//! verify, into aws-lc's verification form. RSA keys (`RS*`, `PS*`, AWS's algorithms), EC P-256
//! and P-384 (`ES256`, `ES384`) and Ed25519 (`EdDSA`); anything else in the set is skipped, and
//! symmetric keys (`oct`) never become keys: a public document cannot hold an HMAC secret.
//!
//! Must not: fetch (that is [`super::keyring`]). Cost: parsing happens when a set arrives, never
//! per request.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The JWA signature algorithms Portico verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 9] =
        [Alg::Rs256, Alg::Rs384, Alg::Rs512, Alg::Ps256, Alg::Ps384, Alg::Ps512, Alg::Es256, Alg::Es384, Alg::EdDsa];

    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }

    fn rsa(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// One verification key: its id, the algorithm it verifies, the parsed key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    pub alg: Alg,
    key: ParsedPublicKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?}, {})", self.kid, self.alg.name())
    }
}

impl Key {
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The keys of a JWKS document that verify one of `allowed`; an error when the document is not
/// a JWKS at all. Keys it cannot use are skipped (and counted in the second value).
pub fn parse_set(json: &[u8], allowed: &[Alg]) -> Result<(Vec<Key>, usize), String> {
    let doc: Document = serde_json::from_slice(json).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    let mut skipped = 0;
    for value in doc.keys {
        let parsed = serde_json::from_value::<Jwk>(value).ok().map(|jwk| parse_key(&jwk, allowed));
        match parsed {
            Some(list) if !list.is_empty() => keys.extend(list),
            _ => skipped += 1,
        }
    }
    Ok((keys, skipped))
}

fn parse_key(jwk: &Jwk, allowed: &[Alg]) -> Vec<Key> {
    if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
        return Vec::new();
    }
    let b64 = |s: &Option<String>| s.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    // A key that names its algorithm verifies only that one (RFC 7517 §4.4).
    let named = jwk.alg.as_deref().map(Alg::parse);
    let candidates: Vec<Alg> = match named {
        Some(None) => return Vec::new(),
        Some(Some(a)) => vec![a],
        None => Alg::ALL.to_vec(),
    };
    let candidates = candidates.into_iter().filter(|a| allowed.contains(a));
    let mut out = Vec::new();
    for alg in candidates {
        let key = match (jwk.kty.as_str(), alg) {
            ("RSA", _) if alg.rsa().is_some() => {
                let (Some(n), Some(e)) = (b64(&jwk.n), b64(&jwk.e)) else { return Vec::new() };
                let n = strip_zeros(&n);
                // aws-lc enforces 2048..8192 bits when verifying; refuse short keys up front.
                if n.len() < 256 {
                    return Vec::new();
                }
                RsaPublicKeyComponents { n, e: strip_zeros(&e) }
                    .to_parsed_public_key(alg.rsa().unwrap_or(&signature::RSA_PKCS1_2048_8192_SHA256))
                    .ok()
            }
            ("EC", Alg::Es256 | Alg::Es384) => {
                let (curve, len, algorithm): (_, _, &'static dyn signature::VerificationAlgorithm) = match alg {
                    Alg::Es256 => ("P-256", 32, &signature::ECDSA_P256_SHA256_FIXED),
                    _ => ("P-384", 48, &signature::ECDSA_P384_SHA384_FIXED),
                };
                if jwk.crv.as_deref() != Some(curve) {
                    continue;
                }
                let (Some(x), Some(y)) = (b64(&jwk.x), b64(&jwk.y)) else { return Vec::new() };
                if x.len() != len || y.len() != len {
                    return Vec::new();
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ParsedPublicKey::new(algorithm, &point).ok()
            }
            ("OKP", Alg::EdDsa) if jwk.crv.as_deref() == Some("Ed25519") => {
                let Some(x) = b64(&jwk.x).filter(|x| x.len() == 32) else { return Vec::new() };
                ParsedPublicKey::new(&signature::ED25519, &x).ok()
            }
            _ => None,
        };
        if let Some(key) = key {
            out.push(Key { kid: jwk.kid.clone(), alg, key });
        }
    }
    out
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}
