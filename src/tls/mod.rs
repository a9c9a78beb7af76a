//! TLS termination with rustls: certificate loading and checks ([`certs`]), the server
//! configuration with SNI and session resumption ([`server`]), and the client stream that is plain
//! TCP or TLS ([`stream`]). Handshakes run in the connection's task on its worker, bounded by
//! `[tls] handshake_timeout_ms`.

pub mod certs;
pub mod client;
pub mod client_cert;
pub mod server;
pub mod session;
pub mod stream;
