//! Who an authorizer said the caller is, kept in the request context for the steps after it,
//! the access log (`$context.authorizer.*`) and function events (`requestContext.authorizer`).
//! Plain data, shared by `Rc` with the worker's verdict cache: a cached verdict costs no copy.

use std::rc::Rc;

/// A JWT authorizer's verdict: the token's claims and scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtClaims {
    /// Every claim, values stringified (strings as they are, anything else as JSON text).
    pub claims: Vec<(String, String)>,
    pub scopes: Vec<String>,
    /// `exp` plus the leeway, seconds since the epoch.
    pub expires_s: u64,
    /// `nbf` / `iat` less the leeway, seconds since the epoch.
    pub not_before_s: u64,
    /// `sub`.
    pub principal: Option<String>,
}

impl JwtClaims {
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the authorizer left.
#[derive(Debug, Clone, Default)]
pub enum Authorized {
    #[default]
    None,
    Jwt(Rc<JwtClaims>),
}

impl Authorized {
    /// `$context.authorizer.principalId` (for a JWT, its `sub`).
    pub fn principal(&self) -> Option<&str> {
        match self {
            Authorized::None => None,
            Authorized::Jwt(c) => c.principal.as_deref(),
        }
    }

    /// `$context.authorizer.claims.<name>`.
    pub fn claim(&self, name: &str) -> Option<&str> {
        match self {
            Authorized::Jwt(c) => c.claim(name),
            Authorized::None => None,
        }
    }
}
