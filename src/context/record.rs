//! What happened to one request, for metrics and the access log: the status sent, how long the
//! integration took, which error was rendered. Part of the request's [`Context`](super::Context);
//! filling it is a few stores, no allocation.

use crate::error::GatewayError;
use crate::trace::TraceContext;

#[derive(Debug, Default)]
pub struct Record {
    /// Status line sent to the client (0 = nothing sent).
    pub status: u16,
    /// Size of the response head, so the payload length is what was written minus this.
    pub head_bytes: u64,
    /// Set when an integration that talks to an upstream started.
    pub integration_started: Option<quanta::Instant>,
    /// Request sent to response head received (or to failure).
    pub integration_us: Option<u64>,
    pub integration_status: Option<u16>,
    /// Its line and counts were made already (a WebSocket connection's are per event).
    pub observed: bool,
    /// The gateway error rendered for this request, if any.
    pub error: Option<GatewayError>,
    pub cache: CacheOutcome,
    /// The trace the request was forwarded under.
    pub trace: Option<TraceContext>,
    /// The function the integration invoked (index into the table's functions).
    pub function: Option<u32>,
    /// The invocation was refused: the function's concurrency was used up past its queue time.
    pub function_throttled: bool,
    /// Why the authorization step refused the request, for the operator (`auth_debug`): which
    /// check failed and on what. Never holds a secret (no token, no signature).
    pub auth_reason: Option<String>,
    /// Why request validation refused the request (`$context.error.validationErrorString`).
    pub validation_error: Option<Box<str>>,
}

/// What the cache did for a request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    #[default]
    None,
    Hit,
    Miss,
}

impl Record {
    /// Notes the response head about to be written.
    #[inline]
    pub fn response(&mut self, status: u16, head_bytes: usize) {
        self.status = status;
        self.head_bytes = head_bytes as u64;
    }

    /// Notes the upstream's response head (integration latency ends here).
    #[inline]
    pub fn integration_answered(&mut self, status: u16) {
        self.integration_status = Some(status);
        self.integration_us = self.integration_started.map(|s| s.elapsed().as_micros() as u64);
    }
}
