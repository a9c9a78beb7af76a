//! `[throttle]` (the gateway-wide limit), and a stage's `throttle` and `route_throttle`.

use crate::config::reader::{Obj, Reader, Spanned};
use crate::table::ThrottleSetting;

const ACCOUNT_KEYS: &[&str] = &["enabled", "rate", "burst", "global"];
const SETTING_KEYS: &[&str] = &["rate", "burst", "global"];

/// The account limit: AWS's default 10,000 requests/s with burst 5,000 unless changed or turned off.
pub(super) fn read_account(r: &mut Reader<'_>, root: Obj<'_>) -> Option<ThrottleSetting> {
    // Off unless configured: AWS's 10,000/s account limit is a quota of a multi-tenant cloud, not a
    // feature of an API. A `[throttle]` table turns it on, with AWS's numbers as defaults.
    let default = ThrottleSetting { rate: 10_000.0, burst: 5_000, global: false };
    let item = r.item(root, "throttle")?;
    let o = r.obj(item, "[throttle]")?;
    r.allow_keys(o, ACCOUNT_KEYS);
    if !r.bool(o, "enabled", true) {
        return None;
    }
    Some(ThrottleSetting {
        rate: rate(r, o, default.rate),
        burst: r.int(o, "burst", 5_000, 1, 1 << 30) as u32,
        global: global(r, o, "global"),
    })
}

/// `{ rate = 100, burst = 50 }`.
pub(super) fn read_setting(r: &mut Reader<'_>, item: &toml_edit::Item, what: &'static str) -> Option<ThrottleSetting> {
    let o = r.obj(item, what)?;
    r.allow_keys(o, SETTING_KEYS);
    if r.item(o, "rate").is_none() || r.item(o, "burst").is_none() {
        r.error(o.span(), format!("{what} needs `rate` and `burst`"), Some("like { rate = 100, burst = 50 }".into()));
        return None;
    }
    Some(ThrottleSetting {
        rate: rate(r, o, 1.0),
        burst: r.int(o, "burst", 1, 1, 1 << 30) as u32,
        global: global(r, o, "global"),
    })
}

/// A stage's `route_throttle = { "GET /pets" = { rate, burst } }`.
pub(super) fn read_route_throttles(r: &mut Reader<'_>, stage: Obj<'_>) -> Vec<(Spanned<String>, ThrottleSetting)> {
    let Some(item) = r.item(stage, "route_throttle") else { return Vec::new() };
    let Some(o) = r.obj(item, "`route_throttle`") else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in o.table.iter() {
        let span = o.table.key(key).and_then(|k| k.span()).or_else(|| value.span());
        if let Some(setting) = read_setting(r, value, "a route throttle") {
            out.push((Spanned { value: key.to_owned(), span }, setting));
        }
    }
    out
}

/// Requests per second: a positive number, fractions allowed.
pub(super) fn rate(r: &mut Reader<'_>, o: Obj<'_>, default: f64) -> f64 {
    let Some(item) = r.item(o, "rate") else { return default };
    match item.as_float().or_else(|| item.as_integer().map(|i| i as f64)) {
        Some(v) if v > 0.0 && v.is_finite() => v,
        _ => {
            r.error(item.span(), "`rate` must be a positive number of requests per second", None);
            default
        }
    }
}

/// `global = true` (a plan: `global_rate`): noted where it is, for the `[cluster]` check.
pub(super) fn global(r: &mut Reader<'_>, o: Obj<'_>, key: &str) -> bool {
    let global = r.bool(o, key, false);
    if global {
        let span = r.item(o, key).and_then(|i| i.span());
        r.global_limits.push(span);
    }
    global
}
