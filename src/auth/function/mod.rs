//! Function authorizers (AWS's Lambda authorizers): REST `TOKEN` (one header, optionally checked
//! against `identity_validation_expression` before invoking) and `REQUEST` (headers, query
//! strings, stage variables, `$context` values), and HTTP APIs' `REQUEST` in payload 1.0 or 2.0
//! with IAM-policy or simple answers.
//!
//! ```text
//! identity values ── one missing (or, TOKEN, not matching) ─▶ 401, nothing invoked
//!      │
//! this worker's cache ── hit ─▶ evaluate ─┐
//!      │ miss                              │
//! the node's cache ── hit ─▶ copy here ───┤
//!      │ another worker is calling: wait   │
//!      │ nobody is: call (one per key)     │
//!      ▼                                   ▼
//! invoke (10 s) ── error "Unauthorized" ─▶ 401 │ evaluate the policy against this request's
//!      │           other error, timeout,       │ method ARN (a cached policy too, as AWS)
//!      │           unreadable answer ─▶ 500    │   Allow ─▶ go on; Deny ─▶ 403
//! ```
//!
//! Must not: know the pipeline or the connection — the pipeline hands over the function's target
//! and the request's event sources. Cost of a cached answer: one SHA-256 over the identity
//! values, one map lookup, and a glob match per policy resource.

pub mod cache;
pub mod event;
pub mod policy;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use self::cache::{Failure, Look};
use self::policy::{Answer, Verdict};
use crate::clock::now_ms;
use crate::context::Context;
use crate::context::auth::Authorized;
use crate::error::{GatewayError, ResponseType};
use crate::function::invoke;
use crate::function::request::{Caller, Sources};
use crate::http::head::RequestHead;
use crate::outbound::Outbound;
use crate::table::auth::FunctionAuthorizer;
use crate::table::{AuthorizerEvent, IdentitySource, Protocol};

/// AWS's region in ARNs: Portico has no regions (the account id is AWS's documentation one too).
pub const REGION: &str = "us-east-1";

const UNAUTHORIZED: GatewayError = GatewayError::new(ResponseType::Unauthorized, "function authorizer: Unauthorized");
const FAILED: GatewayError = GatewayError::new(ResponseType::AuthorizerFailure, "function authorizer failed");
const DENIED: GatewayError = GatewayError::new(ResponseType::AccessDenied, "function authorizer policy denies");
const DENIED_EXPLICITLY: GatewayError =
    GatewayError::new(ResponseType::AccessDeniedExplicit, "function authorizer policy denies explicitly");

/// What a function authorizer is called with, besides the request.
pub struct Call<'a> {
    pub name: &'a str,
    /// (API, authorizer) indexes: part of the cache key.
    pub id: (u32, u32),
    /// The request's method ARN ([`method_arn`]), which policies are evaluated against.
    pub arn: &'a str,
    pub authorizer: &'a FunctionAuthorizer,
    pub identity_sources: &'a [IdentitySource],
    /// The compiled `identity_validation_expression`.
    pub validation: Option<&'a regex::Regex>,
    pub target: invoke::Target<'a>,
    pub outbound: Outbound<'a>,
    pub sources: Sources<'a>,
    pub caller: Caller<'a>,
    pub shared: &'a cache::Shared,
    pub local: &'a cache::Local,
    /// The loaded table's generation (the worker's cache belongs to one).
    pub generation: u64,
    /// The WebSocket connection a `$connect` authorizer is asked about.
    pub websocket: Option<&'a crate::function::websocket::Connection>,
}

