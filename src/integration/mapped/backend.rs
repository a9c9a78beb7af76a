//! The backend of a non-proxy integration: [`write`] puts the request on the wire form and
//! [`exchange`] sends it and reads the answer whole.
//!
//! - An HTTP backend gets the integration's method and URI (path parameters as received, or as
//!   `requestOverride.path` sets them), its fixed query and the mapped query parameters, `Host`,
//!   the mapped headers and the overrides, the body's content type (a mapped `Content-Type`
//!   wins) and the body.
//! - An AWS service gets the same, SigV4-signed for its service and region with the
//!   integration's credentials: every header it is sent is signed, with `x-amz-date`,
//!   `x-amz-content-sha256` and the session token.
//! - A function gets the rendered body as its event (invoked through [`crate::function`]); its
//!   answer's selector is the `errorMessage` of a function error.
//!
//! Must not: choose templates or integration responses. Cost: the head is gathered as a list
//! (the signature needs every header) and written once into the connection's buffer.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;
use smallvec::SmallVec;

use super::request::Prepared;
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::function::invoke;
use crate::http::head::RequestHead;
use crate::http::response_head::ResponseHead;
use crate::http::{Method, breaks_header, encode, is_token};
use crate::loaded::LoadedTable;
use crate::mapping::{self, Form};
use crate::outbound::Outbound;
use crate::outbound::client::{self, Call as Fetch};
use crate::table::UriPart;
use crate::table::mapping::Target;
use crate::table::templates::{AwsBackend, Backend, HttpBackend, Mapped};
use crate::vars::Fields;

const NO_HOST: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "the function's local host could not start");

/// What a backend answered, for the integration responses.
pub struct Answer {
    /// The HTTP status (a function's invocation: 200).
    pub status: u16,
    /// What selection patterns match.
    pub selector: Selector,
    /// The response head and its bytes (`integration.response.header.X`), from an HTTP backend.
    pub head: Option<(ResponseHead, Bytes)>,
    /// Its `Content-Type`: a slice of the head (no copy), or a function's `application/json`.
    pub content_type: Option<Bytes>,
    pub body: Bytes,
}

/// What an answer's selection patterns are matched against.
pub enum Selector {
    /// The status code, as text (HTTP and AWS service backends).
    Status,
    /// A function error's `errorMessage`.
    ErrorMessage(String),
    /// Nothing: a function that did not fail takes the default response.
    Default,
}

impl Answer {
    /// The `Content-Type` as text (borrowed unless it is not UTF-8).
    pub fn content_type(&self) -> Option<Cow<'_, str>> {
        self.content_type.as_deref().map(super::request::text)
    }

    /// The text selection patterns are matched against, written into `digits` for a status.
    pub fn selector<'s>(&'s self, digits: &'s mut itoa::Buffer) -> Option<&'s str> {
        match &self.selector {
            Selector::Status => Some(digits.format(self.status)),
            Selector::ErrorMessage(m) => Some(m),
            Selector::Default => None,
        }
    }
}

/// A request written and ready to go.
pub enum Call<'t> {
    /// `out` holds the whole request.
    Http { target: &'t client::Target, idempotent: bool, head_request: bool },
    /// The function gets the prepared body as its event.
    Function(invoke::Target<'t>),
}

/// Writes the request for `mapped`'s backend into `out` (for a function: nothing — the invoker
/// writes its own request around the event).
pub fn write<'t>(
    table: &'t LoadedTable,
    fields: &Fields<'_>,
    (head, ctx): (&RequestHead, &Context),
    mapped: &'t Mapped,
    prepared: &Prepared<'_>,
    out: &mut Vec<u8>,
) -> Result<Call<'t>, GatewayError> {
    out.clear();
    let http = match &mapped.backend {
        Backend::Function { function, qualifier_query } => {
            return table.function_target(*function, qualifier_query.as_deref()).map(Call::Function).ok_or(NO_HOST);
        }
        Backend::Http(h) => h,
        Backend::Aws(a) => &a.http,
    };
    let names = crate::request_vars::route_params(table, ctx);
    let r = mapping::Request { head, ctx, params: names, fields, response: None };
    let method = http.method.as_deref().map_or(head.method_bytes(), str::as_bytes);
    let authority = &table.upstream_authorities[http.upstream as usize];
    let outgoing = outgoing(http, &r, authority, prepared);
    match &mapped.backend {
        Backend::Aws(aws) => write_signed(out, method, aws, &outgoing, &prepared.body),
        _ => write_plain(out, method, &outgoing, &[], &prepared.body),
    }
    let backend_method = Method::from_bytes(method);
    Ok(Call::Http {
        target: &table.upstream_targets[http.upstream as usize],
        idempotent: backend_method.is_idempotent(),
        head_request: backend_method == Method::Head,
    })
}

