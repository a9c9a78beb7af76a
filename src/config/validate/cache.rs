//! `cache = { ... }` on stages and routes (AWS's stage cache settings and per-method overrides).

use crate::config::reader::{Obj, Reader};
use crate::table::{RouteCache, RouteMethod, StageCache, Unauthorized};

const STAGE_CACHE_KEYS: &[&str] = &[
    "enabled",
    "capacity_mb",
    "ttl_s",
    "ttl_uncapped",
    "max_entry_bytes",
    "status_header",
    "require_authorization",
    "unauthorized",
    "invalidate_api_keys",
    "invalidate_header",
    "invalidate_secret",
    "invalidate_secret_env",
];
const ROUTE_CACHE_KEYS: &[&str] = &["enabled", "ttl_s", "key_query", "key_headers", "methods", "statuses", "encrypt"];

/// The stage's cache, when present and enabled; the stage default TTL comes with it.
pub(super) fn read_stage_cache(r: &mut Reader<'_>, stage: Obj<'_>) -> Option<(StageCache, u64)> {
    let item = r.item(stage, "cache")?;
    let o = r.obj(item, "the stage `cache`")?;
    r.allow_keys(o, STAGE_CACHE_KEYS);
    if !r.bool(o, "enabled", true) {
        return None;
    }
    let uncapped = r.bool(o, "ttl_uncapped", false);
    let ttl_s = ttl(r, o, uncapped, 300);
    let capacity_mb = r.int(o, "capacity_mb", 64, 1, 1 << 20) as u64;
    let unauthorized = match r.opt_str(o, "unauthorized") {
        None => Unauthorized::FailWith403,
        Some(s) => match s.value.as_str() {
            "FAIL_WITH_403" => Unauthorized::FailWith403,
            "SUCCEED_WITH_RESPONSE_HEADER" => Unauthorized::SucceedWithResponseHeader,
            "SUCCEED_WITHOUT_RESPONSE_HEADER" => Unauthorized::SucceedWithoutResponseHeader,
            other => {
                r.error(
                    s.span,
                    format!("unknown strategy `{other}`"),
                    Some(
                        "AWS's names: FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER, SUCCEED_WITHOUT_RESPONSE_HEADER"
                            .into(),
                    ),
                );
                Unauthorized::FailWith403
            }
        },
    };
    let api_keys: Vec<String> = r.str_list(o, "invalidate_api_keys").into_iter().map(|k| k.value).collect();
    let header = r.opt_str(o, "invalidate_header");
    let mut secret = r.opt_str(o, "invalidate_secret").map(|s| s.value);
    if let Some(env) = r.opt_str(o, "invalidate_secret_env") {
        match std::env::var(&env.value) {
            Ok(v) if !v.is_empty() => secret = Some(v),
            _ => r.error(env.span, format!("environment variable `{}` is not set", env.value), None),
        }
    }
    let invalidate_header = match (header, secret) {
        (Some(h), Some(s)) => Some((h.value.to_ascii_lowercase(), s)),
        (None, None) => None,
        (Some(h), None) => {
            r.error(h.span, "`invalidate_header` needs `invalidate_secret` (or `invalidate_secret_env`)", None);
            None
        }
        (None, Some(_)) => {
            r.error(o.span(), "a secret without `invalidate_header`", Some("name the header that carries it".into()));
            None
        }
    };
    let cache = StageCache {
        capacity_bytes: capacity_mb * 1024 * 1024,
        max_entry_bytes: r.int(o, "max_entry_bytes", 1 << 20, 1, 1 << 30) as u64,
        status_header: r.bool(o, "status_header", true),
        require_authorization: r.bool(o, "require_authorization", true),
        unauthorized,
        invalidate_api_keys: api_keys,
        invalidate_header,
        ttl_uncapped: uncapped,
    };
    Some((cache, ttl_s))
}

/// AWS caps TTLs at 3600 s; `ttl_uncapped = true` on the stage lifts the cap (to a year).
fn ttl(r: &mut Reader<'_>, o: Obj<'_>, uncapped: bool, default: i64) -> u64 {
    let max = if uncapped { 365 * 86_400 } else { 3600 };
    r.int(o, "ttl_s", default, 0, max) as u64
}

