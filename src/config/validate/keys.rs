//! `[[api_key]]` and `[[usage_plan]]` (AWS's API keys and usage plans), and a route's
//! `api_key_required`. Key values may come from the config, an environment variable or a file, so
//! secrets need not live in the config.

use super::*;
use crate::config::reader::{Obj, Reader, Spanned};
use crate::table::{ApiKey, ThrottleSetting};

const KEY_KEYS: &[&str] = &["name", "value", "value_env", "value_file", "enabled"];
const PLAN_KEYS: &[&str] = &["name", "rate", "burst", "api_stages", "keys", "quota", "on_redis_failure", "global_rate"];
const QUOTA_KEYS: &[&str] = &["limit", "period", "offset"];
const STAGE_REF_KEYS: &[&str] = &["api", "stage", "route_throttle"];

pub(super) fn read_keys(r: &mut Reader<'_>, root: Obj<'_>) -> Vec<(Spanned<String>, ApiKey)> {
    let mut keys: Vec<(Spanned<String>, ApiKey)> = Vec::new();
    for k in r.tables(root, "api_key", "[[api_key]]") {
        r.allow_keys(k, KEY_KEYS);
        let Some(name) = r.str(k, "name", "every API key needs a `name` (its id in logs and usage)") else { continue };
        let inline = r.opt_str(k, "value");
        let given = [&inline.is_some(), &r.item(k, "value_env").is_some(), &r.item(k, "value_file").is_some()];
        let value = if given.iter().filter(|g| ***g).count() != 1 {
            r.error(
                k.span(),
                format!("API key `{}` needs exactly one of `value`, `value_env`, `value_file`", name.value),
                None,
            );
            None
        } else {
            match inline {
                Some(v) => Some(v.value),
                None => super::read_secret(r, k, "value_env", "value_file").flatten(),
            }
        };
        let enabled = r.bool(k, "enabled", true);
        let Some(value) = value else {
            // Its error is reported; the name stays known so plans naming it add no second error.
            keys.push((name.clone(), ApiKey { name: name.value, value: String::new(), enabled }));
            continue;
        };
        // AWS's rule: 20 to 128 characters.
        if !(20..=128).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_graphic()) {
            r.error(
                name.span.clone(),
                format!("API key `{}` has a value AWS would refuse", name.value),
                Some("20 to 128 printable ASCII characters".into()),
            );
            continue;
        }
        if let Some((first, _)) = keys.iter().find(|(n, _)| n.value == name.value) {
            let line = crate::config::diagnostic::Diagnostic::new(r.file, r.src, first.span.clone(), "", None).line;
            r.error(
                name.span.clone(),
                format!("two API keys are named `{}`", name.value),
                Some(format!("the first is on line {line}")),
            );
            continue;
        }
        if keys.iter().any(|(_, k)| k.value == value) {
            r.error(name.span.clone(), format!("API key `{}` has the same value as another key", name.value), None);
            continue;
        }
        keys.push((name.clone(), ApiKey { name: name.value, value, enabled }));
    }
    keys
}

/// A usage plan as read: its throttle, the (api, stage) indexes it covers, the key indexes in it.
#[derive(Debug, Clone)]
pub struct PlanModel {
    pub name: Spanned<String>,
    pub throttle: Option<ThrottleSetting>,
    pub stages: Vec<(usize, usize)>,
    /// Per-route throttle overrides: (api, stage, route index, setting), per key.
    pub route_throttles: Vec<(usize, usize, usize, ThrottleSetting)>,
    pub keys: Vec<usize>,
    pub quota: Option<crate::table::Quota>,
    pub on_redis_failure: crate::table::FailureMode,
}

