//! The event a function receives for one request, written exactly as Amazon API Gateway builds it
//! for a Lambda proxy integration (`../shared/aws-behaviour.md` §1.2), in both payload formats.
//!
//! Format 1.0 (REST APIs; HTTP APIs that ask for it, with `"version":"1.0"`): `headers` with the
//! last value of each name and `multiValueHeaders` with all, names as the client spelled them
//! (the first spelling of a name wins); `queryStringParameters` (last value) and
//! `multiValueQueryStringParameters`, names and values percent-decoded (`+` is a space); path
//! parameters as received; `null` for every empty map and for no body; `requestContext` with
//! AWS's keys, `identity` full of `null`s but `sourceIp`, `userAgent`, the API key, and the client
//! certificate on mutual TLS.
//!
//! Format 2.0 (HTTP APIs): `rawPath`, `rawQueryString`, `cookies` (every `Cookie` header split at
//! `;`, and not among the headers), lower-case header names with duplicates comma-joined, query
//! parameters decoded and comma-joined, `requestContext.http`; empty maps, no cookies and no body
//! are left out rather than `null`.
//!
//! Must not: decide which headers the function sees or whether the body is base64 — the caller
//! knows the connection and the API ([`Request`] carries its choices). Cost: written straight into
//! the caller's buffer; strings that need no escaping are copied whole; a decoded query value is
//! built on the stack unless it is long.

use std::net::IpAddr;

use smallvec::SmallVec;

use super::result::PayloadFormat;
use crate::json::{escape, string, string_or_null};
use crate::tls::client_cert::ClientCert;

/// AWS's account id field: Portico has no accounts (AWS's documentation examples use this one).
pub const ACCOUNT_ID: &str = "123456789012";

/// Everything an event is made of, borrowed from the request and the table.
pub struct Request<'a> {
    pub format: PayloadFormat,
    /// A REST API (its 1.0 events carry no `version`, and its resource ids).
    pub rest: bool,
    pub method: &'a [u8],
    /// The path as received, with the stage or base path (`requestContext.path`).
    pub full_path: &'a [u8],
    /// The path the route matched, after the stage or base path (`path`, `rawPath`).
    pub path: &'a [u8],
    /// The query string after `?`, as received.
    pub query: Option<&'a [u8]>,
    /// The headers the function sees, in the order received (the caller has filtered them and
    /// added the forwarding ones).
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// `GET /pets/{id}` or `$default`.
    pub route_key: &'a str,
    /// Path parameters, names and values as captured.
    pub path_parameters: &'a [(&'a str, &'a [u8])],
    pub stage: &'a str,
    pub stage_variables: &'a [(String, String)],
    /// `None`: the request has no body (or an empty one).
    pub body: Option<&'a [u8]>,
    /// The body is sent base64-encoded (binary media).
    pub base64: bool,
    pub request_id: &'a str,
    pub extended_request_id: &'a str,
    pub time_ms: u64,
    pub source_ip: IpAddr,
    pub api_id: &'a str,
    /// The host the client asked for, without a port (`domainName`).
    pub domain_name: &'a [u8],
    /// `(key id, key value)` of the API key the request was admitted with.
    pub api_key: Option<(&'a str, &'a str)>,
    pub client_cert: Option<&'a ClientCert>,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub protocol: &'a str,
    /// What the route's JWT authorizer verified.
    pub jwt: Option<&'a crate::context::auth::JwtClaims>,
    /// What the route's function authorizer said.
    pub function_identity: Option<&'a crate::context::auth::FunctionIdentity>,
    /// Who signed an `AWS_IAM` request.
    pub iam: Option<&'a crate::context::auth::IamIdentity>,
}

impl Request<'_> {
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, v)| v)
    }

    /// The route key's path; for `$default`, the request path (as AWS gives it).
    fn resource(&self) -> &[u8] {
        match self.route_key.split_once(' ') {
            Some((_, path)) => path.as_bytes(),
            None => self.path,
        }
    }
}

/// Writes the event for `r` into `out` (appended).
pub fn write(out: &mut Vec<u8>, r: &Request<'_>) {
    match r.format {
        PayloadFormat::V1 => v1(out, r),
        PayloadFormat::V2 => v2(out, r),
    }
}

