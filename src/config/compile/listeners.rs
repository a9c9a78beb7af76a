//! Listeners: every address once, plain or TLS (not both), with the APIs and custom domains it
//! serves — their own `listen`, or the `[server]` ones. Base-path mappings are sorted longest
//! first, as stage selection wants them.

use std::net::SocketAddr;

use super::Errors;
use crate::config::model::Config;
use crate::table::{Domain, Listener, Mapping};

pub(super) fn assign(errors: &mut Errors<'_>, config: &Config) -> (Vec<Listener>, Vec<Domain>) {
    let mut listeners: Vec<Listener> = Vec::new();
    // An address serves either plain HTTP or TLS; asking for both is an error reported below.
    let mut mixed: Vec<SocketAddr> = Vec::new();
    let mut listener_for = |addr: SocketAddr, tls: bool, listeners: &mut Vec<Listener>| -> usize {
        match listeners.iter().position(|l| l.addr == addr) {
            Some(i) => {
                if listeners[i].tls != tls && !mixed.contains(&addr) {
                    mixed.push(addr);
                }
                i
            }
            None => {
                listeners.push(Listener { addr, tls, apis: Vec::new(), domains: Vec::new() });
                listeners.len() - 1
            }
        }
    };
    for addr in &config.listen {
        listener_for(*addr, false, &mut listeners);
    }
    for addr in &config.listen_tls {
        listener_for(*addr, true, &mut listeners);
    }
    // APIs and domains without their own `listen` are served on every `[server]` listener, plain
    // and TLS.
    let server_listeners: Vec<(SocketAddr, bool)> =
        config.listen.iter().map(|a| (*a, false)).chain(config.listen_tls.iter().map(|a| (*a, true))).collect();
    for (i, api) in config.apis.iter().enumerate() {
        let own: Vec<(SocketAddr, bool)> =
            api.listen.iter().map(|a| (*a, false)).chain(api.listen_tls.iter().map(|a| (*a, true))).collect();
        let addrs = if own.is_empty() { &server_listeners } else { &own };
        for &(addr, tls) in addrs {
            let l = listener_for(addr, tls, &mut listeners);
            listeners[l].apis.push(i as u32);
        }
    }
    let mut domains = Vec::new();
    for (i, d) in config.domains.iter().enumerate() {
        let mut mappings: Vec<Mapping> = d
            .mappings
            .iter()
            .map(|m| Mapping { base_path: m.base_path.clone(), api: m.api as u32, stage: m.stage as u32 })
            .collect();
        mappings.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
        domains.push(Domain { name: d.name.value.clone(), mappings, mtls: d.mtls.is_some() });
        let own: Vec<(SocketAddr, bool)> =
            d.listen.iter().map(|a| (*a, false)).chain(d.listen_tls.iter().map(|a| (*a, true))).collect();
        let addrs = if own.is_empty() { &server_listeners } else { &own };
        if d.mtls.is_some() && !addrs.iter().any(|(_, tls)| *tls) {
            errors.at(
                d.name.span.clone(),
                format!("domain `{}` has `mtls` but there is no TLS listener", d.name.value),
                Some("add [server] listen_tls".into()),
            );
        }
        // Mutual TLS is a TLS matter: such a domain is not served on plain listeners.
        for &(addr, tls) in addrs.iter().filter(|(_, tls)| *tls || d.mtls.is_none()) {
            let l = listener_for(addr, tls, &mut listeners);
            listeners[l].domains.push(i as u32);
        }
    }
    for addr in &mixed {
        errors.whole_file(format!("`{addr}` is used both as a plain listener (`listen`) and a TLS one (`listen_tls`)"));
    }
    // `[server] listen` addresses that every API and domain replaced with its own serve nothing.
    listeners.retain(|l| !l.apis.is_empty() || !l.domains.is_empty());
    (listeners, domains)
}