/// Authorizes the request (`ctx` has its API, stage and route): `Ok` leaves the authorizer's
/// identity in `ctx.authorized`; the error says why not (the reason in `ctx.record`).
pub async fn authorize(call: Call<'_>, head: &RequestHead, ctx: &mut Context) -> Result<(), (GatewayError, String)> {
    let a = call.authorizer;
    let table = call.sources.table;
    let (api_index, stage_index) = ctx.api_stage.unwrap_or_default();
    let api = &table.apis[api_index as usize];
    let stage = &api.stages[stage_index as usize];
    let route = &api.routes[ctx.route.unwrap_or_default() as usize];

    // Identity values, in order; one missing is a 401 without invoking (AWS: always for TOKEN
    // and HTTP APIs, for REST REQUEST authorizers when caching is on).
    let mut values: smallvec::SmallVec<[std::borrow::Cow<'_, [u8]>; 4]> = smallvec::SmallVec::new();
    for source in call.identity_sources {
        let value = identity_value(source, head, (api, stage, route));
        match value {
            Some(v) if !v.is_empty() => values.push(v),
            _ if a.shape == AuthorizerEvent::RequestV1 && api.protocol == Protocol::Rest && a.ttl_s == 0 => {
                values.push(std::borrow::Cow::Borrowed(b""));
            }
            _ => {
                let twice = match source {
                    IdentitySource::Header(n) => head.values(n.as_bytes()).nth(1).is_some(),
                    IdentitySource::Query(n) => head.query().is_some_and(|q| query_values(q, n).nth(1).is_some()),
                    _ => false,
                };
                let what = if twice { "given more than once" } else { "missing" };
                let reason = format!("function authorizer {}: identity source {} {what}", call.name, describe(source));
                return Err((UNAUTHORIZED, reason));
            }
        }
    }
    if let (AuthorizerEvent::Token, Some(re)) = (a.shape, call.validation) {
        let token = values.first().map(|v| String::from_utf8_lossy(v)).unwrap_or_default();
        if !re.is_match(&token) {
            return Err((
                UNAUTHORIZED,
                format!("function authorizer {}: the token does not match identity_validation_expression", call.name),
            ));
        }
    }

    let arn = call.arn;
    let key = cache_key(call.id, &values);
    let now = now_ms();
    // A hit in this worker's cache: evaluated in place, the identity's `Rc` shared.
    let hit = match a.ttl_s {
        0 => None,
        _ => call.local.with(call.generation, &key, now, |answer, identity| {
            (policy::evaluate(&answer.decision, arn), identity.clone())
        }),
    };
    let (verdict, identity) = match hit {
        Some(hit) => hit,
        None => {
            let answer = match a.ttl_s {
                0 => invoke_once(&call, head, ctx, arn, &values).await.map(Arc::new),
                ttl => Box::pin(cached(&call, head, ctx, arn, &values, &key, ttl * 1000)).await,
            };
            let answer = answer.map_err(|f| (f.error, f.reason))?;
            (policy::evaluate(&answer.decision, arn), Rc::new(answer.identity.clone()))
        }
    };
    match verdict {
        Verdict::Allow => {
            ctx.authorized = Authorized::Function(identity);
            Ok(())
        }
        Verdict::Deny => Err((DENIED, format!("function authorizer {}: the policy does not allow {arn}", call.name))),
        Verdict::ExplicitDeny => {
            Err((DENIED_EXPLICITLY, format!("function authorizer {}: the policy denies {arn}", call.name)))
        }
    }
}

/// Through the node's cache: an answer someone has, or the one call for this key.
async fn cached(
    call: &Call<'_>,
    head: &RequestHead,
    ctx: &mut Context,
    arn: &str,
    values: &[std::borrow::Cow<'_, [u8]>],
    key: &cache::Key,
    ttl_ms: u64,
) -> Result<Arc<Answer>, Failure> {
    // Wait for another worker's call at most as long as it may take, then call.
    let call_ms = call.authorizer.timeout_ms + 500;
    loop {
        let now = now_ms();
        match call.shared.look(key, now, call_ms) {
            Look::Hit(answer) => {
                call.local.put(*key, answer.clone(), now + ttl_ms);
                return Ok(answer);
            }
            Look::Failed(failure) => return Err(failure),
            Look::Wait => monoio::time::sleep(Duration::from_millis(1)).await,
            Look::Call => {
                let outcome = invoke_once(call, head, ctx, arn, values).await.map(Arc::new);
                let done = now_ms();
                call.shared.fill(key, outcome.clone(), ttl_ms, done);
                if let Ok(answer) = &outcome {
                    call.local.put(*key, answer.clone(), done + ttl_ms);
                }
                return outcome;
            }
        }
    }
}

/// One invocation, its answer read.
async fn invoke_once(
    call: &Call<'_>,
    head: &RequestHead,
    ctx: &mut Context,
    arn: &str,
    values: &[std::borrow::Cow<'_, [u8]>],
) -> Result<Answer, Failure> {
    let name = call.name;
    let fail =
        |error: GatewayError, why: String| Failure { error, reason: format!("function authorizer {name}: {why}") };
    let request_id = ctx.id();
    let timeout = Duration::from_millis(call.authorizer.timeout_ms);
    let mut out = Vec::new();
    let shape = call.authorizer.shape;
    let ctx_ref = &*ctx;
    let write = |out: &mut Vec<u8>| match (shape, call.websocket) {
        (AuthorizerEvent::WebSocket, Some(c)) => {
            let stage = ctx_ref.api_stage.map(|(a, s)| &call.sources.table.apis[a as usize].stages[s as usize]);
            let variables = stage.map_or(&[][..], |s| &s.variables[..]);
            let ids =
                crate::function::websocket::EventIds { request_id: request_id.as_str().to_owned(), message_id: None };
            crate::function::websocket::write_authorizer(out, c, head, (arn, variables), &ids);
        }
        _ => event::write(out, shape, arn, values, &call.sources, (head, ctx_ref), &call.caller, request_id.as_str()),
    };
    let invoked = invoke::invoke(call.outbound, &call.sources.table.settings, &call.target, timeout, &mut out, write)
        .await
        .map_err(|e| match e.kind {
            ResponseType::IntegrationTimeout => fail(FAILED, format!("no answer within {} ms", timeout.as_millis())),
            _ => fail(FAILED, format!("cannot be invoked: {}", e.detail)),
        })?;
    if invoked.function_error {
        // AWS: the function "throws" `Unauthorized` for a 401; any other error is a 500.
        let message = serde_json::from_slice::<serde_json::Value>(&invoked.payload)
            .ok()
            .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned));
        return Err(match message.as_deref() {
            Some("Unauthorized") => fail(UNAUTHORIZED, "the function answered Unauthorized".into()),
            Some(m) => fail(FAILED, format!("the function failed: {}", crate::auth::jwt::token::printable(m))),
            None => fail(FAILED, "the function failed".into()),
        });
    }
    policy::read(&invoked.payload, call.authorizer.simple_responses)
        .map_err(|why| fail(FAILED, format!("unreadable answer: {why}")))
}

/// One identity value (`None`: the request has none).
fn identity_value<'h>(
    source: &'h IdentitySource,
    head: &'h RequestHead,
    (api, stage, route): (&'h crate::table::Api, &'h crate::table::Stage, &'h crate::table::Route),
) -> Option<std::borrow::Cow<'h, [u8]>> {
    use std::borrow::Cow;
    match source {
        // Two values would let the authorizer see one and the integration another: refused like
        // a missing one.
        IdentitySource::Header(name) => head.only(name.as_bytes()).map(Cow::Borrowed),
        // Decoded as the event decodes it (`+` is a space), and only when given once: the cache
        // key must be exactly what the authorizer saw, or one request's answer could be served
        // for another's value (`?t=a&t=b`, `a+b` against `a%2Bb`).
        IdentitySource::Query(name) => {
            let mut found = query_values(head.query()?, name);
            let first = found.next()?;
            found.next().is_none().then_some(Cow::Owned(first))
        }
        IdentitySource::StageVariable(name) => {
            stage.variables.iter().find(|(k, _)| k == name).map(|(_, v)| Cow::Borrowed(v.as_bytes()))
        }
        IdentitySource::Context(name) => Some(Cow::Borrowed(match name.as_str() {
            "routeKey" => route.key.as_bytes(),
            "httpMethod" => head.method_bytes(),
            "path" => head.raw_path(),
            "resourcePath" => route.key.split_once(' ').map_or(route.key.as_str(), |(_, p)| p).as_bytes(),
            "stage" => stage.name.as_bytes(),
            "apiId" => api.name.as_bytes(),
            "domainName" => head.host_name().unwrap_or_default(),
            "identity.userAgent" => head.first(b"user-agent").unwrap_or_default(),
            _ => return None,
        })),
    }
}

