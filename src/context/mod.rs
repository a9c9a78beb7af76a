//! The request context: one value per request, built when its head has been read, that carries
//! what the steps learn — API and stage, route and its captures, the request id, who the caller
//! is, the body when the route buffers it — and what happened ([`record::Record`]: status,
//! integration timing, the error rendered), which is where `$context` values come from. The
//! access log, the metrics, and what will come (templates, function events, customised gateway
//! responses) read it.
//!
//! A leaf: it holds data and imports only data types (the table, the error, the trace). Filling
//! it is plain stores; nothing here allocates (captures are inline, the body is a `Bytes` split
//! off the read buffer).

pub mod auth;
pub mod record;
pub mod request_id;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::http::head::{Framing, RequestHead};
use crate::table::Protocol;
use record::Record;
use request_id::RequestId;

/// Path parameters the router captured: `(start, end)` into the routed path, in the route's
/// parameter order.
pub type Captures = SmallVec<[(u32, u32); 4]>;

/// Who the caller is, as far as the steps so far could tell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The API key the request was admitted with (index into the table's keys).
    pub api_key: Option<u32>,
    /// The usage plan the key was admitted under.
    pub plan: Option<u32>,
}

/// Where the request body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// Nothing read yet (or there is no body): it is still on the client connection.
    Unread,
    /// Received whole and kept here (the route buffers bodies up to a bound).
    Buffered(Bytes),
    /// Read on: sent to an upstream or dropped. The connection is past it.
    Consumed,
}

pub struct Context {
    pub started: quanta::Instant,
    /// The API kind whose shapes (request ids, error bodies) this request gets: the listener's
    /// until an API is selected.
    pub protocol: Protocol,
    id: Option<RequestId>,
    /// API and stage; `None` until (or unless) one is selected.
    pub api_stage: Option<(u32, u32)>,
    /// The custom domain that selected them.
    pub domain: Option<u32>,
    pub route: Option<u32>,
    /// Where the routed path starts in the request path (after the stage or base path).
    pub path_offset: usize,
    pub captures: Captures,
    pub identity: Identity,
    /// What the route's authorizer said about the caller.
    pub authorized: auth::Authorized,
    pub body: RequestBody,
    /// The client spoke HTTP/1.0 (keep-alive must be confirmed in the response).
    pub http10: bool,
    /// A `HEAD` request: responses carry no body.
    pub head_only: bool,
    /// The client wants the connection kept open after this request.
    pub keep_alive: bool,
    /// Header lines every response to this request carries (the API's CORS headers for its
    /// origin), encoded; inline up to their usual size.
    pub response_headers: SmallVec<[u8; 192]>,
    /// The API answers CORS itself: integrations' `Access-Control-*` headers are dropped.
    pub cors_owned: bool,
    pub record: Record,
}

impl Context {
    pub fn new(head: &RequestHead, protocol: Protocol) -> Context {
        let http10 = head.version_minor == 0;
        let head_only = head.method == crate::http::Method::Head;
        Context::blank(protocol, (http10, head_only, head.keep_alive), RequestBody::Unread)
    }

    /// A request whose head could not be read: it gets an error response and the connection
    /// closes.
    pub fn malformed(protocol: Protocol) -> Context {
        Context::blank(protocol, (false, false, false), RequestBody::Consumed)
    }

    fn blank(protocol: Protocol, (http10, head_only, keep_alive): (bool, bool, bool), body: RequestBody) -> Context {
        Context {
            started: quanta::Instant::now(),
            protocol,
            id: None,
            api_stage: None,
            domain: None,
            route: None,
            path_offset: 0,
            captures: Captures::new(),
            identity: Identity::default(),
            authorized: auth::Authorized::None,
            body,
            http10,
            head_only,
            keep_alive,
            response_headers: SmallVec::new(),
            cors_owned: false,
            record: Record::default(),
        }
    }

    /// The request id, made on first use in the shape of the API kind known by then.
    pub fn id(&mut self) -> RequestId {
        *self.id.get_or_insert_with(|| RequestId::new(self.protocol))
    }

    /// The request id, if one was made (the access log writes `-` otherwise).
    pub fn id_if_made(&self) -> Option<&RequestId> {
        self.id.as_ref()
    }

    /// The path the router sees: the request path after the stage or base path.
    pub fn routed_path<'h>(&self, head: &'h RequestHead) -> &'h [u8] {
        match &head.path()[self.path_offset..] {
            [] => b"/",
            rest => rest,
        }
    }

    /// Whether unread body bytes may still be on the connection.
    pub fn body_unread(&self, head: &RequestHead) -> bool {
        self.body == RequestBody::Unread && head.framing != Framing::None
    }
}
