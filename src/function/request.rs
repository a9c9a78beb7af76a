//! The event of one routed request, assembled from the request head, its context and the table:
//! which headers a function sees (not hop-by-hop ones, path overrides, client-certificate
//! headers, and, from a peer outside `trusted_proxies`, forwarding headers; `X-Forwarded-*` added
//! as AWS adds them), path parameters, whether the body is sent base64-encoded — then written by
//! [`super::event`]. Function integrations and function authorizers use it.
//!
//! Must not: know the client connection (the caller gives [`Caller`]). Cost: the header list and
//! path parameters live on the stack.

use smallvec::SmallVec;

use super::event;
use crate::context::request_id::RequestId;
use crate::context::{Context, RequestBody};
use crate::http::head::RequestHead;
use crate::http::{is_forwarding_header, is_hop_by_hop, is_path_override, named_in_connection};
use crate::table::{Protocol, Table};

/// What the event is built from besides the request.
pub struct Sources<'a> {
    pub table: &'a Table,
    /// Header names that carry client-certificate fields on some mutual-TLS domain.
    pub mtls_header_names: &'a [String],
}

/// Who sent the request, as the event tells it.
pub struct Caller<'a> {
    pub peer: std::net::IpAddr,
    /// The port the request came in on (`X-Forwarded-Port`).
    pub local_port: u16,
    pub tls: bool,
    pub client_cert: Option<&'a crate::tls::client_cert::ClientCert>,
}

/// Writes the event for the routed request `head` (its API, stage, route and body in `ctx`) in
/// `format`.
pub fn write_event(
    out: &mut Vec<u8>,
    sources: &Sources<'_>,
    (head, ctx): (&RequestHead, &Context),
    caller: &Caller<'_>,
    request_id: &str,
    format: crate::table::PayloadFormat,
) {
    let table = sources.table;
    let (api_index, stage_index) = ctx.api_stage.unwrap_or_default();
    let api = &table.apis[api_index as usize];
    let stage = &api.stages[stage_index as usize];
    let route = ctx.route.map_or(&api.routes[0], |r| &api.routes[r as usize]);
    let settings = &table.settings;
    let peer = caller.peer;
    let trusted = settings.trusted_proxies.iter().any(|net| net.contains(&peer));
    let client_cert_header =
        |name: &[u8]| sources.mtls_header_names.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name));
    let rest = api.protocol == Protocol::Rest;
    let mut forwarded_for: SmallVec<[u8; 48]> = SmallVec::new();
    crate::http::encode::ip(&mut forwarded_for, peer);
    let mut port = itoa::Buffer::new();
    let mut headers: SmallVec<[(&[u8], &[u8]); 32]> = SmallVec::new();
    let signed = ctx.authorized.iam().is_some();
    for (name, value) in head.headers() {
        // HTTP APIs keep the request's length in the event; REST APIs leave it out (as AWS does).
        let length = name.eq_ignore_ascii_case(b"content-length");
        // AWS drops a verified SigV4 `Authorization` before anything sees it.
        let dropped = ((rest || !length) && is_hop_by_hop(name))
            || (signed && name.eq_ignore_ascii_case(b"authorization"))
            || is_path_override(name)
            || client_cert_header(name)
            || (!trusted && is_forwarding_header(name))
            || named_in_connection(name, head.values(b"connection"));
        if !dropped {
            headers.push((name, value));
        }
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-for")) {
        headers.push((b"X-Forwarded-For", &forwarded_for));
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-port")) {
        headers.push((b"X-Forwarded-Port", port.format(caller.local_port).as_bytes()));
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-proto")) {
        headers.push((b"X-Forwarded-Proto", if caller.tls { b"https" } else { b"http" }));
    }

    let routed_path = ctx.routed_path(head);
    let path_parameters: SmallVec<[(&str, &[u8]); 4]> = route
        .params
        .iter()
        .zip(&ctx.captures)
        .map(|(name, &(s, e))| (name.as_str(), &routed_path[s as usize..e as usize]))
        .collect();
    let body = match &ctx.body {
        RequestBody::Buffered(b) if !b.is_empty() => Some(&b[..]),
        _ => None,
    };
    let content_type = head.first(b"content-type");
    let base64 = body.is_some_and(|b| {
        std::str::from_utf8(b).is_err()
            || match rest {
                true => content_type.is_some_and(|t| media_type_matches(&api.binary_media_types, t)),
                false => content_type.is_some_and(|t| !is_text(t)),
            }
    });
    let extended = RequestId::new(Protocol::Http);
    let time_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let api_key =
        ctx.identity.api_key.and_then(|k| table.api_keys.get(k as usize)).map(|k| (k.name.as_str(), k.value.as_str()));
    let request = event::Request {
        format,
        rest,
        method: head.method_bytes(),
        full_path: head.raw_path(),
        path: routed_path,
        query: head.query(),
        headers: &headers,
        route_key: &route.key,
        path_parameters: &path_parameters,
        stage: &stage.name,
        stage_variables: &stage.variables,
        body,
        base64,
        request_id,
        extended_request_id: extended.as_str(),
        time_ms,
        source_ip: peer,
        api_id: &api.name,
        domain_name: head.host_name().unwrap_or_default(),
        api_key,
        client_cert: caller.client_cert,
        protocol: if head.version_minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" },
        jwt: match &ctx.authorized {
            crate::context::auth::Authorized::Jwt(claims) => Some(claims),
            _ => None,
        },
        function_identity: match &ctx.authorized {
            crate::context::auth::Authorized::Function(identity) => Some(identity),
            _ => None,
        },
        iam: ctx.authorized.iam(),
    };
    event::write(out, &request);
}

