//! Step 3a, authorization: the route's authorizer (or SigV4) in this stage decides whether the
//! request goes on, and who the caller is. AWS's order: resource policy, then the authorizer,
//! then the API key, then throttling ([`crate::pipeline::run`] keeps it).
//!
//! Refusals are AWS's: no identity or a refused token 401 (JWT: with its `www-authenticate`),
//! a token without the route's scopes 403. Why — which check failed, on what — goes to
//! `ctx.record.auth_reason`, which only a stage with `auth_debug` shows (a header and
//! `$context.authorizer.error`).

use std::sync::Arc;

use super::jwt::keyring::Keyring;
use super::jwt::keys::Alg;
use crate::context::Context;
use crate::context::auth::Authorized;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::table::{Api, AuthorizerKind, IdentitySource};

const NO_IDENTITY: GatewayError = GatewayError::new(ResponseType::Unauthorized, "identity source missing");
const POLICY_DENIED: GatewayError = GatewayError::new(ResponseType::AccessDenied, "the resource policy denies");
const POLICY_DENIED_EXPLICITLY: GatewayError =
    GatewayError::new(ResponseType::AccessDeniedExplicit, "the resource policy denies explicitly");
const NO_HOST: GatewayError =
    GatewayError::new(ResponseType::AuthorizerFailure, "a function authorizer's local host could not start");
const NO_KEYRING: GatewayError =
    GatewayError::new(ResponseType::Internal, "a JWT authorizer has no keyring (the table was not started)");

/// What the step needs of the loaded table and the worker.
pub struct Inputs<'a> {
    pub api: &'a Api,
    pub api_index: u32,
    pub route: u32,
    /// The API's keyrings and accepted algorithms, one per authorizer.
    pub keyrings: &'a [Option<Arc<Keyring>>],
    pub algorithms: &'a [Vec<Alg>],
    /// The worker's JWT verdicts, and the generation of the table they belong to.
    pub verdicts: &'a super::jwt::Verdicts,
    pub generation: u64,
    /// What function authorizers call with.
    pub functions: FunctionInputs<'a>,
    /// Who may sign requests to `AWS_IAM` routes.
    pub iam_credentials: &'a [crate::table::auth::IamCredential],
}

/// What a function authorizer needs of the loaded table, the worker and the connection.
pub struct FunctionInputs<'a> {
    /// Where function `n`'s invocations go (`None`: its local host could not start).
    pub target: &'a dyn Fn(u32) -> Option<crate::function::invoke::Target<'a>>,
    /// The API's TOKEN validation expressions, one per authorizer.
    pub validations: &'a [Option<regex::Regex>],
    pub outbound: crate::outbound::Outbound<'a>,
    pub sources: crate::function::request::Sources<'a>,
    pub caller: crate::function::request::Caller<'a>,
    pub shared: &'a super::function::cache::Shared,
    pub local: &'a super::function::cache::Local,
    /// The WebSocket connection a `$connect` authorizer is asked about.
    pub websocket: Option<&'a crate::function::websocket::Connection>,
}