/// Sends a written request and reads the answer whole, within the integration's timeout.
pub async fn exchange(
    outbound: Outbound<'_>,
    table: &LoadedTable,
    mapped: &Mapped,
    call: Call<'_>,
    prepared: &Prepared<'_>,
    out: &mut Vec<u8>,
) -> Result<Answer, GatewayError> {
    let settings = &table.table.settings;
    let timeout = Duration::from_millis(mapped.timeout_ms);
    match call {
        Call::Function(target) => {
            let write = |out: &mut Vec<u8>| out.extend_from_slice(&prepared.body);
            // Boxed: a function's call is the larger future (~4 KB), and an HTTP backend's
            // request should not carry its room (`pipeline::run` holds this one inline).
            let invoked = Box::pin(invoke::invoke(outbound, settings, &target, timeout, out, write)).await?;
            let selector = match invoked.function_error {
                true => Selector::ErrorMessage(error_message(&invoked.payload)),
                false => Selector::Default,
            };
            Ok(Answer {
                status: invoked.status,
                selector,
                head: None,
                content_type: Some(Bytes::from_static(b"application/json")),
                body: invoked.payload,
            })
        }
        Call::Http { target, idempotent, head_request } => {
            let fetch = Fetch { idempotent, head_request, ..Fetch::new(target, Instant::now() + timeout, settings) };
            let max_idle = settings.upstream.pool_idle_max_per_upstream;
            let max_body = settings.limits.max_body_bytes;
            let fetched = client::fetch(outbound.pool, outbound.counters, &fetch, out, max_body, max_idle).await?;
            Ok(Answer {
                status: fetched.status,
                selector: Selector::Status,
                content_type: fetched.header(b"content-type").map(|c| fetched.head.slice_ref(c)),
                body: fetched.body,
                head: Some((fetched.parsed, fetched.head)),
            })
        }
    }
}

/// A function error's `errorMessage` (AWS matches selection patterns against it); empty when
/// the error object has none.
fn error_message(payload: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(rename = "errorMessage")]
        error_message: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Error>(payload).ok().and_then(|e| e.error_message) {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// One header of a backend request: a name and a value, borrowed where they can be.
pub type Header<'a> = (Cow<'a, str>, Cow<'a, [u8]>);

/// A backend request's line and headers but the framing; on the stack for a typical request
/// (a target up to 256 bytes, up to 8 headers).
pub struct Outgoing<'a> {
    /// The path, then the query from `query_at` (with its `?`).
    pub target: SmallVec<[u8; 256]>,
    pub query_at: usize,
    pub headers: SmallVec<[Header<'a>; 8]>,
}

/// The integration's URI (path parameters as received, or overridden), its fixed query and the
/// mapped query parameters, `Host`, the mapped headers and the overrides, and the content type.
fn outgoing<'a>(
    http: &HttpBackend,
    r: &mapping::Request<'_>,
    authority: &'a str,
    prepared: &'a Prepared<'_>,
) -> Outgoing<'a> {
    let mut target = SmallVec::<[u8; 256]>::new();
    let routed = r.ctx.routed_path(r.head);
    for part in &http.path {
        match part {
            UriPart::Literal(l) => target.extend_from_slice(l.as_bytes()),
            UriPart::Param(i) => {
                let name = r.params.get(*i as usize);
                match name.and_then(|n| prepared.path_overrides.iter().find(|(k, _)| k == n)) {
                    Some((_, v)) => {
                        target.extend(percent_encoding::utf8_percent_encode(v, mapping::COMPONENT).flat_map(str::bytes))
                    }
                    None => {
                        if let Some(&(s, e)) = r.ctx.captures.get(*i as usize) {
                            target.extend_from_slice(&routed[s as usize..e as usize]);
                        }
                    }
                }
            }
        }
    }
    let query_at = target.len();
    let mut first = true;
    let mut sep = |out: &mut SmallVec<[u8; 256]>| {
        out.push(if first { b'?' } else { b'&' });
        first = false;
    };
    if let Some(q) = &http.query {
        sep(&mut target);
        target.extend_from_slice(q.as_bytes());
    }
    let mut value = mapping::Value::new();
    let encode = |out: &mut SmallVec<[u8; 256]>, s: &str| {
        out.extend(percent_encoding::utf8_percent_encode(s, mapping::COMPONENT).flat_map(str::bytes))
    };
    for m in &http.request_mappings {
        if let Target::Query(name) = &m.target
            && !prepared.query_overrides.iter().any(|(k, _)| k == name)
            && mapping::value(&m.value, r, Form::Url, &mut value)
        {
            sep(&mut target);
            encode(&mut target, name);
            target.push(b'=');
            target.extend_from_slice(&value);
        }
    }
    for (name, v) in &prepared.query_overrides {
        sep(&mut target);
        encode(&mut target, name);
        target.push(b'=');
        encode(&mut target, v);
    }

    let mut headers: SmallVec<[Header<'a>; 8]> = SmallVec::new();
    headers.push((Cow::Borrowed("Host"), Cow::Borrowed(authority.as_bytes())));
    // What the gateway writes itself: the host, the framing.
    const OWN: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];
    let sendable = |name: &str, value: &[u8]| {
        is_token(name.as_bytes()) && !breaks_header(value) && !OWN.iter().any(|f| name.eq_ignore_ascii_case(f))
    };
    for m in &http.request_mappings {
        if let Target::Header(name) = &m.target
            && !prepared.header_overrides.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
            && mapping::value(&m.value, r, Form::Header, &mut value)
            && sendable(name, &value)
        {
            headers.push((Cow::Owned(name.clone()), Cow::Owned(value.to_vec())));
        }
    }
    for (name, v) in &prepared.header_overrides {
        if sendable(name, v.as_bytes()) {
            headers.push((Cow::Borrowed(name.as_str()), Cow::Borrowed(v.as_bytes())));
        }
    }
    // The body's own type unless a mapping or an override set one.
    if let Some(ct) = &prepared.content_type
        && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        && !breaks_header(ct.as_bytes())
    {
        headers.push((Cow::Borrowed("Content-Type"), Cow::Borrowed(ct.as_bytes())));
    }
    Outgoing { target, query_at, headers }
}

