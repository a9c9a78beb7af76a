//! The data-plane error: what went wrong while serving one request, which side caused it, and
//! whether the connection to the client can be kept.
//!
//! Every failure on the request path becomes a [`GatewayError`]; [`crate::response::gateway`] is the
//! one place that turns it into AWS's status, body and `x-amzn-ErrorType`. This module must not know
//! about wire formats.

use std::fmt;

/// Who caused a failure: the side decides logging and, later, metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Internal,
}

/// The AWS gateway-response type a failure maps to (AWS's names, in `SCREAMING_CASE` in configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseType {
    /// No API, stage or route matched (REST: 403 Missing Authentication Token; HTTP: 404).
    MissingAuthenticationToken,
    /// The request is malformed (HTTP/1.1 framing, headers).
    BadRequest,
    /// Request line (URI) longer than the configured limit.
    UriTooLong,
    /// Header section larger than the configured limit.
    HeadersTooLarge,
    /// Body larger than the configured limit.
    RequestTooLarge,
    /// A transfer coding we do not implement.
    NotImplemented,
    /// An HTTP version other than 1.x (505).
    VersionNotSupported,
    /// The request body did not arrive within its deadline (408).
    RequestTimeout,
    /// The integration did not answer within its timeout.
    IntegrationTimeout,
    /// The integration refused, reset, or answered with something that is not HTTP.
    IntegrationFailure,
    /// A function failed or answered what API Gateway cannot read (REST 502, HTTP API 500).
    FunctionError,
    /// A function could not be invoked: its target unreachable or refusing, or its concurrency
    /// used up past the queue time (500, as AWS answers a throttled or refused Lambda invoke).
    FunctionUnavailable,
    /// A bug or resource exhaustion inside the gateway.
    Internal,
    /// `Cache-Control: max-age=0` from a client not allowed to invalidate (FAIL_WITH_403).
    CacheInvalidationDenied,
    /// A request for a mutual-TLS domain on a connection that was not verified for it (its SNI
    /// named another domain).
    MisdirectedRequest,
    /// A rate limit (route, stage or gateway-wide) is exhausted.
    Throttled,
    /// The key's usage-plan quota for this period is used up.
    QuotaExceeded,
    /// Fleet mode: Redis is unreachable, and the key's plan fails closed (its quota, or a global
    /// rate of the plan).
    FleetUnavailable,
    /// An authorizer found no identity, or an identity it refused (401).
    Unauthorized,
    /// An authorizer's policy does not allow the request (403, AWS's implicit deny).
    AccessDenied,
    /// An authorizer's policy explicitly denies the request (403).
    AccessDeniedExplicit,
    /// A JWT without any of the route's scopes (403).
    InsufficientScope,
    /// An authorizer function failed, timed out, or answered what cannot be read (500).
    AuthorizerFailure,
    /// An `AWS_IAM` route got no SigV4 signature (REST: 403 Missing Authentication Token).
    MissingSignature,
    /// A SigV4 signature without the parts it needs (403 IncompleteSignatureException).
    IncompleteSignature,
    /// A SigV4 signature that does not match, or is not yet current (403 InvalidSignatureException).
    InvalidSignature,
    /// A SigV4 signature dated too long ago, or a presigned URL past its expiry (403).
    ExpiredSignature,
    /// An access key (or session token) no configured credential has (403).
    UnknownCredential,
    /// A required request parameter is missing or blank (request validation).
    BadRequestParameters,
    /// The request body does not match its model (request validation).
    BadRequestBody,
    /// A route that requires an API key got none, an unknown or disabled one, or one outside a
    /// usage plan of the stage.
    InvalidApiKey,
    /// A non-proxy integration has no template for the request's content type and passes
    /// nothing through (415).
    UnsupportedMediaType,
    /// A non-proxy integration's mapping failed: no integration response for the backend's
    /// status, or a template that could not render (500, AWS's API_CONFIGURATION_ERROR).
    ApiConfiguration,
}

