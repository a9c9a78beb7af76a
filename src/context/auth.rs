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

/// A function authorizer's verdict: who it says the caller is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionIdentity {
    pub principal: Option<String>,
    /// `context` entries: name and the value's JSON text (`"gold"`, `3`, `true`).
    pub context: Vec<(String, String)>,
    /// `usageIdentifierKey`: the API key, for APIs whose key source is the authorizer.
    pub usage_key: Option<String>,
}

impl FunctionIdentity {
    /// `$context.authorizer.<name>`: a string as it is, anything else as its JSON text.
    pub fn value(&self, name: &str) -> Option<&str> {
        let (_, json) = self.context.iter().find(|(k, _)| k == name)?;
        Some(match json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') => inner,
            _ => json.as_str(),
        })
    }
}

/// Who signed an `AWS_IAM` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamIdentity {
    pub user_arn: String,
    pub access_key: String,
    pub caller: String,
    /// From the principal's ARN.
    pub account_id: String,
}

/// What the authorizer left.
#[derive(Debug, Clone, Default)]
pub enum Authorized {
    #[default]
    None,
    Jwt(Rc<JwtClaims>),
    Function(Rc<FunctionIdentity>),
    Iam(Rc<IamIdentity>),
}

impl Authorized {
    /// `$context.authorizer.principalId` (for a JWT, its `sub`).
    pub fn principal(&self) -> Option<&str> {
        match self {
            Authorized::None => None,
            Authorized::Jwt(c) => c.principal.as_deref(),
            Authorized::Function(f) => f.principal.as_deref(),
            Authorized::Iam(_) => None,
        }
    }

    /// `$context.authorizer.<name>`: a function authorizer's context value.
    pub fn value(&self, name: &str) -> Option<&str> {
        match self {
            Authorized::Function(f) => f.value(name),
            _ => None,
        }
    }

    /// The SigV4 signer.
    pub fn iam(&self) -> Option<&IamIdentity> {
        match self {
            Authorized::Iam(i) => Some(i),
            _ => None,
        }
    }

    /// `usageIdentifierKey`.
    pub fn usage_key(&self) -> Option<&str> {
        match self {
            Authorized::Function(f) => f.usage_key.as_deref(),
            _ => None,
        }
    }

    /// `$context.authorizer.claims.<name>`.
    pub fn claim(&self, name: &str) -> Option<&str> {
        match self {
            Authorized::Jwt(c) => c.claim(name),
            _ => None,
        }
    }
}