pub(super) fn read_plans(
    r: &mut Reader<'_>,
    root: Obj<'_>,
    apis: &[ApiModel],
    keys: &[(Spanned<String>, ApiKey)],
) -> Vec<PlanModel> {
    let mut plans: Vec<PlanModel> = Vec::new();
    for p in r.tables(root, "usage_plan", "[[usage_plan]]") {
        r.allow_keys(p, PLAN_KEYS);
        let Some(name) = r.str(p, "name", "every usage plan needs a `name`") else { continue };
        let throttle = match (r.item(p, "rate").is_some(), r.item(p, "burst").is_some()) {
            (false, false) => None,
            _ => {
                if r.item(p, "rate").is_none() {
                    r.error(p.span(), format!("usage plan `{}`: `rate` must be a positive number", name.value), None);
                }
                Some(ThrottleSetting {
                    rate: super::throttle::rate(r, p, 1.0),
                    burst: r.int(p, "burst", 1, 1, 1 << 30) as u32,
                    global: super::throttle::global(r, p, "global_rate"),
                })
            }
        };
        let mut stages = Vec::new();
        let mut route_throttles = Vec::new();
        for s in r.tables(p, "api_stages", "an `api_stages` entry") {
            r.allow_keys(s, STAGE_REF_KEYS);
            let (Some(api), Some(stage)) = (r.str(s, "api", "the API's name"), r.str(s, "stage", "the stage's name"))
            else {
                continue;
            };
            let Some(a) = apis.iter().position(|x| x.name.value == api.value) else {
                r.error(api.span, format!("no API is named `{}`", api.value), None);
                continue;
            };
            let Some(st) = apis[a].stages.iter().position(|x| x.name.value == stage.value) else {
                r.error(stage.span, format!("API `{}` has no stage `{}`", api.value, stage.value), None);
                continue;
            };
            stages.push((a, st));
            for (route_key, setting) in super::throttle::read_route_throttles(r, s) {
                match apis[a].routes.iter().position(|x| x.key.value == route_key.value) {
                    Some(route) => route_throttles.push((a, st, route, setting)),
                    None => {
                        let keys: Vec<&str> = apis[a].routes.iter().map(|x| x.key.value.as_str()).collect();
                        let hint = crate::config::diagnostic::did_you_mean(&route_key.value, &keys)
                            .map(|k| format!("did you mean `{k}`?"));
                        r.error(
                            route_key.span,
                            format!(
                                "`route_throttle` names `{}`, which is not a route of API `{}`",
                                route_key.value, api.value
                            ),
                            hint,
                        );
                    }
                }
            }
        }
        let mut plan_keys = Vec::new();
        for k in r.str_list(p, "keys") {
            match keys.iter().position(|(n, _)| n.value == k.value) {
                Some(i) => plan_keys.push(i),
                None => {
                    let names: Vec<&str> = keys.iter().map(|(n, _)| n.value.as_str()).collect();
                    let hint = crate::config::diagnostic::did_you_mean(&k.value, &names)
                        .map(|n| format!("did you mean `{n}`?"));
                    r.error(k.span, format!("no API key is named `{}`", k.value), hint);
                }
            }
        }
        // AWS: a key may be in several plans, but only one plan per API stage.
        for &key in &plan_keys {
            for other in &plans {
                if other.keys.contains(&key) && other.stages.iter().any(|s| stages.contains(s)) {
                    r.error(
                        name.span.clone(),
                        format!(
                            "API key `{}` is in usage plans `{}` and `{}` for the same API stage",
                            keys[key].1.name, other.name.value, name.value
                        ),
                        Some("AWS allows one usage plan per key and API stage".into()),
                    );
                }
            }
        }
        let quota = read_quota(r, p);
        let on_redis_failure = super::cluster::read_failure_mode(r, p, "on_redis_failure");
        plans.push(PlanModel { name, throttle, stages, route_throttles, keys: plan_keys, quota, on_redis_failure });
    }
    plans
}

/// `quota = { limit = 1000, period = "DAY", offset = 0 }`.
fn read_quota(r: &mut Reader<'_>, plan: Obj<'_>) -> Option<crate::table::Quota> {
    use crate::table::QuotaPeriod;
    let item = r.item(plan, "quota")?;
    let o = r.obj(item, "the `quota`")?;
    r.allow_keys(o, QUOTA_KEYS);
    let limit = r.int(o, "limit", 0, 0, i64::MAX);
    let period = r.str(o, "period", "period = \"DAY\", \"WEEK\" or \"MONTH\"")?;
    let period = match period.value.as_str() {
        "DAY" => QuotaPeriod::Day,
        "WEEK" => QuotaPeriod::Week,
        "MONTH" => QuotaPeriod::Month,
        other => {
            r.error(
                period.span,
                format!("unknown quota period `{other}`"),
                Some("AWS's periods: DAY, WEEK, MONTH".into()),
            );
            return None;
        }
    };
    if r.item(o, "limit").is_none() {
        r.error(o.span(), "the quota needs a `limit`", None);
        return None;
    }
    let offset = r.int(o, "offset", 0, 0, limit) as u64;
    Some(crate::table::Quota { limit: limit as u64, period, offset })
}

/// `[quota] state_file`: where quota counts are saved (default: next to the config).
pub(super) fn read_state_file(r: &mut Reader<'_>, root: Obj<'_>) -> String {
    let default = default_state_file(r.file);
    let Some(item) = r.item(root, "quota") else { return default };
    let Some(o) = r.obj(item, "[quota]") else { return default };
    r.allow_keys(o, &["state_file"]);
    r.opt_str(o, "state_file").map_or(default, |p| super::resolve_path(r.file, p.value))
}

/// Runtime state belongs outside the config's folder (often a repository): systemd's
/// `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/portico`, else `~/.local/state/portico`, else
/// `/var/lib/portico`; the name holds the config's stem and a hash of its absolute path, so two
/// configs never share a file.
fn default_state_file(config_file: &str) -> String {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    let dir = env("STATE_DIRECTORY")
        .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("portico")))
        .or_else(|| env("HOME").map(|h| h.join(".local/state/portico")))
        .unwrap_or_else(|| "/var/lib/portico".into());
    let path = std::path::Path::new(config_file);
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let stem = path.file_stem().map_or("portico".into(), |s| s.to_string_lossy().into_owned());
    // FNV-1a: stable across builds and platforms (the name must not change between releases).
    let hash = absolute
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    dir.join(format!("{stem}-{:08x}-quota-state.json", hash as u32)).to_string_lossy().into_owned()
}