impl ResponseType {
    /// AWS's gateway-response type name (`$context.error.responseType`).
    pub fn aws_name(self) -> &'static str {
        match self {
            ResponseType::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            // AWS has no type of its own for malformed HTTP; its catch-all for client errors.
            ResponseType::BadRequest
            | ResponseType::UriTooLong
            | ResponseType::HeadersTooLarge
            | ResponseType::NotImplemented
            | ResponseType::RequestTimeout => "DEFAULT_4XX",
            // A client's fault with a 5xx status (RFC 9110 §15.6.6); AWS answers it at its edge.
            ResponseType::VersionNotSupported => "DEFAULT_5XX",
            ResponseType::RequestTooLarge => "REQUEST_TOO_LARGE",
            ResponseType::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            ResponseType::IntegrationFailure => "INTEGRATION_FAILURE",
            ResponseType::FunctionError | ResponseType::FunctionUnavailable => "DEFAULT_5XX",
            ResponseType::Internal => "DEFAULT_5XX",
            ResponseType::CacheInvalidationDenied => "ACCESS_DENIED",
            ResponseType::MisdirectedRequest => "ACCESS_DENIED",
            ResponseType::Throttled => "THROTTLED",
            ResponseType::InvalidApiKey => "INVALID_API_KEY",
            ResponseType::Unauthorized => "UNAUTHORIZED",
            ResponseType::AccessDenied | ResponseType::AccessDeniedExplicit | ResponseType::InsufficientScope => {
                "ACCESS_DENIED"
            }
            ResponseType::AuthorizerFailure => "AUTHORIZER_CONFIGURATION_ERROR",
            ResponseType::MissingSignature => "MISSING_AUTHENTICATION_TOKEN",
            ResponseType::IncompleteSignature | ResponseType::InvalidSignature => "INVALID_SIGNATURE",
            ResponseType::ExpiredSignature => "EXPIRED_TOKEN",
            ResponseType::UnknownCredential => "ACCESS_DENIED",
            ResponseType::QuotaExceeded => "QUOTA_EXCEEDED",
            ResponseType::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            ResponseType::BadRequestBody => "BAD_REQUEST_BODY",
            ResponseType::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ResponseType::ApiConfiguration => "API_CONFIGURATION_ERROR",
            // AWS has no such failure; its catch-all for gateway errors.
            ResponseType::FleetUnavailable => "DEFAULT_5XX",
        }
    }
}

/// One failure on the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub kind: ResponseType,
    /// Extra detail for the log (never sent to the client: AWS sends only the generic message).
    pub detail: &'static str,
    /// The client connection cannot carry another request (e.g. part of this request's body is
    /// still unread), whatever the kind.
    unusable_connection: bool,
    /// Seconds for `Retry-After` (throttling); 0 = no header.
    pub retry_after_s: u32,
    /// A JWT authorizer's refusal: the `error_description` of the `www-authenticate` challenge
    /// (`""`: a bare `Bearer` challenge; `None`: no challenge).
    pub challenge: Option<&'static str>,
    /// A message of this very request for the client's body (AWS's SigV4 errors name dates and
    /// parameters), instead of the type's fixed one.
    pub message: Option<Box<str>>,
}

impl GatewayError {
    /// No API, stage or route matched the request.
    pub const NO_MATCH: GatewayError =
        GatewayError::new(ResponseType::MissingAuthenticationToken, "no API, stage or route matched");

    pub const fn new(kind: ResponseType, detail: &'static str) -> Self {
        Self { kind, detail, unusable_connection: false, retry_after_s: 0, challenge: None, message: None }
    }

    /// A rate limit said no; the client may retry after `retry_after_s` seconds.
    pub const fn throttled(retry_after_s: u32) -> Self {
        Self {
            kind: ResponseType::Throttled,
            detail: "rate limit exceeded",
            unusable_connection: false,
            retry_after_s,
            challenge: None,
            message: None,
        }
    }