fn describe(source: &IdentitySource) -> String {
    match source {
        IdentitySource::Header(n) => format!("header {n}"),
        IdentitySource::Query(n) => format!("query parameter {n}"),
        IdentitySource::StageVariable(n) => format!("stage variable {n}"),
        IdentitySource::Context(n) => format!("$context.{n}"),
    }
}

/// The decoded values of query parameter `name` (names compared decoded, case-sensitive), decoded
/// split and decoded as the event does.
fn query_values<'q>(query: &'q [u8], name: &'q str) -> impl Iterator<Item = Vec<u8>> + 'q {
    use crate::function::event::{decode_into, query_pairs};
    query_pairs(Some(query)).filter_map(move |(k, v)| {
        let mut key = smallvec::SmallVec::new();
        decode_into(&mut key, k);
        (key.as_slice() == name.as_bytes()).then(|| {
            let mut value = smallvec::SmallVec::new();
            decode_into(&mut value, v);
            value.into_vec()
        })
    })
}

/// A WebSocket route's ARN, as AWS's policies name it: `…:{api}/{stage}/{route key}`.
pub fn route_arn(api: &crate::table::Api, stage: &crate::table::Stage, route_key: &str) -> String {
    arn(api, stage, route_key)
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}` (the path without its
/// leading `/`, as AWS writes it).
pub fn method_arn(api: &crate::table::Api, stage: &crate::table::Stage, method: &[u8], path: &[u8]) -> String {
    let path = String::from_utf8_lossy(path.strip_prefix(b"/").unwrap_or(path));
    arn(api, stage, format_args!("{}/{path}", String::from_utf8_lossy(method)))
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{resource}`.
fn arn(api: &crate::table::Api, stage: &crate::table::Stage, resource: impl std::fmt::Display) -> String {
    format!(
        "arn:aws:execute-api:{REGION}:{}:{}/{}/{resource}",
        crate::function::event::ACCOUNT_ID,
        api.name,
        stage.name
    )
}

fn cache_key((api, authorizer): (u32, u32), values: &[std::borrow::Cow<'_, [u8]>]) -> cache::Key {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&api.to_le_bytes());
    ctx.update(&authorizer.to_le_bytes());
    for v in values {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        ctx.update(&(v.len() as u64).to_le_bytes());
        ctx.update(v);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}