/// Step 3a for a route with `steps.auth`.
pub async fn step(inputs: Inputs<'_>, head: &RequestHead, ctx: &mut Context) -> Result<(), GatewayError> {
    let Inputs {
        api: api_table,
        api_index: api,
        route,
        keyrings,
        algorithms,
        verdicts,
        generation,
        functions,
        iam_credentials,
    } = inputs;
    let auth = &api_table.route_auth[route as usize];
    // The method ARN, made once for what needs it: the resource policy and a function authorizer.
    let function_authorizer =
        auth.authorizer.is_some_and(|i| matches!(api_table.authorizers[i as usize].kind, AuthorizerKind::Function(_)));
    let arn = (api_table.resource_policy.is_some() || function_authorizer).then(|| {
        let stage = &api_table.stages[ctx.api_stage.unwrap_or_default().1 as usize];
        match api_table.websocket.is_some() {
            // AWS's WebSocket ARN names the route: `…/{stage}/$connect`.
            true => super::function::route_arn(api_table, stage, "$connect"),
            false => super::function::method_arn(api_table, stage, head.method_bytes(), ctx.routed_path(head)),
        }
    });
    let arn = arn.as_deref().unwrap_or_default();
    // The resource policy first, as AWS orders it.
    if let Some(policy) = &api_table.resource_policy {
        let trusted = &functions.sources.table.settings.trusted_proxies;
        let source = super::policy::source_ip(functions.caller.peer, head.values(b"x-forwarded-for"), trusted);
        let who = "User: anonymous is not authorized to perform: execute-api:Invoke on resource:";
        match super::policy::evaluate(policy, arn, source) {
            super::policy::Decision::ExplicitDeny => {
                let error = POLICY_DENIED_EXPLICITLY.with_message(format!("{who} {arn} with an explicit deny"));
                return Err(refused(ctx, error, format!("the resource policy denies {arn} from {source}")));
            }
            // An AWS_IAM request needs no Allow: its credential allows it (there are no IAM
            // policies to say otherwise), unless the resource policy denies it.
            super::policy::Decision::ImplicitDeny if !auth.iam => {
                let error = POLICY_DENIED.with_message(format!("{who} {arn}"));
                return Err(refused(ctx, error, format!("the resource policy allows nothing for {arn} from {source}")));
            }
            _ => {}
        }
    }
    if auth.iam {
        let body = match &ctx.body {
            crate::context::RequestBody::Buffered(b) => &b[..],
            _ => &[][..],
        };
        let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        return match super::iam::verify(iam_credentials, head, body, now_s) {
            Ok(identity) => {
                ctx.authorized = Authorized::Iam(std::rc::Rc::new(identity));
                Ok(())
            }
            Err(r) => Err(refused(ctx, r.error, format!("AWS_IAM: {}", r.reason))),
        };
    }
    let Some(index) = auth.authorizer else { return Ok(()) };
    let authorizer = &api_table.authorizers[index as usize];
    match &authorizer.kind {
        AuthorizerKind::Jwt(jwt) => {
            let Some(IdentitySource::Header(name)) = authorizer.identity_sources.first() else {
                return Err(NO_IDENTITY);
            };
            let value = match head.only(name.as_bytes()) {
                Some(v) if !crate::http::trim(v).is_empty() => v,
                Some(_) => return Err(refused(ctx, NO_IDENTITY.with_challenge(""), format!("header {name} is empty"))),
                None if head.first(name.as_bytes()).is_some() => {
                    return Err(refused(ctx, NO_IDENTITY.with_challenge(""), format!("more than one {name} header")));
                }
                None => {
                    return Err(refused(
                        ctx,
                        NO_IDENTITY.with_challenge(""),
                        format!("identity source header {name} missing"),
                    ));
                }
            };
            let (Some(Some(keyring)), Some(allowed)) = (keyrings.get(index as usize), algorithms.get(index as usize))
            else {
                return Err(NO_KEYRING);
            };
            let checker = crate::auth::jwt::Authorizer {
                id: (api, index),
                issuer: &jwt.issuer,
                audiences: &jwt.audiences,
                allowed,
                leeway_s: jwt.leeway_s,
                keyring,
            };
            let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let claims = match crate::auth::jwt::verify(verdicts, generation, &checker, value, now_s).await {
                Ok(c) => c,
                Err(r) => {
                    let error =
                        GatewayError::new(ResponseType::Unauthorized, "JWT refused").with_challenge(r.description);
                    return Err(refused(ctx, error, format!("JWT authorizer {}: {}", authorizer.name, r.reason)));
                }
            };
            if !crate::auth::jwt::has_scope(&claims, &auth.scopes) {
                let error = GatewayError::new(ResponseType::InsufficientScope, "JWT lacks the route's scopes");
                let reason = format!(
                    "JWT authorizer {}: token scopes [{}] include none of [{}]",
                    authorizer.name,
                    crate::auth::jwt::token::printable(&claims.scopes.join(" ")),
                    auth.scopes.join(" ")
                );
                return Err(refused(ctx, error, reason));
            }
            ctx.authorized = Authorized::Jwt(claims);
            Ok(())
        }
        AuthorizerKind::Function(f) => {
            let Some(target) = (functions.target)(f.function) else {
                let reason =
                    format!("function authorizer {}: its function's local host did not start", authorizer.name);
                return Err(refused(ctx, NO_HOST, reason));
            };
            let call = super::function::Call {
                name: &authorizer.name,
                id: (api, index),
                arn,
                authorizer: f,
                identity_sources: &authorizer.identity_sources,
                validation: functions.validations.get(index as usize).and_then(Option::as_ref),
                target,
                outbound: functions.outbound,
                sources: functions.sources,
                caller: functions.caller,
                shared: functions.shared,
                local: functions.local,
                generation,
                websocket: functions.websocket,
            };
            match super::function::authorize(call, head, ctx).await {
                Ok(()) => Ok(()),
                Err((error, reason)) => Err(refused(ctx, error, reason)),
            }
        }
    }
}

/// Notes why, and hands back the error to render.
fn refused(ctx: &mut Context, error: GatewayError, reason: String) -> GatewayError {
    ctx.record.auth_reason = Some(reason);
    error
}
