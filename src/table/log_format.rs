//! A compiled access log format: literal text and AWS `$context` variables, as the config
//! compiler leaves it in the table ([`crate::config::log_format`] compiles, `access_log::format`
//! renders). Plain data.

use serde::{Deserialize, Serialize};

/// One piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    Literal(String),
    Var(Var),
    /// `$context.authorizer.claims.<name>`: a claim of the JWT the authorizer verified.
    Claim(String),
    /// `$context.authorizer.<key>`: a value of the function authorizer's context.
    AuthorizerValue(String),
}

/// The `$context` variables Portico fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Var {
    RequestId,
    SourceIp,
    UserAgent,
    HttpMethod,
    RouteKey,
    ResourcePath,
    Path,
    Protocol,
    Status,
    ResponseLength,
    ResponseLatency,
    ResponseLatencyUs,
    IntegrationLatency,
    IntegrationLatencyUs,
    IntegrationStatus,
    IntegrationErrorMessage,
    ErrorMessage,
    ErrorMessageString,
    ErrorResponseType,
    /// `$context.error.validationErrorString`: why request validation refused the request.
    ValidationErrorString,
    RequestTime,
    RequestTimeEpoch,
    Stage,
    ApiId,
    DomainName,
    DomainPrefix,
    TraceId,
    ClientCert(crate::table::ClientCertField),
    ApiKeyId,
    ApiKey,
    /// `$context.identity.userArn`, `.caller` / `.user`, `.accessKey`: an `AWS_IAM` signer.
    IdentityUserArn,
    IdentityCaller,
    IdentityAccessKey,
    /// `$context.authorizer.principalId`.
    AuthorizerPrincipal,
    /// `$context.authorizer.error`: why the authorizer refused (with `auth_debug`, the check
    /// that failed and on what; otherwise AWS's message).
    AuthorizerError,
    /// A WebSocket event's: `$context.connectionId`, `.eventType` (`CONNECT`, `MESSAGE`,
    /// `DISCONNECT`), `.messageId` (messages only), `.connectedAt` (epoch ms), `.messageDirection`.
    ConnectionId,
    EventType,
    MessageId,
    ConnectedAt,
    MessageDirection,
    /// A variable AWS has and Portico cannot fill (yet): always `-`.
    Missing,
}