/// The request line, `o`'s headers, then `extra` (the signature's), the length and the body.
fn write_plain(out: &mut Vec<u8>, method: &[u8], o: &Outgoing<'_>, extra: &[(&[u8], &[u8])], body: &[u8]) {
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(&o.target);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in o.headers.iter().map(|(n, v)| (n.as_bytes(), &v[..])).chain(extra.iter().copied()) {
        encode::header(out, name, value);
    }
    encode::header_u64(out, b"Content-Length", body.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// As [`write_plain`], with the SigV4 headers over everything sent.
fn write_signed(out: &mut Vec<u8>, method: &[u8], aws: &AwsBackend, o: &Outgoing<'_>, body: &[u8]) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let amz_date = crate::sigv4::amz_date(now);
    let hash = crate::sigv4::payload_hash(body);
    let mut added: Vec<(&[u8], &[u8])> =
        vec![(b"X-Amz-Date", amz_date.as_bytes()), (b"X-Amz-Content-Sha256", hash.as_bytes())];
    if let Some(token) = &aws.credentials.session_token {
        added.push((b"X-Amz-Security-Token", token.as_bytes()));
    }
    // Signed: every header sent, the length too.
    let length = body.len().to_string();
    let mut signed: Vec<(String, String)> = o
        .headers
        .iter()
        .map(|(n, v)| (n.as_ref(), &v[..]))
        .chain(added.iter().map(|&(n, v)| (std::str::from_utf8(n).unwrap_or_default(), v)))
        .map(|(n, v)| (n.to_ascii_lowercase(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    signed.push(("content-length".into(), length));
    let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let target = String::from_utf8_lossy(&o.target);
    let (path, query) = target.split_at(o.query_at.min(target.len()));
    let request = crate::sigv4::Request {
        method: std::str::from_utf8(method).unwrap_or("POST"),
        path: if path.is_empty() { "/" } else { path },
        query: query.strip_prefix('?').unwrap_or(query),
        headers: &pairs,
        payload_hash: &hash,
    };
    let scope = crate::sigv4::Scope { amz_date: &amz_date, region: &aws.region, service: &aws.service };
    let credentials = crate::sigv4::Credentials {
        access_key_id: &aws.credentials.access_key_id,
        secret_access_key: &aws.credentials.secret_access_key,
    };
    let authorization = crate::sigv4::sign(credentials, &scope, &request);
    added.push((b"Authorization", authorization.as_bytes()));
    write_plain(out, method, o, &added, body);
}