fn v1(out: &mut Vec<u8>, r: &Request<'_>) {
    out.push(b'{');
    if !r.rest {
        out.extend_from_slice(b"\"version\":\"1.0\",");
    }
    field(out, "resource", r.resource());
    field(out, "path", r.path);
    field(out, "httpMethod", r.method);
    entry(out, "headers", |out| headers_v1(out, r.headers, false));
    entry(out, "multiValueHeaders", |out| headers_v1(out, r.headers, true));
    entry(out, "queryStringParameters", |out| query(out, r.query, Values::Last));
    entry(out, "multiValueQueryStringParameters", |out| query(out, r.query, Values::List));
    entry(out, "pathParameters", |out| path_parameters(out, r.path_parameters, true));
    entry(out, "stageVariables", |out| stage_variables(out, r.stage_variables, true));

    key(out, "requestContext");
    out.push(b'{');
    field(out, "accountId", ACCOUNT_ID.as_bytes());
    field(out, "apiId", r.api_id.as_bytes());
    if let Some(jwt) = r.jwt {
        // AWS's 1.0 shape for JWT and Cognito authorizers: `{"claims": {...}, "scopes": [...]}`.
        key(out, "authorizer");
        jwt_claims(out, jwt);
        out.push(b',');
    }
    if let Some(identity) = r.function_identity {
        // AWS's 1.0 shape for function authorizers: the principal and the context side by side.
        key(out, "authorizer");
        out.push(b'{');
        if let Some(p) = &identity.principal {
            field(out, "principalId", p.as_bytes());
        }
        context_entries(out, identity);
        out.extend_from_slice(b"\"integrationLatency\":0},");
    }
    field(out, "domainName", r.domain_name);
    field(out, "domainPrefix", domain_prefix(r.domain_name));
    field(out, "extendedRequestId", r.extended_request_id.as_bytes());
    field(out, "httpMethod", r.method);
    key(out, "identity");
    out.push(b'{');
    let value_or_null = |out: &mut Vec<u8>, name: &str, value: Option<&str>| match value {
        Some(v) => field(out, name, v.as_bytes()),
        None => null_field(out, name),
    };
    value_or_null(out, "accessKey", r.iam.map(|i| i.access_key.as_str()));
    value_or_null(out, "accountId", r.iam.map(|i| i.account_id.as_str()));
    match r.api_key {
        Some((id, value)) => {
            field(out, "apiKey", value.as_bytes());
            field(out, "apiKeyId", id.as_bytes());
        }
        None if r.rest => {
            null_field(out, "apiKey");
            null_field(out, "apiKeyId");
        }
        None => {}
    }
    value_or_null(out, "caller", r.iam.map(|i| i.caller.as_str()));
    for name in [
        "cognitoAuthenticationProvider",
        "cognitoAuthenticationType",
        "cognitoIdentityId",
        "cognitoIdentityPoolId",
        "principalOrgId",
    ] {
        null_field(out, name);
    }
    ip_field(out, "sourceIp", r.source_ip);
    value_or_null(out, "user", r.iam.map(|i| i.caller.as_str()));
    key(out, "userAgent");
    string_or_null(out, r.header(b"user-agent"));
    out.push(b',');
    if let Some(cert) = r.client_cert {
        key(out, "clientCert");
        client_cert(out, cert);
        out.push(b',');
    }
    key(out, "userArn");
    string_or_null(out, r.iam.map(|i| i.user_arn.as_bytes()));
    out.extend_from_slice(b"},");
    field(out, "path", r.full_path);
    field(out, "protocol", r.protocol.as_bytes());
    field(out, "requestId", r.request_id.as_bytes());
    time_fields(out, ("requestTime", "requestTimeEpoch"), r.time_ms);
    out.push(b',');
    key(out, "resourceId");
    if r.rest {
        let id = resource_id(r.route_key);
        string(out, &id);
    } else {
        out.extend_from_slice(b"null");
    }
    out.push(b',');
    field(out, "resourcePath", r.resource());
    key(out, "stage");
    string(out, r.stage.as_bytes());
    out.extend_from_slice(b"},");

    entry(out, "body", |out| body(out, r));
    key(out, "isBase64Encoded");
    out.extend_from_slice(if r.base64 && r.body.is_some() { b"true" } else { b"false" });
    out.push(b'}');
}

