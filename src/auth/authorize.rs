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
}

/// Step 3a for a route with `steps.auth`.
pub async fn step(inputs: Inputs<'_>, head: &RequestHead, ctx: &mut Context) -> Result<(), GatewayError> {
    let Inputs { api: api_table, api_index: api, route, keyrings, algorithms, verdicts, generation } = inputs;
    let auth = &api_table.route_auth[route as usize];
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
        AuthorizerKind::Function(_) => {
            Err(GatewayError::new(ResponseType::AuthorizerFailure, "function authorizers are not built yet"))
        }
    }
}

/// Notes why, and hands back the error to render.
fn refused(ctx: &mut Context, error: GatewayError, reason: String) -> GatewayError {
    ctx.record.auth_reason = Some(reason);
    error
}
