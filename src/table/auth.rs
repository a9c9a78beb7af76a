//! Who may call a route, as the compiler leaves it: an API's authorizers (JWT and function), and
//! per route and stage which one runs, with what scopes, and whether SigV4 is required. Plain
//! data (and IAM's wildcard match, which the compiler and the checks share); the checks are in
//! [`crate::auth`].

use serde::{Deserialize, Serialize};

/// `[[api.authorizer]]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Authorizer {
    pub name: String,
    pub kind: AuthorizerKind,
    /// Where the caller's identity is read. A JWT authorizer has exactly one (a header).
    pub identity_sources: Vec<IdentitySource>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum AuthorizerKind {
    Jwt(JwtAuthorizer),
    Function(FunctionAuthorizer),
}

/// AWS's HTTP API JWT authorizer (on REST APIs, the Cognito user-pool authorizer's checks).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JwtAuthorizer {
    /// `iss` must equal this.
    pub issuer: String,
    /// `aud` (or, without `aud`, `client_id`) must be one of these.
    pub audiences: Vec<String>,
    /// Where the keys are: `jwks_uri`, or OIDC discovery at
    /// `{issuer}/.well-known/openid-configuration`.
    pub jwks: JwksSource,
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway_s: u64,
    /// How often the keys are fetched again in the background.
    pub refresh_s: u64,
    /// Signature algorithms accepted (JWA names); never `none` or an HMAC one.
    pub algorithms: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum JwksSource {
    Uri(String),
    Discovery(String),
}

/// AWS's Lambda authorizer, invoking one of the table's functions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionAuthorizer {
    /// Index into the table's functions.
    pub function: u32,
    pub shape: AuthorizerEvent,
    /// Seconds a result is cached (0: every request invokes).
    pub ttl_s: u64,
    /// REST TOKEN authorizers: a regular expression the token must match before invoking.
    pub validation: Option<String>,
    /// HTTP APIs: answers are `{"isAuthorized": bool, "context": {...}}`.
    pub simple_responses: bool,
    pub timeout_ms: u64,
}

/// The event an authorizer function gets.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum AuthorizerEvent {
    /// REST `TOKEN`: the one header's value.
    Token,
    /// REST `REQUEST`, and HTTP APIs' payload format 1.0.
    RequestV1,
    /// HTTP APIs' payload format 2.0.
    RequestV2,
    /// A WebSocket API's `$connect` authorizer: the CONNECT event with `type` and `methodArn`.
    WebSocket,
}

/// Where an identity value is read (AWS's `identitySource` entries).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header (lower-case name).
    Header(String),
    /// A query parameter (case-sensitive name, as AWS reads it).
    Query(String),
    StageVariable(String),
    /// A `$context` variable.
    Context(String),
}

impl IdentitySource {
    /// Reads `$request.header.X`, `$request.querystring.X`, `$stageVariables.X`, `$context.X`
    /// (HTTP APIs' spelling) and `method.request.header.X`, `method.request.querystring.X`,
    /// `stageVariables.X`, `context.X` (REST APIs').
    pub fn parse(text: &str) -> Option<IdentitySource> {
        let t = text.strip_prefix('$').unwrap_or(text);
        // REST's `method.request.…`, WebSocket's `route.request.…`, HTTP's `$request.…`.
        let t = t.strip_prefix("method.").or_else(|| t.strip_prefix("route.")).unwrap_or(t);
        let (kind, name) = if let Some(n) = t.strip_prefix("request.header.") {
            (0, n)
        } else if let Some(n) = t.strip_prefix("request.querystring.") {
            (1, n)
        } else if let Some(n) = t.strip_prefix("stageVariables.") {
            (2, n)
        } else if let Some(n) = t.strip_prefix("context.") {
            (3, n)
        } else {
            return None;
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b == b',') {
            return None;
        }
        Some(match kind {
            0 => IdentitySource::Header(name.to_ascii_lowercase()),
            1 => IdentitySource::Query(name.to_owned()),
            2 => IdentitySource::StageVariable(name.to_owned()),
            _ => IdentitySource::Context(name.to_owned()),
        })
    }
}

/// `[[iam_credential]]`: an access key clients sign with (SigV4), and who it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IamCredential {
    pub access_key_id: String,
    /// Read from the environment or a file when the config is compiled; `/config` redacts it.
    pub secret_access_key: String,
    /// A temporary credential's token (`X-Amz-Security-Token` must carry it).
    pub session_token: Option<String>,
    /// `$context.identity.userArn`: `arn:aws:iam::123456789012:user/alice`.
    pub principal_arn: String,
    /// `$context.identity.caller`.
    pub caller: String,
}

/// A REST API's resource policy (AWS's, with `Principal: "*"`): statements that allow or deny
/// `execute-api:Invoke` on method ARNs, maybe only from some source addresses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourcePolicy {
    pub statements: Vec<PolicyStatement>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyStatement {
    pub allow: bool,
    /// Method ARN patterns (IAM wildcards), `execute-api:/...` already expanded.
    pub resources: Vec<String>,
    /// `Condition: {"IpAddress" | "NotIpAddress": {"aws:SourceIp": [...]}}`: (negated, ranges),
    /// all of which must hold.
    pub source_ip: Vec<(bool, Vec<ipnet::IpNet>)>,
}

/// How one route is authorized in one stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RouteAuth {
    /// Index into the API's authorizers.
    pub authorizer: Option<u32>,
    /// The token must carry one of these (`scope` or `scp`); empty = any.
    pub scopes: Vec<String>,
    /// `authorization = "AWS_IAM"`: a SigV4 signature by a configured credential.
    pub iam: bool,
}

/// `$context` variables a function authorizer may use as identity sources.
pub const CONTEXT_IDENTITY_SOURCES: &[&str] =
    &["routeKey", "httpMethod", "path", "resourcePath", "stage", "apiId", "domainName", "identity.userAgent"];

/// The JWA signature algorithms a JWT authorizer may accept (the default: all of them).
/// AWS accepts RSA only; EC and EdDSA are Portico's additions.
pub const JWT_ALGORITHMS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// IAM's wildcards: `*` any run of characters (slashes too), `?` one character. Iterative, with
/// one backtrack point, so no pattern is exponential.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::IdentitySource;

    #[test]
    fn identity_sources_read_both_spellings() {
        let h = Some(IdentitySource::Header("authorization".into()));
        assert_eq!(IdentitySource::parse("$request.header.Authorization"), h);
        assert_eq!(IdentitySource::parse("method.request.header.Authorization"), h);
        assert_eq!(IdentitySource::parse("$request.querystring.Tok"), Some(IdentitySource::Query("Tok".into())));
        assert_eq!(IdentitySource::parse("stageVariables.v"), Some(IdentitySource::StageVariable("v".into())));
        assert_eq!(IdentitySource::parse("$context.routeKey"), Some(IdentitySource::Context("routeKey".into())));
        assert_eq!(IdentitySource::parse("$request.header."), None);
        assert_eq!(IdentitySource::parse("header.x"), None);
    }
}