fn v2(out: &mut Vec<u8>, r: &Request<'_>) {
    out.extend_from_slice(b"{\"version\":\"2.0\",");
    field(out, "routeKey", r.route_key.as_bytes());
    field(out, "rawPath", r.path);
    field(out, "rawQueryString", r.query.unwrap_or_default());
    let mut cookies = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
        .flat_map(|(_, v)| v.split(|&b| b == b';'))
        .map(|c| c.trim_ascii())
        .filter(|c| !c.is_empty())
        .peekable();
    if cookies.peek().is_some() {
        key(out, "cookies");
        out.push(b'[');
        for (i, cookie) in cookies.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, cookie);
        }
        out.extend_from_slice(b"],");
    }
    entry(out, "headers", |out| headers_v2(out, r.headers));
    if query_pairs(r.query).next().is_some() {
        entry(out, "queryStringParameters", |out| query(out, r.query, Values::Joined));
    }
    if !r.path_parameters.is_empty() {
        entry(out, "pathParameters", |out| path_parameters(out, r.path_parameters, false));
    }
    if !r.stage_variables.is_empty() {
        entry(out, "stageVariables", |out| stage_variables(out, r.stage_variables, false));
    }

    key(out, "requestContext");
    out.push(b'{');
    field(out, "accountId", ACCOUNT_ID.as_bytes());
    field(out, "apiId", r.api_id.as_bytes());
    if let Some(jwt) = r.jwt {
        out.extend_from_slice(b"\"authorizer\":{\"jwt\":");
        jwt_claims(out, jwt);
        out.extend_from_slice(b"},");
    }
    if let Some(iam) = r.iam {
        // AWS's 2.0 shape for IAM authorization.
        out.extend_from_slice(b"\"authorizer\":{\"iam\":{");
        field(out, "accessKey", iam.access_key.as_bytes());
        field(out, "accountId", iam.account_id.as_bytes());
        field(out, "callerId", iam.caller.as_bytes());
        field(out, "userArn", iam.user_arn.as_bytes());
        key(out, "userId");
        string(out, iam.caller.as_bytes());
        out.extend_from_slice(b"}},");
    }
    if let Some(identity) = r.function_identity {
        out.extend_from_slice(b"\"authorizer\":{\"lambda\":{");
        let len = out.len();
        context_entries(out, identity);
        if out.len() > len {
            out.pop();
        }
        out.extend_from_slice(b"}},");
    }
    if let Some(cert) = r.client_cert {
        key(out, "authentication");
        out.extend_from_slice(b"{\"clientCert\":");
        client_cert(out, cert);
        out.extend_from_slice(b"},");
    }
    field(out, "domainName", r.domain_name);
    field(out, "domainPrefix", domain_prefix(r.domain_name));
    key(out, "http");
    out.push(b'{');
    field(out, "method", r.method);
    field(out, "path", r.path);
    field(out, "protocol", r.protocol.as_bytes());
    ip_field(out, "sourceIp", r.source_ip);
    key(out, "userAgent");
    string(out, r.header(b"user-agent").unwrap_or_default());
    out.extend_from_slice(b"},");
    field(out, "requestId", r.request_id.as_bytes());
    field(out, "routeKey", r.route_key.as_bytes());
    field(out, "stage", r.stage.as_bytes());
    time_fields(out, ("time", "timeEpoch"), r.time_ms);
    out.extend_from_slice(b"},");
    if r.body.is_some() {
        entry(out, "body", |out| body(out, r));
    }
    key(out, "isBase64Encoded");
    out.extend_from_slice(if r.base64 && r.body.is_some() { b"true" } else { b"false" });
    out.push(b'}');
}

/// `"name":<JSON value>,` for each context entry (the values are JSON text already, checked when
/// the authorizer's answer was read).
fn context_entries(out: &mut Vec<u8>, identity: &crate::context::auth::FunctionIdentity) {
    for (name, json) in &identity.context {
        string(out, name.as_bytes());
        out.push(b':');
        out.extend_from_slice(json.as_bytes());
        out.push(b',');
    }
}

/// `{"claims":{...},"scopes":[...]}`: claim values as strings (as AWS passes them), no scopes
/// as `null`.
fn jwt_claims(out: &mut Vec<u8>, jwt: &crate::context::auth::JwtClaims) {
    out.extend_from_slice(b"{\"claims\":{");
    for (i, (name, value)) in jwt.claims.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name.as_bytes());
        out.push(b':');
        string(out, value.as_bytes());
    }
    out.extend_from_slice(b"},\"scopes\":");
    if jwt.scopes.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        out.push(b'[');
        for (i, scope) in jwt.scopes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, scope.as_bytes());
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// `"name":<value>,` with the value `write` writes.
fn entry(out: &mut Vec<u8>, name: &str, write: impl FnOnce(&mut Vec<u8>)) {
    key(out, name);
    write(out);
    out.push(b',');
}

fn key(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `"name":"value",`
fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    key(out, name);
    string(out, value);
    out.push(b',');
}

/// `"name":"192.0.2.1",` (an address needs no escaping).
fn ip_field(out: &mut Vec<u8>, name: &str, ip: IpAddr) {
    key(out, name);
    out.push(b'"');
    crate::http::encode::ip(out, ip.to_canonical());
    out.extend_from_slice(b"\",");
}