/// Whether `value` (a content type, parameters allowed) matches one of `patterns` (`*/*`,
/// `image/*`, `image/png`; lower-case).
pub fn media_type_matches(patterns: &[String], value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let Some(slash) = essence.iter().position(|&b| b == b'/') else { return false };
    let (kind, sub) = (&essence[..slash], &essence[slash + 1..]);
    patterns.iter().any(|p| {
        let (pk, ps) = p.split_once('/').unwrap_or((p, ""));
        (pk == "*" || kind.eq_ignore_ascii_case(pk.as_bytes()))
            && (ps == "*" || sub.eq_ignore_ascii_case(ps.as_bytes()))
    })
}

/// HTTP APIs: content types whose bodies a function gets as text; anything else is base64.
pub fn is_text(value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let lower: SmallVec<[u8; 64]> = essence.iter().map(u8::to_ascii_lowercase).collect();
    let lower = &lower[..];
    lower.starts_with(b"text/")
        || lower.ends_with(b"/json")
        || lower.ends_with(b"+json")
        || lower.ends_with(b"/xml")
        || lower.ends_with(b"+xml")
        || lower == b"application/javascript"
        || lower == b"application/ecmascript"
        || lower == b"application/graphql"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_match_with_wildcards_and_parameters() {
        let patterns = ["image/*".to_owned(), "application/octet-stream".to_owned()];
        assert!(media_type_matches(&patterns, b"image/png"));
        assert!(media_type_matches(&patterns, b"Application/Octet-Stream; charset=x"));
        assert!(!media_type_matches(&patterns, b"text/plain"));
        assert!(!media_type_matches(&patterns, b"garbage"));
        assert!(media_type_matches(&["*/*".to_owned()], b"text/html"));
    }

    #[test]
    fn text_types_of_http_apis() {
        for t in ["text/plain", "application/json; charset=utf-8", "application/vnd.api+json", "application/xml"] {
            assert!(is_text(t.as_bytes()), "{t}");
        }
        for t in ["image/png", "application/octet-stream", "application/x-www-form-urlencoded"] {
            assert!(!is_text(t.as_bytes()), "{t}");
        }
    }
}
