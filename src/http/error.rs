//! What the codec found wrong with what a peer sent, in HTTP's own terms. The codec decides
//! nothing about responses: the pipeline maps each [`Fault`] to a gateway response
//! (`From<http::Error> for GatewayError` in `crate::error`).

use std::fmt;

/// The kind of fault, named for the HTTP status it calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Malformed syntax or framing (400).
    BadRequest,
    /// Request line over the URI limit (414).
    UriTooLong,
    /// Header section over its limits (431).
    HeadersTooLarge,
    /// A transfer coding we do not implement (501).
    NotImplemented,
    /// An HTTP version other than 1.x (505).
    VersionNotSupported,
    /// A body over its limit (413).
    BodyTooLarge,
    /// A body slower than its deadline, or silent too long (408).
    BodyTooSlow,
    /// The peer closed before the body was whole.
    BodyEndedEarly,
}

/// One fault, with detail for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub fault: Fault,
    pub detail: &'static str,
}

impl Error {
    pub const fn new(fault: Fault, detail: &'static str) -> Error {
        Error { fault, detail }
    }

    pub const fn bad(detail: &'static str) -> Error {
        Error::new(Fault::BadRequest, detail)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.fault, self.detail)
    }
}

impl std::error::Error for Error {}
