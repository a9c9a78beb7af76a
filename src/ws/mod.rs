//! The WebSocket codec (RFC 6455), as `http` is HTTP/1.1's: the opening handshake
//! ([`handshake`]), frame headers ([`frame`]), messages joined from frames with the RFC's
//! failure rules ([`message`], with [`utf8`] for text), and close codes ([`close`]).
//!
//! Must not: know about APIs, routes or integrations — it imports nothing but the HTTP head it
//! upgrades (`tests/layers.rs` holds this). Cost: nothing allocates per frame; an unfragmented
//! message is a slice of the connection's read buffer.

pub mod close;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod utf8;
