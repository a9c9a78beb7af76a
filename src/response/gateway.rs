//! Gateway responses: the one place a [`GatewayError`] becomes AWS's status, `{"message": ...}` body
//! and `x-amzn-ErrorType` header.
//!
//! REST APIs send AWS's gateway-response catalogue (with `x-amzn-ErrorType`); HTTP APIs send their
//! fixed bodies without it, as AWS does. Customising a response type per API (AWS's
//! `GatewayResponse`) will hook in at [`render`].

use crate::error::{GatewayError, ResponseType};
use crate::http::encode;
use crate::table::Protocol;

use super::request_id::RequestId;
use super::{Flow, common_headers};

/// Status, message and error type for one response type under one API kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub message: &'static str,
    pub error_type: Option<&'static str>,
}

pub fn lookup(protocol: Protocol, kind: ResponseType) -> Rendered {
    use ResponseType::*;
    let (status, message, error_type) = match (protocol, kind) {
        (Protocol::Rest, MissingAuthenticationToken) => {
            (403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        }
        (Protocol::Http, MissingAuthenticationToken) => (404, "Not Found", ""),
        (_, BadRequest) => (400, "Bad Request", "BadRequestException"),
        (_, UriTooLong) => (414, "Request URI too long", "BadRequestException"),
        (_, HeadersTooLarge) => (431, "Request Header Fields Too Large", "BadRequestException"),
        (Protocol::Rest, RequestTooLarge) => (413, "Request Too Long", "RequestTooLargeException"),
        (Protocol::Http, RequestTooLarge) => (413, "Request Entity Too Large", ""),
        (_, NotImplemented) => (501, "Not Implemented", "BadRequestException"),
        (_, VersionNotSupported) => (505, "HTTP Version Not Supported", "BadRequestException"),
        (_, RequestTimeout) => (408, "Request Timeout", "BadRequestException"),
        (Protocol::Rest, IntegrationTimeout) => (504, "Endpoint request timed out", "InternalServerErrorException"),
        (Protocol::Http, IntegrationTimeout) => (503, "Service Unavailable", ""),
        (Protocol::Rest, IntegrationFailure) => (502, "Internal server error", "InternalServerErrorException"),
        (Protocol::Http, IntegrationFailure) => (502, "Bad Gateway", ""),
        (Protocol::Rest, Internal) => (500, "Internal server error", "InternalServerErrorException"),
        (Protocol::Http, Internal) => (500, "Internal Server Error", ""),
        (Protocol::Rest, CacheInvalidationDenied) => (403, "Forbidden", "AccessDeniedException"),
        (Protocol::Http, CacheInvalidationDenied) => (403, "Forbidden", ""),
        (Protocol::Rest, MisdirectedRequest) => (421, "Misdirected Request", "BadRequestException"),
        (Protocol::Http, MisdirectedRequest) => (421, "Misdirected Request", ""),
        (Protocol::Rest, Throttled) => (429, "Too Many Requests", "TooManyRequestsException"),
        (Protocol::Http, Throttled) => (429, "Too Many Requests", ""),
        (_, InvalidApiKey) => (403, "Forbidden", "ForbiddenException"),
        (_, QuotaExceeded) => (429, "Limit Exceeded", "LimitExceededException"),
        (_, FleetUnavailable) => (503, "Service Unavailable", "ServiceUnavailableException"),
    };
    // HTTP APIs carry no x-amzn-ErrorType (AWS-DG http-api-vs-rest: no gateway responses).
    let error_type = (protocol == Protocol::Rest && !error_type.is_empty()).then_some(error_type);
    Rendered { status, message, error_type }
}

/// Appends the complete error response (head and body) to `out`; returns the status and the body's
/// length.
pub fn render(
    out: &mut Vec<u8>,
    protocol: Protocol,
    error: &GatewayError,
    id: &RequestId,
    flow: Flow,
    head_only: bool,
    http10: bool,
) -> (u16, usize) {
    let r = lookup(protocol, error.kind);
    encode::status_line(out, r.status, b"");
    encode::header(out, b"Content-Type", b"application/json");
    let body_len = r.message.len() + r#"{"message":""}"#.len();
    encode::header_u64(out, b"Content-Length", body_len as u64);
    if let Some(t) = r.error_type {
        encode::header(out, b"x-amzn-ErrorType", t.as_bytes());
    }
    if error.retry_after_s > 0 {
        encode::header_u64(out, b"Retry-After", u64::from(error.retry_after_s));
    }
    common_headers(out, protocol, id, flow, http10);
    out.extend_from_slice(b"\r\n");
    if head_only {
        return (r.status, 0);
    }
    out.extend_from_slice(b"{\"message\":\"");
    out.extend_from_slice(r.message.as_bytes());
    out.extend_from_slice(b"\"}");
    (r.status, body_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_with_exact_length() {
        let id = RequestId::new(Protocol::Rest);
        let mut out = Vec::new();
        let err = GatewayError::new(ResponseType::MissingAuthenticationToken, "");
        render(&mut out, Protocol::Rest, &err, &id, Flow::KeepAlive, false, false);
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
