//! What goes back to the client: request ids, AWS gateway responses for failures ([`gateway`]), and
//! the headers every response carries.

pub mod gateway;
pub mod request_id;

use crate::http::encode;
use crate::table::Protocol;
use request_id::RequestId;

/// Whether the client connection stays open after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    KeepAlive,
    Close,
}

/// Appends the headers every Portico response carries: the request id under the API kind's name,
/// `Date`, and `Connection: close` when the connection ends after this response — or
/// `Connection: keep-alive` when it stays open for an HTTP/1.0 client, which would assume otherwise.
pub fn common_headers(out: &mut Vec<u8>, protocol: Protocol, id: &RequestId, flow: Flow, http10: bool) {
    match protocol {
        Protocol::Rest => encode::header(out, b"x-amzn-RequestId", id.as_bytes()),
        Protocol::Http => encode::header(out, b"apigw-requestid", id.as_bytes()),
    }
    encode::date_header(out);
    match flow {
        Flow::Close => encode::header(out, b"Connection", b"close"),
        Flow::KeepAlive if http10 => encode::header(out, b"Connection", b"keep-alive"),
        Flow::KeepAlive => {}
    }
}