/// The request time in CLF and in epoch milliseconds: `"time":"…","timeEpoch":…` (no comma after).
fn time_fields(out: &mut Vec<u8>, (text, epoch): (&str, &str), time_ms: u64) {
    key(out, text);
    out.push(b'"');
    crate::request_time::clf(out, time_ms / 1000);
    out.extend_from_slice(b"\",");
    key(out, epoch);
    number(out, time_ms);
}

fn null_field(out: &mut Vec<u8>, name: &str) {
    key(out, name);
    out.extend_from_slice(b"null,");
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn body(out: &mut Vec<u8>, r: &Request<'_>) {
    match r.body {
        None => out.extend_from_slice(b"null"),
        Some(bytes) if r.base64 => {
            out.push(b'"');
            let start = out.len();
            let encoded = base64::encoded_len(bytes.len(), true).unwrap_or(0);
            out.resize(start + encoded, 0);
            let written =
                base64::Engine::encode_slice(&base64::engine::general_purpose::STANDARD, bytes, &mut out[start..])
                    .unwrap_or(0);
            out.truncate(start + written);
            out.push(b'"');
        }
        Some(bytes) => string(out, bytes),
    }
}

fn domain_prefix(host: &[u8]) -> &[u8] {
    host.split(|&b| b == b'.').next().unwrap_or(host)
}

/// AWS's resource ids are 6 lower-case letters and digits, fixed per resource: derived from the
/// route key here, so it is stable across reloads and nodes.
fn resource_id(route_key: &str) -> [u8; 6] {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    // FNV-1a: stable, no dependency, good enough to tell resources apart.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in route_key.as_bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut id = [0u8; 6];
    for c in &mut id {
        *c = ALPHABET[(hash % 36) as usize];
        hash /= 36;
    }
    id
}

fn client_cert(out: &mut Vec<u8>, cert: &ClientCert) {
    out.push(b'{');
    field(out, "clientCertPem", cert.pem.as_bytes());
    field(out, "subjectDN", cert.subject_dn.as_bytes());
    field(out, "issuerDN", cert.issuer_dn.as_bytes());
    field(out, "serialNumber", cert.serial_number.as_bytes());
    key(out, "validity");
    out.push(b'{');
    field(out, "notBefore", cert.not_before.as_bytes());
    key(out, "notAfter");
    string(out, cert.not_after.as_bytes());
    out.extend_from_slice(b"}}");
}

/// How the values of one key are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Values {
    /// The last one (1.0's single-value maps).
    Last,
    /// All, as an array (1.0's multi-value maps).
    List,
    /// All, comma-joined in one string (2.0).
    Joined,
}

/// Entries grouped by key in O(n log n) (a sort of their indexes), so that a request with many
/// headers or query parameters costs no more than its size: for each entry, whether it is the
/// first of its key, and the next entry with the same key, in the order received.
struct Groups {
    first: SmallVec<[bool; 32]>,
    next: SmallVec<[u32; 32]>,
}

const END: u32 = u32::MAX;

impl Groups {
    /// `fold`: keys compare case-insensitively (header names).
    fn of(keys: &[&[u8]], fold: bool) -> Groups {
        let n = keys.len();
        let cmp = |a: &[u8], b: &[u8]| {
            if fold { a.iter().map(u8::to_ascii_lowercase).cmp(b.iter().map(u8::to_ascii_lowercase)) } else { a.cmp(b) }
        };
        let mut order: SmallVec<[u32; 32]> = (0..n as u32).collect();
        order.sort_unstable_by(|&a, &b| cmp(keys[a as usize], keys[b as usize]).then(a.cmp(&b)));
        let mut first: SmallVec<[bool; 32]> = smallvec::smallvec![true; n];
        let mut next: SmallVec<[u32; 32]> = smallvec::smallvec![END; n];
        for pair in order.windows(2) {
            let (a, b) = (pair[0] as usize, pair[1] as usize);
            if cmp(keys[a], keys[b]).is_eq() {
                next[a] = b as u32;
                first[b] = false;
            }
        }
        Groups { first, next }
    }

    /// The entries of `i`'s key from `i` on, in the order received.
    fn members(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(i), |&j| Some(self.next[j]).filter(|&n| n != END).map(|n| n as usize))
    }
}

