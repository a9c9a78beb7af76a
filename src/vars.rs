//! `$context` variables: what one request gives them ([`Fields`]) and their rendering, for the
//! access log (`crate::access_log::format`) and customised gateway responses
//! (`crate::response::custom`). Templates are compiled once by the config compiler
//! ([`crate::config::log_format`]) into [`Part`]s.
//!
//! A variable with no value renders as the caller's `missing` text (`-` in access logs, which is
//! what AWS writes; nothing in a response body). Values are escaped so a client cannot forge a
//! log line or break a JSON body: JSON-escaped in JSON templates, otherwise `"`, `\` and control
//! bytes become `\xHH` (as nginx does); valid UTF-8 passes through as characters and invalid bytes
//! become U+FFFD. Rendering allocates nothing.

use std::net::IpAddr;

pub use crate::table::log_format::{Part, Var};

/// What one request contributes to its log line.
pub struct Fields<'a> {
    pub request_id: &'a str,
    pub source_ip: IpAddr,
    pub user_agent: Option<&'a [u8]>,
    pub method: &'a [u8],
    pub route_key: &'a str,
    pub resource_path: &'a str,
    pub path: &'a [u8],
    pub protocol: &'a str,
    pub status: u16,
    pub response_length: u64,
    pub latency_us: u64,
    pub integration_latency_us: Option<u64>,
    pub integration_status: Option<u16>,
    pub integration_error: Option<&'a str>,
    /// The message sent to the client and AWS's response type, for gateway errors.
    pub error: Option<(&'a str, &'a str)>,
    /// Unix time of the request in milliseconds.
    pub time_ms: u64,
    pub stage: &'a str,
    pub api: &'a str,
    pub host: Option<&'a [u8]>,
    pub trace_id: Option<[u8; 32]>,
    /// The verified client certificate of a mutual-TLS connection.
    pub client_cert: Option<&'a crate::tls::client_cert::ClientCert>,
    /// The API key the request was admitted with: (name, value).
    pub api_key: Option<(&'a str, &'a str)>,
    /// What the route's authorizer said of the caller.
    pub authorized: &'a crate::context::auth::Authorized,
    /// `$context.authorizer.error`.
    pub authorizer_error: Option<&'a str>,
    /// `$context.error.validationErrorString`.
    pub validation_error: Option<&'a str>,
    /// A WebSocket event's own values (`None` for an HTTP request).
    pub websocket: Option<WebSocketEvent<'a>>,
}

/// What a WebSocket event adds to `$context`.
#[derive(Debug, Clone, Copy)]
pub struct WebSocketEvent<'a> {
    pub connection_id: &'a str,
    /// `CONNECT`, `MESSAGE` or `DISCONNECT`.
    pub event_type: &'a str,
    pub message_id: Option<&'a str>,
    pub connected_at_ms: u64,
}

/// How values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// JSON string escapes (a JSON template).
    Json,
    /// `"`, `\` and control bytes as `\xHH` (a log line).
    Log,
    /// As they are: the caller refuses what it cannot carry (a mapped header refuses CR/LF/NUL).
    Raw,
}

fn escape(out: &mut Vec<u8>, value: &[u8], how: Escape) {
    match how {
        Escape::Json => crate::json::escape(out, value, true),
        Escape::Log => crate::json::escape(out, value, false),
        Escape::Raw => out.extend_from_slice(value),
    }
}

/// Appends `parts` rendered to `out`; a variable without a value is `missing`.
pub fn render(out: &mut Vec<u8>, parts: &[Part], how: Escape, missing: &[u8], f: &Fields<'_>) {
    for part in parts {
        match part {
            Part::Literal(text) => out.extend_from_slice(text.as_bytes()),
            other => render_part(out, other, how, missing, f),
        }
    }
}

/// Appends one variable part (a literal is appended as it is).
pub fn render_part(out: &mut Vec<u8>, part: &Part, how: Escape, missing: &[u8], f: &Fields<'_>) {
    match part {
        Part::Literal(text) => out.extend_from_slice(text.as_bytes()),
        Part::Var(var) => render_var(out, *var, how, missing, f),
        Part::Claim(name) => match f.authorized.claim(name) {
            Some(v) if !v.is_empty() => escape(out, v.as_bytes(), how),
            _ => out.extend_from_slice(missing),
        },
        Part::AuthorizerValue(key) => match f.authorized.value(key) {
            Some(v) if !v.is_empty() => escape(out, v.as_bytes(), how),
            _ => out.extend_from_slice(missing),
        },
    }
}

