//! Stage selection: which API and stage a request is for, and the path the router sees.
//!
//! Order: a custom domain matching `Host` selects API and stage by its base-path mappings (longest
//! first); otherwise the listener's APIs whose `hosts` list the host or, if none does, those with no
//! `hosts`; within
//! an API the first path segment names the stage, or the `$default` stage takes the whole path.
//! Allocation-free: the result is indexes and an offset.

use crate::table::Protocol;
use crate::table::loaded::LoadedTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub api: u32,
    pub stage: u32,
    /// Where the routed path starts in the request path (after the stage or base path).
    pub path_offset: usize,
    /// The custom domain that selected it, if any.
    pub domain: Option<u32>,
}

/// The request path with `offset` bytes removed, as the router wants it (always starting with `/`).
pub fn routed_path(path: &[u8], offset: usize) -> &[u8] {
    match &path[offset..] {
        [] => b"/",
        rest => rest,
    }
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
        assert_eq!(routed_path(b"/prod", 5), b"/");
        assert_eq!(routed_path(b"/prod/pets", 5), b"/pets");
    }
}
