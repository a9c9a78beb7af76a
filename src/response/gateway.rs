//! Gateway responses: the one place a [`GatewayError`] becomes AWS's status, `{"message": ...}` body
//! and `x-amzn-ErrorType` header.
//!
//! REST APIs send AWS's gateway-response catalogue (with `x-amzn-ErrorType`); HTTP APIs send their
//! fixed bodies without it, as AWS does. A response type customised per API (AWS's
//! `GatewayResponse`, rendered by [`super::custom`]) changes the status, body and headers here.

use super::{Body, Headers, Response};
use crate::error::{GatewayError, ResponseType};
use crate::table::Protocol;

/// Status, message and error type for one response type under one API kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub message: &'static str,
    /// `{"message":"..."}`, what the client gets.
    pub body: &'static str,
    pub error_type: Option<&'static str>,
}

/// A message and its JSON body, both static.
macro_rules! m {
    ($message:literal) => {
        ($message, concat!("{\"message\":\"", $message, "\"}"))
    };
}

pub fn lookup(protocol: Protocol, kind: ResponseType) -> Rendered {
    use ResponseType::*;
    let (status, (message, body), error_type) = match (protocol, kind) {
        (Protocol::Rest, MissingAuthenticationToken) => {
            (403, m!("Missing Authentication Token"), "MissingAuthenticationTokenException")
        }
        (Protocol::Http, MissingAuthenticationToken) => (404, m!("Not Found"), ""),
        (_, BadRequest) => (400, m!("Bad Request"), "BadRequestException"),
        (_, UriTooLong) => (414, m!("Request URI too long"), "BadRequestException"),
        (_, HeadersTooLarge) => (431, m!("Request Header Fields Too Large"), "BadRequestException"),
        (Protocol::Rest, RequestTooLarge) => (413, m!("Request Too Long"), "RequestTooLargeException"),
        (Protocol::Http, RequestTooLarge) => (413, m!("Request Entity Too Large"), ""),
        (_, NotImplemented) => (501, m!("Not Implemented"), "BadRequestException"),
        (_, VersionNotSupported) => (505, m!("HTTP Version Not Supported"), "BadRequestException"),
        (_, RequestTimeout) => (408, m!("Request Timeout"), "BadRequestException"),
        (Protocol::Rest, IntegrationTimeout) => (504, m!("Endpoint request timed out"), "InternalServerErrorException"),
        (Protocol::Http, IntegrationTimeout) => (503, m!("Service Unavailable"), ""),
        (Protocol::Rest, IntegrationFailure) => (502, m!("Internal server error"), "InternalServerErrorException"),
        (Protocol::Http, IntegrationFailure) => (502, m!("Bad Gateway"), ""),
        // AWS §1.2: a malformed Lambda proxy answer or a function error.
        (Protocol::Rest, FunctionError) => (502, m!("Internal server error"), "InternalServerErrorException"),
        (Protocol::Http, FunctionError) => (500, m!("Internal Server Error"), ""),
        // AWS §1.2: a Lambda invoke refused (permissions, throttling).
        (Protocol::Rest, FunctionUnavailable) => (500, m!("Internal server error"), "InternalServerErrorException"),
        (Protocol::Http, FunctionUnavailable) => (500, m!("Internal Server Error"), ""),
        (Protocol::Rest, Internal) => (500, m!("Internal server error"), "InternalServerErrorException"),
        (Protocol::Http, Internal) => (500, m!("Internal Server Error"), ""),
        (Protocol::Rest, CacheInvalidationDenied) => (403, m!("Forbidden"), "AccessDeniedException"),
        (Protocol::Http, CacheInvalidationDenied) => (403, m!("Forbidden"), ""),
        (Protocol::Rest, MisdirectedRequest) => (421, m!("Misdirected Request"), "BadRequestException"),
        (Protocol::Http, MisdirectedRequest) => (421, m!("Misdirected Request"), ""),
        (Protocol::Rest, Throttled) => (429, m!("Too Many Requests"), "TooManyRequestsException"),
        (Protocol::Http, Throttled) => (429, m!("Too Many Requests"), ""),
        (_, InvalidApiKey) => (403, m!("Forbidden"), "ForbiddenException"),
        (_, Unauthorized) => (401, m!("Unauthorized"), "UnauthorizedException"),
        (Protocol::Rest, MissingSignature) => {
            (403, m!("Missing Authentication Token"), "MissingAuthenticationTokenException")
        }
        (Protocol::Http, MissingSignature) => (403, m!("Forbidden"), ""),
        (_, IncompleteSignature) => (403, m!("Incomplete signature"), "IncompleteSignatureException"),
        (_, InvalidSignature) => (403, m!("Invalid signature"), "InvalidSignatureException"),
        (_, ExpiredSignature) => (403, m!("Signature expired"), "InvalidSignatureException"),
        (_, UnknownCredential) => {
            (403, m!("The security token included in the request is invalid."), "UnrecognizedClientException")
        }
        (Protocol::Rest, AccessDenied) => {
            (403, m!("User is not authorized to access this resource"), "AccessDeniedException")
        }
        (Protocol::Rest, AccessDeniedExplicit) => {
            (403, m!("User is not authorized to access this resource with an explicit deny"), "AccessDeniedException")
        }
        (Protocol::Rest, InsufficientScope) => (403, m!("Forbidden"), "AccessDeniedException"),
        (Protocol::Http, AccessDenied | AccessDeniedExplicit | InsufficientScope) => (403, m!("Forbidden"), ""),
        // AWS's AUTHORIZER_CONFIGURATION_ERROR (REST) / its fixed 500 (HTTP APIs).
        // AWS's AUTHORIZER_CONFIGURATION_ERROR has no message: `{"message":null}`.
        (Protocol::Rest, AuthorizerFailure) => {
            (500, ("null", r#"{"message":null}"#), "AuthorizerConfigurationException")
        }
        (Protocol::Http, AuthorizerFailure) => (500, m!("Internal Server Error"), ""),
        // AWS §1.6; the parameters' message names them (per request).
        (_, BadRequestParameters) => (400, m!("Missing required request parameters"), "BadRequestException"),
        (_, BadRequestBody) => (400, m!("Invalid request body"), "BadRequestException"),
        (_, QuotaExceeded) => (429, m!("Limit Exceeded"), "LimitExceededException"),
        (_, FleetUnavailable) => (503, m!("Service Unavailable"), "ServiceUnavailableException"),
        (_, UnsupportedMediaType) => (415, m!("Unsupported Media Type"), "UnsupportedMediaTypeException"),
        (_, ApiConfiguration) => (500, m!("Internal server error"), "InternalServerErrorException"),
    };
    // HTTP APIs carry no x-amzn-ErrorType (AWS-DG http-api-vs-rest: no gateway responses).
    let error_type = (protocol == Protocol::Rest && !error_type.is_empty()).then_some(error_type);
    Rendered { status, message, body, error_type }
}

/// The response for `error` under an API of `protocol`, as AWS answers it by default.
pub fn response(protocol: Protocol, error: &GatewayError) -> Response<'static> {
    customised(protocol, error, Custom::default())
}

/// What a customised gateway response (AWS's `GatewayResponse`) changes; rendered by
/// [`super::custom`].
#[derive(Default)]
pub struct Custom<'a> {
    pub status: Option<u16>,
    /// The rendered body and its content type.
    pub body: Option<(&'a str, bytes::Bytes)>,
    /// Header lines, encoded (`Name: value\r\n` each).
    pub headers: &'a [u8],
}

/// The response for `error`, customised.
pub fn customised(protocol: Protocol, error: &GatewayError, custom: Custom<'_>) -> Response<'static> {
    let r = lookup(protocol, error.kind);
    let mut response =
        Response::new(custom.status.unwrap_or(r.status), Headers::Encoded(b""), Body::Static(r.body.as_bytes()));
    let mut content_type = "application/json";
    if let Some((ct, body)) = custom.body {
        content_type = ct;
        response.body = Body::Shared(body);
    } else if let Some(message) = &error.message {
        // A message of this very request (AWS's SigV4 errors) instead of the type's fixed one.
        let mut body = Vec::with_capacity(message.len() + 16);
        body.extend_from_slice(b"{\"message\":");
        crate::json::string(&mut body, message.as_bytes());
        body.push(b'}');
        response.body = Body::Shared(bytes::Bytes::from(body));
    }
    response.extra.header(b"Content-Type", content_type.as_bytes());
    // A customised header replaces the gateway's own of that name.
    let own = |name: &[u8]| !sets(custom.headers, name);
    if let Some(t) = r.error_type.filter(|_| own(b"x-amzn-errortype")) {
        response.extra.header(b"x-amzn-ErrorType", t.as_bytes());
    }
    if let Some(description) = error.challenge.filter(|_| own(b"www-authenticate")) {
        // AWS's form: `Bearer scope="" error="invalid_token" error_description="..."`.
        response.extra.line(b"www-authenticate: Bearer");
        if !description.is_empty() {
            response.extra.line(b" scope=\"\" error=\"invalid_token\" error_description=\"");
            response.extra.line(description.as_bytes());
            response.extra.line(b"\"");
        }
        response.extra.line(b"\r\n");
    }
    if error.retry_after_s > 0 && own(b"retry-after") {
        response.extra.header_u64(b"Retry-After", u64::from(error.retry_after_s));
    }
    response.extra.line(custom.headers);
    response
}

/// Whether encoded header `lines` set `name` (lower-case).
fn sets(lines: &[u8], name: &[u8]) -> bool {
    lines.split(|&b| b == b'\n').any(|line| {
        line.len() > name.len() && line[name.len()] == b':' && line[..name.len()].eq_ignore_ascii_case(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_with_exact_length() {
        let id = crate::context::request_id::RequestId::new(Protocol::Rest);
        let mut out = Vec::new();
        let err = GatewayError::new(ResponseType::MissingAuthenticationToken, "");
        let common = super::super::write::Common {
            protocol: Protocol::Rest,
            id: &id,
            flow: super::super::Flow::KeepAlive,
            http10: false,
            added: b"",
            drop_cors: false,
        };
        super::super::write::head(&mut out, &response(Protocol::Rest, &err), common);
        out.extend_from_slice(lookup(Protocol::Rest, err.kind).body.as_bytes());
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(head.contains("\r\nx-amzn-ErrorType: MissingAuthenticationTokenException"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert_eq!(body, r#"{"message":"Missing Authentication Token"}"#);
    }

    #[test]
    fn http_apis_have_no_error_type() {
        let r = lookup(Protocol::Http, ResponseType::MissingAuthenticationToken);
        assert_eq!((r.status, r.message, r.error_type), (404, "Not Found", None));
        assert_eq!(lookup(Protocol::Http, ResponseType::IntegrationTimeout).status, 503);
        assert_eq!(lookup(Protocol::Rest, ResponseType::IntegrationTimeout).status, 504);
    }
}
