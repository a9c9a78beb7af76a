//! Mock integrations: a fixed status, headers and body from the table, as AWS's `MOCK` type.
//!
//! Cost: a [`Response`] borrowing the table's headers and body; no allocation.

use crate::response::{Body, Headers, Response};
use crate::table::Mock;

pub fn response(mock: &Mock) -> Response<'_> {
    let mut response = Response::new(mock.status, Headers::Pairs(&mock.headers), Body::Static(mock.body.as_bytes()));
    if !mock.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        response.extra.header(b"Content-Type", b"application/json");
    }
    response
}
