//! Step 1, stage: the path's one normal form, then which API and stage a request is for, and the
//! path the router sees.
//!
//! Order: a custom domain matching `Host` selects API and stage by its base-path mappings (longest
//! first); otherwise the listener's APIs whose `hosts` list the host or, if none does, those with no
//! `hosts`; within
//! an API the first path segment names the stage, or the `$default` stage takes the whole path.
//! Allocation-free: the result is indexes and an offset.

use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::table::Protocol;

/// Step 1: normalises the path ([`normalize_and_select`]) and selects API and stage into `ctx`.
pub fn step(table: &LoadedTable, listener: u32, head: &mut RequestHead, ctx: &mut Context) -> Result<(), GatewayError> {
    match normalize_and_select(table, listener, head) {
        Ok(target) => {
            ctx.api_stage = Some((target.api, target.stage));
            ctx.domain = target.domain;
            ctx.path_offset = target.path_offset;
            ctx.protocol = table.table.apis[target.api as usize].protocol;
            Ok(())
        }
        Err(Unselected::NoStage(protocol)) => {
            ctx.protocol = protocol;
            Err(GatewayError::NO_MATCH)
        }
        Err(Unselected::BadPath(protocol, detail)) => {
            ctx.protocol = protocol;
            Err(GatewayError::new(ResponseType::BadRequest, detail))
        }
    }
}

/// Why no API and stage could be selected, with the API kind whose error shape to use.
pub enum Unselected {
    NoStage(Protocol),
    BadPath(Protocol, &'static str),
}

/// Normalises the path with the gateway's rules and selects API and stage. When that API has
/// rules of its own, the path as received is normalised again with them and must select the same
/// API: an API's rules cannot be used to reach another API. When the gateway's rules refuse the
/// path, an API whose own rules accept it and select that API serves it (the rare path: at most
/// one try per distinct set of rules).
pub fn normalize_and_select(table: &LoadedTable, listener: u32, head: &mut RequestHead) -> Result<Target, Unselected> {
    let gateway_rules = &table.table.settings.paths;
    if let Err(detail) = head.normalize(gateway_rules) {
        let apis = &table.table.apis;
        for (i, api) in apis.iter().enumerate() {
            let rules = &api.paths;
            if rules == gateway_rules || apis[..i].iter().any(|a| a.paths == *rules) {
                continue;
            }
            if head.normalize(rules).is_ok()
                && let Ok(target) = select(table, listener, head.host_name(), head.path())
                && apis[target.api as usize].paths == *rules
            {
                return Ok(target);
            }
        }
        return Err(Unselected::BadPath(listener_protocol(table, listener), detail));
    }
    let target = select(table, listener, head.host_name(), head.path()).map_err(Unselected::NoStage)?;
    let api = &table.table.apis[target.api as usize];
    if api.paths == *gateway_rules {
        return Ok(target);
    }
    let bad = |detail| Unselected::BadPath(api.protocol, detail);
    head.normalize(&api.paths).map_err(bad)?;
    match select(table, listener, head.host_name(), head.path()) {
        Ok(again) if again.api == target.api => Ok(again),
        _ => Err(bad("the path selects another API under this API's path rules")),
    }
}

/// The API kind whose error shapes a listener uses before any API is known (malformed requests).
pub fn listener_protocol(table: &LoadedTable, listener: u32) -> Protocol {
    let t = &table.table;
    let Some(l) = t.listeners.get(listener as usize) else {
        return Protocol::Http;
    };
    let api = l.apis.first().copied().or_else(|| {
        let domain = &t.domains[*l.domains.first()? as usize];
        Some(domain.mappings.first()?.api)
    });
    api.map_or(Protocol::Http, |a| t.apis[a as usize].protocol)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub api: u32,
    pub stage: u32,
    /// Where the routed path starts in the request path (after the stage or base path).
    pub path_offset: usize,
    /// The custom domain that selected it, if any.
    pub domain: Option<u32>,
}

/// Selects API and stage; on failure returns the API kind whose "not found" response to send.
pub fn select(table: &LoadedTable, listener: u32, host: Option<&[u8]>, path: &[u8]) -> Result<Target, Protocol> {
    let t = &table.table;
    let Some(listener) = t.listeners.get(listener as usize) else {
        return Err(Protocol::Http);
    };
    if let Some(host) = host {
        for &d in &listener.domains {
            let domain = &t.domains[d as usize];
            if !domain.name.as_bytes().eq_ignore_ascii_case(host) {
                continue;
            }
            // Mappings are sorted longest base path first by the compiler.
            for m in &domain.mappings {
                if let Some(offset) = strip_segments(path, &m.base_path) {
                    return Ok(Target { api: m.api, stage: m.stage, path_offset: offset, domain: Some(d) });
                }
            }
            return Err(t
                .apis
                .get(domain.mappings.first().map_or(0, |m| m.api) as usize)
                .map_or(Protocol::Http, |a| a.protocol));
        }
    }
    let host_matches =
        |hosts: &[String]| host.is_some_and(|h| hosts.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(h)));
    // An API that names this host owns it: requests for it never fall through to host-less APIs.
    let named_here = listener.apis.iter().any(|&a| host_matches(&t.apis[a as usize].hosts));
    let candidates = listener.apis.iter().filter(|&&a| {
        let hosts = &t.apis[a as usize].hosts;
        if named_here { host_matches(hosts) } else { hosts.is_empty() }
    });
    let mut fallback = None;
    for &a in candidates {
        let api = &t.apis[a as usize];
        fallback.get_or_insert(api.protocol);
        let first = first_segment(path);
        if let Some(s) = api.stages.iter().position(|s| !s.is_default() && s.name.as_bytes() == first) {
            return Ok(Target { api: a, stage: s as u32, path_offset: 1 + first.len(), domain: None });
        }
        if let Some(s) = api.stages.iter().position(|s| s.is_default()) {
            return Ok(Target { api: a, stage: s as u32, path_offset: 0, domain: None });
        }
    }
    Err(fallback.unwrap_or_else(|| listener.apis.first().map_or(Protocol::Http, |&a| t.apis[a as usize].protocol)))
}

fn first_segment(path: &[u8]) -> &[u8] {
    let rest = path.strip_prefix(b"/").unwrap_or(path);
    rest.iter().position(|&b| b == b'/').map_or(rest, |i| &rest[..i])
}

/// If `path` starts with the `base` segments (whole segments), returns the offset after them.
fn strip_segments(path: &[u8], base: &[String]) -> Option<usize> {
    let mut offset = 0;
    for segment in base {
        let rest = path[offset..].strip_prefix(b"/")?;
        let rest = rest.strip_prefix(segment.as_bytes())?;
        if !(rest.is_empty() || rest.starts_with(b"/")) {
            return None;
        }
        offset += 1 + segment.len();
    }
    Some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments() {
        assert_eq!(first_segment(b"/prod/pets"), b"prod");
        assert_eq!(first_segment(b"/prod"), b"prod");
        assert_eq!(strip_segments(b"/v1/pets", &["v1".into()]), Some(3));
        assert_eq!(strip_segments(b"/v1", &["v1".into()]), Some(3));
        assert_eq!(strip_segments(b"/v10/pets", &["v1".into()]), None);
        assert_eq!(strip_segments(b"/a/b/c", &["a".into(), "b".into()]), Some(4));
        assert_eq!(strip_segments(b"/x", &[]), Some(0));
    }
}