    /// Fleet mode: a quota or global rate cannot be checked (Redis is unreachable and the plan
    /// fails closed). The client may retry after a second.
    pub const fn fleet_unavailable() -> Self {
        Self {
            kind: ResponseType::FleetUnavailable,
            detail: "Redis unreachable (fail-closed usage plan)",
            unusable_connection: false,
            retry_after_s: 1,
            challenge: None,
            message: None,
        }
    }

    /// A 401 with a `www-authenticate: Bearer` challenge carrying `description`.
    pub const fn with_challenge(mut self, description: &'static str) -> Self {
        self.challenge = Some(description);
        self
    }

    /// The client's message is `message` (JSON-escaped when rendered).
    pub fn with_message(mut self, message: String) -> Self {
        self.message = Some(message.into_boxed_str());
        self
    }

    /// Marks the error as leaving the client connection unusable for further requests.
    pub const fn closing(mut self) -> Self {
        self.unusable_connection = true;
        self
    }

    pub fn side(&self) -> Side {
        match self.kind {
            ResponseType::MissingAuthenticationToken
            | ResponseType::BadRequest
            | ResponseType::UriTooLong
            | ResponseType::HeadersTooLarge
            | ResponseType::RequestTooLarge
            | ResponseType::NotImplemented
            | ResponseType::VersionNotSupported
            | ResponseType::RequestTimeout
            | ResponseType::CacheInvalidationDenied
            | ResponseType::MisdirectedRequest
            | ResponseType::Throttled
            | ResponseType::InvalidApiKey
            | ResponseType::Unauthorized
            | ResponseType::AccessDenied
            | ResponseType::AccessDeniedExplicit
            | ResponseType::InsufficientScope
            | ResponseType::MissingSignature
            | ResponseType::IncompleteSignature
            | ResponseType::InvalidSignature
            | ResponseType::ExpiredSignature
            | ResponseType::UnknownCredential
            | ResponseType::QuotaExceeded
            | ResponseType::BadRequestParameters
            | ResponseType::BadRequestBody
            | ResponseType::UnsupportedMediaType => Side::Client,
            ResponseType::IntegrationTimeout
            | ResponseType::IntegrationFailure
            | ResponseType::FunctionError
            | ResponseType::FunctionUnavailable => Side::Upstream,
            ResponseType::AuthorizerFailure => Side::Upstream,
            ResponseType::Internal | ResponseType::FleetUnavailable | ResponseType::ApiConfiguration => Side::Internal,
        }
    }

    /// Whether the client connection must be closed after the error response: framing errors leave
    /// the byte stream in an unknown state, so the next request cannot be found safely.
    pub fn closes_connection(&self) -> bool {
        self.unusable_connection
            || matches!(
                self.kind,
                ResponseType::BadRequest
                    | ResponseType::UriTooLong
                    | ResponseType::HeadersTooLarge
                    | ResponseType::RequestTooLarge
                    | ResponseType::NotImplemented
                    | ResponseType::VersionNotSupported
                    | ResponseType::RequestTimeout
            )
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for GatewayError {}

/// What the codec found wrong, as the gateway answers it. Body faults leave the stream in an
/// unknown place, so they close the connection.
impl From<crate::http::Error> for GatewayError {
    fn from(e: crate::http::Error) -> GatewayError {
        use crate::http::Fault;
        let kind = match e.fault {
            Fault::BadRequest | Fault::BodyEndedEarly => ResponseType::BadRequest,
            Fault::UriTooLong => ResponseType::UriTooLong,
            Fault::HeadersTooLarge => ResponseType::HeadersTooLarge,
            Fault::NotImplemented => ResponseType::NotImplemented,
            Fault::VersionNotSupported => ResponseType::VersionNotSupported,
            Fault::BodyTooLarge => ResponseType::RequestTooLarge,
            Fault::BodyTooSlow => ResponseType::RequestTimeout,
        };
        let error = GatewayError::new(kind, e.detail);
        match e.fault {
            Fault::BodyEndedEarly | Fault::BodyTooSlow | Fault::BodyTooLarge => error.closing(),
            _ => error,
        }
    }
}
