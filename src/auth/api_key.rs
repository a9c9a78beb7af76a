//! API keys as AWS checks them on routes with `api_key_required`: the `x-api-key` header
//! (case-insensitive name) must carry an enabled key that is in a usage plan covering this API
//! stage; otherwise `403 {"message":"Forbidden"}`.
//!
//! Lookup is by a keyed hash of the presented value, then a constant-time comparison of the whole
//! value, so response time does not reveal how much of a guessed key was right. Cost: one hash and
//! two map lookups; no allocation.

use ahash::AHashMap;

use crate::context::Identity;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::table::Table;

/// Step 3b, API key: an enabled key in a usage plan of this stage, or 403. `from_authorizer`:
/// the API's key source is `AUTHORIZER`, and this is the key the authorizer named
/// (`usageIdentifierKey`), if it named one.
pub fn step(
    keys: &KeyIndex,
    table: &Table,
    head: &RequestHead,
    (api, stage): (u32, u32),
    from_authorizer: Option<Option<&[u8]>>,
) -> Result<Identity, GatewayError> {
    let given = match from_authorizer {
        None => presented(head),
        Some(key) => key.ok_or("the authorizer named no usageIdentifierKey"),
    };
    match given.and_then(|given| keys.check(table, given, api, stage)) {
        Ok(admitted) => Ok(Identity { api_key: Some(admitted.key), plan: Some(admitted.plan) }),
        Err(detail) => Err(GatewayError::new(ResponseType::InvalidApiKey, detail)),
    }
}

/// The `x-api-key` header's value (AWS's `HEADER` key source).
fn presented(head: &RequestHead) -> Result<&[u8], &'static str> {
    head.first(b"x-api-key").ok_or("no x-api-key header")?;
    // Two keys are ambiguous credentials: which one a later hop would read is anyone's guess.
    head.only(b"x-api-key").ok_or("more than one x-api-key header")
}

#[derive(Debug, Default)]
pub struct KeyIndex {
    hasher: ahash::RandomState,
    /// Keyed hash of a value → key index.
    by_hash: AHashMap<u64, u32>,
    /// (key, api, stage) → the usage plan that covers it.
    plan_for: AHashMap<(u32, u32, u32), u32>,
}

/// A key that passed: its index and its usage plan's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub key: u32,
    pub plan: u32,
}

impl KeyIndex {
    pub fn build(table: &Table) -> KeyIndex {
        let hasher = ahash::RandomState::new();
        let by_hash =
            table.api_keys.iter().enumerate().map(|(i, k)| (hasher.hash_one(k.value.as_bytes()), i as u32)).collect();
        let mut plan_for = AHashMap::new();
        for (p, plan) in table.usage_plans.iter().enumerate() {
            for &key in &plan.keys {
                for &(api, stage) in &plan.stages {
                    plan_for.insert((key, api, stage), p as u32);
                }
            }
        }
        KeyIndex { hasher, by_hash, plan_for }
    }

    /// The key `given` for (api, stage), or why it is refused (for the log).
    pub fn check(&self, table: &Table, given: &[u8], api: u32, stage: u32) -> Result<Admitted, &'static str> {
        let index = *self.by_hash.get(&self.hasher.hash_one(given)).ok_or("unknown API key")?;
        let key = &table.api_keys[index as usize];
        if !super::constant_time_eq(key.value.as_bytes(), given) {
            return Err("unknown API key");
        }
        if !key.enabled {
            return Err("disabled API key");
        }
        let plan = *self.plan_for.get(&(index, api, stage)).ok_or("API key not in a usage plan of this stage")?;
        Ok(Admitted { key: index, plan })
    }
}
