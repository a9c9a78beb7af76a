//! A WebSocket API's own table: how a message picks its route (AWS's route selection
//! expression), which routes answer the client (route responses), and the connection limits.
//! Its routes are the API's routes (keys `$connect`, `$disconnect`, `$default` and custom ones,
//! as [`super::RouteKey::Message`]), with their integrations in each stage as usual.

use serde::{Deserialize, Serialize};

/// A piece of a route selection expression.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Selector {
    /// Text as written (`\$default` is the literal `$default`).
    Literal(String),
    /// `$request.body.a.b`: the message's JSON at that path (`""` when missing).
    Body(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebSocket {
    /// `route_selection_expression`, in pieces.
    pub selection: Vec<Selector>,
    /// One per route of the API, same index: the route sends its integration's answer back to
    /// the client (AWS's route response).
    pub two_way: Vec<bool>,
    /// Indices of the `$connect`, `$disconnect` and `$default` routes.
    pub connect: Option<u32>,
    pub disconnect: Option<u32>,
    pub default: Option<u32>,
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    pub max_frame_bytes: u64,
    pub max_message_bytes: u64,
    /// A ping goes out after this long without a frame from the client.
    pub ping_interval_ms: u64,
    /// The connection closes (1001) after this long without a frame from the client.
    pub idle_timeout_ms: u64,
    /// The connection closes (1001) this long after it opened; `None`: never.
    pub max_lifetime_ms: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_bytes: 1 << 20,
            max_message_bytes: 1 << 20,
            ping_interval_ms: 30_000,
            idle_timeout_ms: 75_000,
            max_lifetime_ms: None,
        }
    }
}