/// Route overrides, resolved against the stage's settings when the config compiles.
#[derive(Debug, Clone, Default)]
pub struct RouteCacheModel {
    pub enabled: Option<bool>,
    pub ttl_s: Option<u64>,
    /// Where `ttl_s` is written, for the error when it is over a stage's cap.
    pub ttl_span: Option<std::ops::Range<usize>>,
    pub key_query: Vec<String>,
    pub key_headers: Vec<String>,
    pub methods: Vec<RouteMethod>,
    pub statuses: Vec<u16>,
    pub encrypt: bool,
}

pub(super) fn read_route_cache(r: &mut Reader<'_>, route: Obj<'_>) -> RouteCacheModel {
    let Some(item) = r.item(route, "cache") else { return RouteCacheModel::default() };
    let Some(o) = r.obj(item, "the route `cache`") else { return RouteCacheModel::default() };
    r.allow_keys(o, ROUTE_CACHE_KEYS);
    let enabled = r.item(o, "enabled").map(|_| r.bool(o, "enabled", true));
    let ttl_span = r.item(o, "ttl_s").and_then(|i| i.span());
    let ttl_s = r.item(o, "ttl_s").map(|_| ttl(r, o, true, 300));
    let key_query = r.str_list(o, "key_query").into_iter().map(|q| q.value).collect();
    let key_headers = r.str_list(o, "key_headers").into_iter().map(|h| h.value.to_ascii_lowercase()).collect();
    let mut methods = Vec::new();
    for m in r.str_list(o, "methods") {
        match m.value.to_ascii_uppercase().as_str() {
            "GET" => methods.push(RouteMethod::Get),
            "HEAD" => methods.push(RouteMethod::Head),
            "POST" => methods.push(RouteMethod::Post),
            "PUT" => methods.push(RouteMethod::Put),
            "DELETE" => methods.push(RouteMethod::Delete),
            "OPTIONS" => methods.push(RouteMethod::Options),
            "PATCH" => methods.push(RouteMethod::Patch),
            other => r.error(m.span, format!("`{other}` is not a method"), None),
        }
    }
    let statuses = r
        .int_list(o, "statuses", 599)
        .into_iter()
        .filter_map(|s| (200..=599).contains(&s).then_some(s as u16))
        .collect();
    let encrypt = r.bool(o, "encrypt", false);
    RouteCacheModel { enabled, ttl_s, ttl_span, key_query, key_headers, methods, statuses, encrypt }
}

/// A route `ttl_s` over the 3600 s cap of a stage that does not lift it: refused, as AWS refuses
/// it (and as a stage's own `ttl_s` over the cap is), rather than silently capped.
pub fn ttl_over_cap(stage: Option<&(StageCache, u64)>, route: &RouteCacheModel) -> Option<u64> {
    let (stage, _) = stage?;
    route.ttl_s.filter(|&t| t > 3600 && !stage.ttl_uncapped && route.enabled != Some(false))
}

/// The effective cache of one route in one stage.
pub fn resolve(stage: Option<&(StageCache, u64)>, route: &RouteCacheModel) -> Option<RouteCache> {
    let (stage, stage_ttl_s) = stage?;
    if route.enabled == Some(false) {
        return None;
    }
    // Over the cap without `ttl_uncapped` is an error the compiler reports (`ttl_over_cap`).
    let ttl_s = route.ttl_s.unwrap_or(*stage_ttl_s);
    if ttl_s == 0 {
        return None;
    }
    Some(RouteCache {
        ttl_ms: ttl_s * 1000,
        key_query: route.key_query.clone(),
        key_headers: route.key_headers.clone(),
        methods: if route.methods.is_empty() { vec![RouteMethod::Get] } else { route.methods.clone() },
        statuses: route.statuses.clone(),
        max_entry_bytes: stage.max_entry_bytes,
        encrypt: route.encrypt,
    })
}
