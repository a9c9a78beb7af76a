//! The JWT authorizer (AWS's HTTP API JWT authorizer; on REST APIs, what its Cognito user-pool
//! authorizer checks): the token from the identity source (`Bearer ` or bare), verified with the
//! issuer's keys ([`keyring`]), its claims checked ([`token`]), then the route's scopes.
//!
//! Verifying an RSA signature costs tens of microseconds, more than the rest of a request: each
//! worker keeps the verdicts of tokens it verified ([`Verdicts`], keyed by the token's SHA-256)
//! until the token's `exp`, as long as the key set is the one they were made with — a rotated
//! set checks every token again, so a removed key stops working at once. Only verdicts that
//! passed are kept; a refused token is checked in full each time.
//!
//! Must not: wait for the network on the request path, except for a fetch a token with an
//! unknown `kid` asked for (rate-limited by the keyring). Cost of a cached verdict: one SHA-256
//! of the token and one map lookup.

pub mod keyring;
pub mod keys;
pub mod token;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use ahash::AHashMap;

use self::keyring::Keyring;
use self::keys::Alg;
use self::token::{Refusal, Rules};
use crate::context::auth::JwtClaims;

/// Verdicts kept per worker; when full, the map starts over (a burst of distinct tokens costs
/// verifications, never memory).
pub const MAX_VERDICTS: usize = 32 * 1024;
/// The longest a worker waits for keys it asked for.
const WAIT_FOR_KEYS: Duration = Duration::from_millis(keyring::FETCH_TIMEOUT_MS * 2 + 200);

struct Verdict {
    claims: Rc<JwtClaims>,
    generation: u64,
}

/// One worker's verdicts, for every JWT authorizer of the table it serves.
#[derive(Default)]
pub struct Verdicts {
    map: RefCell<AHashMap<[u8; 32], Verdict>>,
    /// The table generation the verdicts belong to: a reload may change an authorizer's rules.
    table: std::cell::Cell<u64>,
}

/// What an authorizer checks a token against, borrowed from the table.
pub struct Authorizer<'a> {
    /// (API, authorizer) indexes: part of the verdict key.
    pub id: (u32, u32),
    pub issuer: &'a str,
    pub audiences: &'a [String],
    pub allowed: &'a [Alg],
    pub leeway_s: u64,
    pub keyring: &'a Keyring,
}

/// Verifies the identity header's value `value` (`Bearer <token>` or the token); `table` is the
/// loaded table's generation.
pub async fn verify(
    verdicts: &Verdicts,
    table: u64,
    authorizer: &Authorizer<'_>,
    value: &[u8],
    now_s: u64,
) -> Result<Rc<JwtClaims>, Refusal> {
    let token = strip_bearer(value);
    if verdicts.table.get() != table {
        verdicts.map.borrow_mut().clear();
        verdicts.table.set(table);
    }
    let key = verdict_key(authorizer.id, token);
    let mut keys = authorizer.keyring.keys();
    if let Some(v) = verdicts.map.borrow().get(&key)
        && v.generation == keys.generation
        && now_s < v.claims.expires_s
        && now_s >= v.claims.not_before_s
    {
        return Ok(v.claims.clone());
    }
    let parts = token::split(token)?;
    let rules = Rules {
        issuer: authorizer.issuer,
        audiences: authorizer.audiences,
        allowed: authorizer.allowed,
        leeway_s: authorizer.leeway_s,
        now_s,
    };
    let known = |set: &keyring::KeySet| set.keys.iter().any(|k| k.kid == parts.header.kid);
    if !keys.loaded || !known(&keys) {
        // Keys not fetched yet, or a `kid` not in them (a rotation?): a fetch, if one may start.
        let before = authorizer.keyring.attempts();
        let fetching = authorizer.keyring.demand() || before == 0;
        if fetching {
            // No key-set guard is held across the wait.
            drop(keys);
            let deadline = monoio::time::Instant::now() + WAIT_FOR_KEYS;
            while authorizer.keyring.attempts() == before && monoio::time::Instant::now() < deadline {
                monoio::time::sleep(Duration::from_millis(1)).await;
            }
            keys = authorizer.keyring.keys();
        }
        if !keys.loaded {
            let why = keys.error.clone().unwrap_or_else(|| "not fetched yet".into());
            return Err(Refusal { description: "the signing keys are unavailable", reason: format!("no keys: {why}") });
        }
    }
    let claims = Rc::new(token::verify(&parts, &keys.keys, &rules)?);
    let mut map = verdicts.map.borrow_mut();
    if map.len() >= MAX_VERDICTS {
        map.clear();
    }
    map.insert(key, Verdict { claims: claims.clone(), generation: keys.generation });
    Ok(claims)
}

/// The token in an identity value: AWS takes `Bearer <token>` and a bare token alike.
pub fn strip_bearer(value: &[u8]) -> &[u8] {
    match value.get(..7) {
        Some(p) if p.eq_ignore_ascii_case(b"bearer ") => crate::http::trim(&value[7..]),
        _ => crate::http::trim(value),
    }
}

fn verdict_key((api, authorizer): (u32, u32), token: &[u8]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&api.to_le_bytes());
    ctx.update(&authorizer.to_le_bytes());
    ctx.update(token);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Whether the token carries one of the route's scopes (any, when the route names none).
pub fn has_scope(claims: &JwtClaims, required: &[String]) -> bool {
    required.is_empty() || required.iter().any(|r| claims.scopes.contains(r))
}

#[cfg(test)]
mod tests;
