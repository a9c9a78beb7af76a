//! `[server]`, `[workers]`, `[limits]` and `[upstream]`: process-wide settings.

use std::net::SocketAddr;

use super::*;
use crate::config::reader::{Obj, Reader};
use crate::http::head::HEADER_COUNT_CEILING;

pub(super) fn read_server(r: &mut Reader<'_>, root: Obj<'_>, config: &mut Config) {
    let mut count_from_server = None;
    if let Some(item) = r.item(root, "server")
        && let Some(server) = r.obj(item, "[server]")
    {
        r.allow_keys(server, SERVER_KEYS);
        if let Some(item) = r.item(server, "listen") {
            config.listen = addrs(r, server);
            if item.as_array().is_some_and(|a| a.is_empty()) {
                r.error(
                    server.span(),
                    "`listen` in [server] is empty",
                    Some("give at least one address, like \"127.0.0.1:8080\"".into()),
                );
            }
        }
        config.listen_tls = tls_addrs(r, server);
        if let Some(both) = config.listen_tls.iter().find(|a| config.listen.contains(a)) {
            let span = r.item(server, "listen_tls").and_then(|i| i.span());
            r.error(
                span,
                format!("`{both}` is in both `listen` and `listen_tls`"),
                Some("one address serves either plain HTTP or TLS".into()),
            );
        }
        count_from_server = worker_count(r, server, "workers");
        config.workers.pin = r.bool(server, "pin_workers", false);
        config.drain_timeout_ms = r.int(server, "drain_timeout_ms", 10_000, 0, DAY_MS) as u64;
        config.backlog = r.int(server, "backlog", 4096, 1, 65_535) as i32;
        for p in r.str_list(server, "trusted_proxies") {
            let net = p
                .value
                .parse::<ipnet::IpNet>()
                .or_else(|_| p.value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match net {
                Ok(net) => config.trusted_proxies.push(net.trunc()),
                Err(_) => r.error(
                    p.span,
                    format!("`{}` is not an IP address or network", p.value),
                    Some("give addresses or CIDR networks, like \"10.0.0.0/8\" or \"192.0.2.7\"".into()),
                ),
            }
        }
    }
    if let Some(item) = r.item(root, "workers")
        && let Some(workers) = r.obj(item, "[workers]")
    {
        r.allow_keys(workers, WORKERS_KEYS);
        let count = worker_count(r, workers, "count");
        if count.is_some() && count_from_server.is_some() {
            let span = r.item(workers, "count").and_then(|i| i.span());
            r.error(
                span,
                "the worker count is set twice",
                Some("set it in [server] `workers` or in [workers] `count`, not both".into()),
            );
        }
        count_from_server = count_from_server.or(count);
        config.workers.cpus = r.int_list(workers, "cpus", 4095).into_iter().map(|c| c as usize).collect();
        if r.item(workers, "pin").is_some() {
            config.workers.pin = r.bool(workers, "pin", false);
        }
        config.workers.ring_entries = r.int(workers, "ring_entries", 1024, 256, 32_768) as u32;
        config.workers.max_connections = r.int(workers, "max_connections", 65_536, 1, 1 << 24) as usize;
        config.workers.read_buffer_bytes = r.int(workers, "read_buffer_bytes", 4096, 1024, 1 << 20) as usize;
        config.workers.upstream_buffer_bytes =
            r.int(workers, "upstream_buffer_bytes", 16 * 1024, 1024, 1 << 22) as usize;
    }
    config.workers.count = count_from_server.flatten();
}

/// `"auto"` (→ `Some(None)`) or a positive integer (→ `Some(Some(n))`); `None` when absent.
fn worker_count(r: &mut Reader<'_>, obj: Obj<'_>, key: &str) -> Option<Option<usize>> {
    let item = r.item(obj, key)?;
    if item.as_str() == Some("auto") {
        return Some(None);
    }
    match item.as_integer() {
        Some(n) if (1..=1024).contains(&n) => Some(Some(n as usize)),
        _ => {
            r.error(item.span(), format!("`{key}` must be \"auto\" or a number of workers from 1 to 1024"), None);
            None
        }
    }
}

pub(super) fn tls_addrs(r: &mut Reader<'_>, obj: Obj<'_>) -> Vec<SocketAddr> {
    addrs_of(r, obj, "listen_tls")
}

pub(super) fn addrs(r: &mut Reader<'_>, obj: Obj<'_>) -> Vec<SocketAddr> {
    addrs_of(r, obj, "listen")
}

fn addrs_of(r: &mut Reader<'_>, obj: Obj<'_>, key: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for a in r.str_list(obj, key) {
        match a.value.parse::<SocketAddr>() {
            Ok(addr) => out.push(addr),
            Err(_) => r.error(
                a.span,
                format!("`{}` is not an address and port", a.value),
                Some("write it like \"127.0.0.1:8080\" or \"[::1]:8080\"".into()),
            ),
        }
    }
    out
}

/// `[admin]` and `[access_log]`.
pub(super) fn read_observability(r: &mut Reader<'_>, root: Obj<'_>, config: &mut Config) {
    if let Some(item) = r.item(root, "admin")
        && let Some(o) = r.obj(item, "[admin]")
    {
        r.allow_keys(o, ADMIN_KEYS);
        let allow_remote = r.bool(o, "allow_remote", false);
        let mut addr = SocketAddr::from(([127, 0, 0, 1], 9901));
        if let Some(a) = r.opt_str(o, "listen") {
            match a.value.parse::<SocketAddr>() {
                Ok(parsed) if !parsed.ip().is_loopback() && !allow_remote => r.error(
                    a.span,
                    format!("the admin listener `{}` is not a loopback address", a.value),
                    Some("metrics and the config view are for operators: keep it on 127.0.0.1, or set allow_remote = true".into()),
                ),
                Ok(parsed) => addr = parsed,
                Err(_) => r.error(
                    a.span,
                    format!("`{}` is not an address and port", a.value),
                    Some("write it like \"127.0.0.1:9901\"".into()),
                ),
            }
        }
        if config.listen.contains(&addr) {
            let span = r.item(o, "listen").and_then(|i| i.span()).or(o.span());
            r.error(
                span,
                format!("the admin listener `{addr}` is also a gateway listener"),
                Some("give the admin listener an address of its own".into()),
            );
        }
        if r.item(o, "token_env").is_some() && r.item(o, "token_file").is_some() {
            r.error(o.span(), "[admin] has both `token_env` and `token_file`", Some("give one of them".into()));
        }
        let token = super::read_secret(r, o, "token_env", "token_file");
        if let Some(Some(t)) = &token
            && (t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            let span = r.item(o, "token_env").or(r.item(o, "token_file")).and_then(|i| i.span());
            r.error(
                span,
                "the admin token is too weak",
                Some("use at least 16 printable ASCII characters, e.g. `openssl rand -hex 32`".into()),
            );
        }
        if allow_remote && token.is_none() {
            let span = r.item(o, "allow_remote").and_then(|i| i.span());
            r.error(
                span,
                "an admin listener open to the network needs a token",
                Some("add token_file = \"admin-token\" (or token_env = \"VAR\"): it can flush caches and read /config and /usage".into()),
            );
        }
        config.admin = Some(crate::table::Admin { addr, token: token.flatten() });
    }
    if let Some(item) = r.item(root, "access_log")
        && let Some(o) = r.obj(item, "[access_log]")
    {
        r.allow_keys(o, ACCESS_LOG_KEYS);
        config.access_log.buffer_bytes = r.int(o, "buffer_bytes", 256 * 1024, 4096, 1 << 30) as usize;
    }
}

pub(super) fn read_limits(r: &mut Reader<'_>, root: Obj<'_>, config: &mut Config) {
    if let Some(item) = r.item(root, "limits")
        && let Some(o) = r.obj(item, "[limits]")
    {
        r.allow_keys(o, LIMITS_KEYS);
        let l = &mut config.limits;
        l.max_header_bytes = r.int(o, "max_header_bytes", 10_240, 256, 1 << 20) as usize;
        l.max_header_count = r.int(o, "max_header_count", 100, 1, HEADER_COUNT_CEILING as i64) as usize;
        l.max_uri_bytes = r.int(o, "max_uri_bytes", 8192, 64, 1 << 20) as usize;
        l.max_body_bytes = r.int(o, "max_body_bytes", 10 * 1024 * 1024, 0, i64::MAX) as u64;
        l.header_timeout_ms = r.int(o, "header_timeout_ms", 10_000, 1, DAY_MS) as u64;
        l.idle_timeout_ms = r.int(o, "idle_timeout_ms", 60_000, 1, DAY_MS) as u64;
        l.body_timeout_ms = r.int(o, "body_timeout_ms", 30_000, 1, DAY_MS) as u64;
        l.body_deadline_ms = r.int(o, "body_deadline_ms", 60_000, 1, DAY_MS) as u64;
        l.buffer_body_bytes = r.int(o, "buffer_body_bytes", 64 * 1024, 0, 64 << 20) as u64;
    }
    if let Some(item) = r.item(root, "upstream")
        && let Some(o) = r.obj(item, "[upstream]")
    {
        r.allow_keys(o, UPSTREAM_KEYS);
        let u = &mut config.upstream;
        u.connect_timeout_ms = r.int(o, "connect_timeout_ms", 5000, 1, DAY_MS) as u64;
        u.pool_idle_max_per_upstream = r.int(o, "pool_idle_max_per_upstream", 1024, 0, 1 << 20) as usize;
        u.pool_idle_timeout_ms = r.int(o, "pool_idle_timeout_ms", 60_000, 1, DAY_MS) as u64;
        u.ca_bundle = r.opt_str(o, "ca_bundle").map(|p| super::resolve_path(r.file, p.value));
        u.insecure_skip_verify = r.bool(o, "insecure_skip_verify", false);
        u.allow_link_local = r.bool(o, "allow_link_local", false);
    }
}
