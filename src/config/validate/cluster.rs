//! `[cluster]` (the Redis that makes quotas fleet-wide) and a usage plan's `on_redis_failure`.

use crate::config::reader::{Obj, Reader};
use crate::table::{Cluster, FailureMode};

const CLUSTER_KEYS: &[&str] = &["redis", "redis_env", "prefix", "timeout_ms"];

/// `[cluster] redis = "redis://host:port/db"` (or `redis_env = "VAR"` naming a variable that holds
/// the URL, so a password need not live in the config).
pub(super) fn read_cluster(r: &mut Reader<'_>, root: Obj<'_>) -> Option<Cluster> {
    let item = r.item(root, "cluster")?;
    let o = r.obj(item, "[cluster]")?;
    r.allow_keys(o, CLUSTER_KEYS);
    let url = match (r.opt_str(o, "redis"), r.opt_str(o, "redis_env")) {
        (Some(url), None) => url,
        (None, Some(var)) => match std::env::var(&var.value) {
            Ok(url) => crate::config::reader::Spanned { value: url, span: var.span },
            Err(_) => {
                r.error(var.span, format!("the environment variable `{}` is not set", var.value), None);
                return None;
            }
        },
        (Some(url), Some(_)) => {
            r.error(url.span, "[cluster] takes `redis` or `redis_env`, not both", None);
            return None;
        }
        (None, None) => {
            r.error(o.span(), "[cluster] needs `redis`", Some("like redis = \"redis://127.0.0.1:6379/0\"".into()));
            return None;
        }
    };
    if let Err(problem) = check_url(&url.value) {
        r.error(
            url.span,
            format!("the Redis URL is not usable: {problem}"),
            Some("like redis://[user:password@]host:port[/db]".into()),
        );
        return None;
    }
    let prefix = r.opt_str(o, "prefix").map_or_else(|| "portico".to_owned(), |p| p.value);
    let timeout_ms = r.int(o, "timeout_ms", 250, 1, 60_000) as u64;
    Some(Cluster { redis: url.value, prefix, timeout_ms })
}

/// `"open"` (the default: admit, counting on this node alone) or `"closed"` (answer 503).
pub(super) fn read_failure_mode(r: &mut Reader<'_>, o: Obj<'_>, key: &str) -> FailureMode {
    let Some(mode) = r.opt_str(o, key) else { return FailureMode::Open };
    match mode.value.as_str() {
        "open" => FailureMode::Open,
        "closed" => FailureMode::Closed,
        other => {
            r.error(mode.span, format!("unknown `{key}` = \"{other}\""), Some("use \"open\" or \"closed\"".into()));
            FailureMode::Open
        }
    }
}

/// Only `redis://` URLs that the client accepts.
fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("redis://") {
        return Err("only redis:// URLs are supported (not rediss:// or unix sockets)".into());
    }
    redis::Client::open(url).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_redis_urls() {
        assert!(super::check_url("redis://127.0.0.1:6379/0").is_ok());
        assert!(super::check_url("rediss://127.0.0.1:6379").is_err());
        assert!(super::check_url("http://x").is_err());
    }
}