/// A JSON object with one entry per key, in the order keys first appear (`skip`ped entries left
/// out): `name` writes an entry's key (quoted), `value` an entry's value (escaped, unquoted).
fn grouped(
    out: &mut Vec<u8>,
    groups: &Groups,
    skip: impl Fn(usize) -> bool,
    mut name: impl FnMut(&mut Vec<u8>, usize),
    mut value: impl FnMut(&mut Vec<u8>, usize),
    values: Values,
) {
    out.push(b'{');
    let mut any = false;
    for i in (0..groups.first.len()).filter(|&i| groups.first[i] && !skip(i)) {
        if any {
            out.push(b',');
        }
        any = true;
        name(out, i);
        out.push(b':');
        match values {
            Values::Last => {
                out.push(b'"');
                value(out, groups.members(i).last().unwrap_or(i));
                out.push(b'"');
            }
            Values::List => {
                out.push(b'[');
                for (k, j) in groups.members(i).enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    out.push(b'"');
                    value(out, j);
                    out.push(b'"');
                }
                out.push(b']');
            }
            Values::Joined => {
                out.push(b'"');
                for (k, j) in groups.members(i).enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    value(out, j);
                }
                out.push(b'"');
            }
        }
    }
    out.push(b'}');
}

/// 1.0 headers: one entry per name (case-insensitive, the first spelling), with its last value
/// (`multi`: all values, in order); `null` when there are none.
fn headers_v1(out: &mut Vec<u8>, headers: &[(&[u8], &[u8])], multi: bool) {
    if headers.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    let names: SmallVec<[&[u8]; 32]> = headers.iter().map(|&(n, _)| n).collect();
    let groups = Groups::of(&names, true);
    let values = if multi { Values::List } else { Values::Last };
    grouped(
        out,
        &groups,
        |_| false,
        |out, i| string(out, headers[i].0),
        |out, i| escape(out, headers[i].1, true),
        values,
    );
}

/// 2.0 headers: lower-case names, duplicates comma-joined; `Cookie` is in `cookies` instead.
fn headers_v2(out: &mut Vec<u8>, headers: &[(&[u8], &[u8])]) {
    let names: SmallVec<[&[u8]; 32]> = headers.iter().map(|&(n, _)| n).collect();
    let groups = Groups::of(&names, true);
    let name = |out: &mut Vec<u8>, i: usize| {
        let name = headers[i].0;
        out.push(b'"');
        // Header names are tokens (the codec refuses anything else): nothing to escape.
        if name.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\') {
            out.extend(name.iter().map(u8::to_ascii_lowercase));
        } else {
            let lower: SmallVec<[u8; 64]> = name.iter().map(u8::to_ascii_lowercase).collect();
            escape(out, &lower, true);
        }
        out.push(b'"');
    };
    let cookie = |i: usize| headers[i].0.eq_ignore_ascii_case(b"cookie");
    grouped(out, &groups, cookie, name, |out, i| escape(out, headers[i].1, true), Values::Joined);
}

pub use crate::http::query::{decode_into, pairs as query_pairs};

/// Query parameters, decoded: 1.0 (`null` when none; the last value, or all with `multi`) or 2.0
/// (comma-joined). Each name and value is decoded once.
fn query(out: &mut Vec<u8>, query: Option<&[u8]>, values: Values) {
    let pairs: SmallVec<[(&[u8], &[u8]); 16]> = query_pairs(query).collect();
    if pairs.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    // Decoded names and values side by side in one buffer (on the stack for a short query).
    let mut text: SmallVec<[u8; 256]> = SmallVec::new();
    let mut spans: SmallVec<[(usize, usize, usize); 16]> = SmallVec::new();
    for (name, value) in &pairs {
        let start = text.len();
        decode_into(&mut text, name);
        let middle = text.len();
        decode_into(&mut text, value);
        spans.push((start, middle, text.len()));
    }
    let names: SmallVec<[&[u8]; 16]> = spans.iter().map(|&(s, m, _)| &text[s..m]).collect();
    let groups = Groups::of(&names, false);
    let name = |out: &mut Vec<u8>, i: usize| string(out, names[i]);
    let value = |out: &mut Vec<u8>, i: usize| escape(out, &text[spans[i].1..spans[i].2], true);
    grouped(out, &groups, |_| false, name, value, values);
}

fn path_parameters(out: &mut Vec<u8>, params: &[(&str, &[u8])], null_when_empty: bool) {
    if params.is_empty() && null_when_empty {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name.as_bytes());
        out.push(b':');
        string(out, value);
    }
    out.push(b'}');
}

fn stage_variables(out: &mut Vec<u8>, variables: &[(String, String)], null_when_empty: bool) {
    if variables.is_empty() && null_when_empty {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    for (i, (name, value)) in variables.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name.as_bytes());
        out.push(b':');
        string(out, value.as_bytes());
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests;
