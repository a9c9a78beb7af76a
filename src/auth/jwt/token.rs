//! A compact JWS (`header.payload.signature`) checked against a key set and an authorizer's
//! claims rules, as AWS's JWT authorizer checks it: the signature by a key whose `kid` matches
//! (and whose algorithm is the header's and an allowed one — `none` and HMAC never are, so a
//! token "signed" with the public key as an HMAC secret fails), then `iss`, `aud` (or, without
//! `aud`, `client_id`), `exp`, `nbf`, `iat` within a leeway. What passes is the token's claims,
//! stringified as AWS passes them on, and its scopes.
//!
//! Pure: the time is passed in; no I/O. Must not: say why to the client (the reason is for the
//! log and `auth_debug`; the client gets AWS's `www-authenticate` description). Cost: three
//! base64 decodes, one JSON parse, one signature verification.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::keys::{Alg, Key};

/// The longest token looked at.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a token must satisfy.
pub struct Rules<'a> {
    pub issuer: &'a str,
    pub audiences: &'a [String],
    pub allowed: &'a [Alg],
    pub leeway_s: u64,
    /// Seconds since the epoch.
    pub now_s: u64,
}

/// A verified token.
pub use crate::context::auth::JwtClaims as Verified;

/// Why a token was refused: the `www-authenticate` description AWS-style, and the reason for the
/// operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub description: &'static str,
    pub reason: String,
}

fn refuse(description: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal { description, reason: reason.into() }
}

/// The header's `kid` and `alg`, read without verifying anything (to find the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kid: Option<String>,
    pub alg: String,
}

/// The parts of a token, decoded.
pub struct Parts<'t> {
    pub header: Header,
    pub signing_input: &'t [u8],
    payload: Vec<u8>,
    signature: Vec<u8>,
}

pub fn split(token: &[u8]) -> Result<Parts<'_>, Refusal> {
    const MALFORMED: &str = "the token is malformed";
    if token.len() > MAX_TOKEN_BYTES {
        return Err(refuse(MALFORMED, format!("token of {} bytes, over {MAX_TOKEN_BYTES}", token.len())));
    }
    let mut dots = memchr::memchr_iter(b'.', token);
    let (Some(a), Some(b), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(refuse(MALFORMED, "token does not have three segments"));
    };
    let decode = |part: &[u8], what: &str| {
        URL_SAFE_NO_PAD.decode(part).map_err(|_| refuse(MALFORMED, format!("token {what} is not base64url")))
    };
    let header_json = decode(&token[..a], "header")?;
    let payload = decode(&token[a + 1..b], "payload")?;
    let signature = decode(&token[b + 1..], "signature")?;
    let header: Value =
        serde_json::from_slice(&header_json).map_err(|_| refuse(MALFORMED, "token header is not JSON"))?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or_else(|| refuse(MALFORMED, "token header has no alg"))?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(refuse(MALFORMED, "token kid is not a string")),
    };
    if header.get("crit").is_some() {
        return Err(refuse(MALFORMED, "token header has crit extensions"));
    }
    Ok(Parts { header: Header { kid, alg: alg.to_owned() }, signing_input: &token[..b], payload, signature })
}

/// Verifies `parts` with one of `keys` and checks its claims.
pub fn verify(parts: &Parts<'_>, keys: &[Key], rules: &Rules<'_>) -> Result<Verified, Refusal> {
    let alg = match Alg::parse(&parts.header.alg) {
        Some(a) if rules.allowed.contains(&a) => a,
        _ => {
            return Err(refuse(
                "the token's signing method is invalid",
                format!("signing method {} is not allowed", printable(&parts.header.alg)),
            ));
        }
    };
    let mut candidates = keys.iter().filter(|k| k.alg == alg && k.kid == parts.header.kid).peekable();
    if candidates.peek().is_none() {
        let kid = parts.header.kid.as_deref().map_or("(none)".into(), printable);
        return Err(refuse("the token's key is unknown", format!("no {} key for kid {kid}", alg.name())));
    }
    if !candidates.any(|k| k.verify(parts.signing_input, &parts.signature)) {
        return Err(refuse("the token signature is invalid", "signature does not verify"));
    }
    check_claims(&parts.payload, rules)
}

fn check_claims(payload: &[u8], rules: &Rules<'_>) -> Result<Verified, Refusal> {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(payload) else {
        return Err(refuse("the token is malformed", "token payload is not a JSON object"));
    };
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(rules.issuer) {
        return Err(refuse(
            "the token does not have a valid issuer",
            format!("iss {} is not {}", iss.map_or("(none)".into(), printable), rules.issuer),
        ));
    }
    // AWS: `client_id` only when there is no `aud`.
    let audience_ok = match (claims.get("aud"), claims.get("client_id")) {
        (Some(Value::String(a)), _) => rules.audiences.contains(a),
        (Some(Value::Array(list)), _) => {
            list.iter().any(|a| a.as_str().is_some_and(|a| rules.audiences.iter().any(|x| x == a)))
        }
        (Some(_), _) => false,
        (None, Some(Value::String(c))) => rules.audiences.contains(c),
        (None, _) => false,
    };
    if !audience_ok {
        return Err(refuse(
            "the token does not have a valid audience",
            "neither aud nor client_id is a configured audience",
        ));
    }
    let time = |name: &str| -> Result<Option<u64>, Refusal> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|t| Some(t as u64))
                .ok_or_else(|| refuse("the token is malformed", format!("{name} is not a number"))),
        }
    };
    let exp = time("exp")?.ok_or_else(|| refuse("the token has no expiry", "no exp claim"))?;
    let now = rules.now_s;
    if exp.saturating_add(rules.leeway_s) <= now {
        return Err(refuse(
            "the token has expired",
            format!("expired at {exp}, now {now} (leeway {} s)", rules.leeway_s),
        ));
    }
    let nbf = time("nbf")?;
    let iat = time("iat")?;
    for (name, at) in [("nbf", nbf), ("iat", iat)] {
        if let Some(at) = at
            && at > now.saturating_add(rules.leeway_s)
        {
            return Err(refuse(
                "the token is not valid yet",
                format!("{name} {at} is after now {now} (leeway {} s)", rules.leeway_s),
            ));
        }
    }
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        (_, Some(Value::Array(list))) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        (_, Some(Value::String(s))) => s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let principal = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
    let not_before_s = nbf.into_iter().chain(iat).max().unwrap_or(0).saturating_sub(rules.leeway_s);
    let claims = claims
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    Ok(Verified { claims, scopes, expires_s: exp.saturating_add(rules.leeway_s), not_before_s, principal })
}

/// A value from the token, safe to put in a log line or a header: control characters and
/// anything past 64 bytes replaced.
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(64).map(|c| if c.is_control() || !c.is_ascii() { '?' } else { c }).collect();
    if s.len() > 64 {
        out.push_str("...");
    }
    out
}