fn render_var(out: &mut Vec<u8>, var: Var, how: Escape, missing: &[u8], f: &Fields<'_>) {
    let text = |out: &mut Vec<u8>, value: Option<&[u8]>| match value {
        Some(v) if !v.is_empty() => escape(out, v, how),
        _ => out.extend_from_slice(missing),
    };
    let number = |out: &mut Vec<u8>, value: Option<u64>| match value {
        Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => out.extend_from_slice(missing),
    };
    match var {
        Var::RequestId => text(out, Some(f.request_id.as_bytes())),
        Var::SourceIp => crate::http::encode::ip(out, f.source_ip),
        Var::UserAgent => text(out, f.user_agent),
        Var::HttpMethod => text(out, Some(f.method)),
        Var::RouteKey => text(out, Some(f.route_key.as_bytes())),
        Var::ResourcePath => text(out, Some(f.resource_path.as_bytes())),
        Var::Path => text(out, Some(f.path)),
        Var::Protocol => text(out, Some(f.protocol.as_bytes())),
        Var::Status => number(out, Some(u64::from(f.status))),
        Var::ResponseLength => number(out, Some(f.response_length)),
        Var::ResponseLatency => number(out, Some(f.latency_us / 1000)),
        Var::ResponseLatencyUs => number(out, Some(f.latency_us)),
        Var::IntegrationLatency => number(out, f.integration_latency_us.map(|us| us / 1000)),
        Var::IntegrationLatencyUs => number(out, f.integration_latency_us),
        Var::IntegrationStatus => number(out, f.integration_status.map(u64::from)),
        Var::IntegrationErrorMessage => text(out, f.integration_error.map(str::as_bytes)),
        Var::ErrorMessage => text(out, f.error.map(|(m, _)| m.as_bytes())),
        // AWS's AUTHORIZER_CONFIGURATION_ERROR has a null message: `{"message":null}`.
        Var::ErrorMessageString => match f.error {
            Some(("null", _)) => out.extend_from_slice(b"null"),
            Some((m, _)) => {
                out.push(b'"');
                escape(out, m.as_bytes(), how);
                out.push(b'"');
            }
            None => out.extend_from_slice(missing),
        },
        Var::ErrorResponseType => text(out, f.error.map(|(_, t)| t.as_bytes())),
        Var::ValidationErrorString => text(out, f.validation_error.map(str::as_bytes)),
        Var::RequestTime => crate::request_time::clf(out, f.time_ms / 1000),
        Var::RequestTimeEpoch => number(out, Some(f.time_ms)),
        Var::Stage => text(out, Some(f.stage.as_bytes())),
        Var::ApiId => text(out, Some(f.api.as_bytes())),
        Var::DomainName => text(out, f.host),
        Var::DomainPrefix => text(out, f.host.map(|h| h.split(|&b| b == b'.').next().unwrap_or(h))),
        Var::TraceId => text(out, f.trace_id.as_ref().map(|t| &t[..])),
        Var::ApiKeyId => text(out, f.api_key.map(|(name, _)| name.as_bytes())),
        Var::ApiKey => text(out, f.api_key.map(|(_, value)| value.as_bytes())),
        Var::ClientCert(field) => text(out, f.client_cert.map(|c| c.field(field).as_bytes())),
        Var::IdentityUserArn => text(out, f.authorized.iam().map(|i| i.user_arn.as_bytes())),
        Var::IdentityCaller => text(out, f.authorized.iam().map(|i| i.caller.as_bytes())),
        Var::IdentityAccessKey => text(out, f.authorized.iam().map(|i| i.access_key.as_bytes())),
        Var::AuthorizerPrincipal => text(out, f.authorized.principal().map(str::as_bytes)),
        Var::AuthorizerError => text(out, f.authorizer_error.map(str::as_bytes)),
        Var::ConnectionId => text(out, f.websocket.map(|w| w.connection_id.as_bytes())),
        Var::EventType => text(out, f.websocket.map(|w| w.event_type.as_bytes())),
        Var::MessageId => text(out, f.websocket.and_then(|w| w.message_id).map(str::as_bytes)),
        Var::ConnectedAt => number(out, f.websocket.map(|w| w.connected_at_ms)),
        // Every event Portico logs is one the client sent (AWS logs `IN` for those).
        Var::MessageDirection => text(out, f.websocket.map(|_| &b"IN"[..])),
        Var::Missing => out.extend_from_slice(missing),
    }
}
