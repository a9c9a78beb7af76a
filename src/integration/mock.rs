//! Mock integrations: a fixed status, headers and body from the table, as AWS's `MOCK` type.
//!
//! Cost: the response is written into the connection's reused buffer; no allocation, one write.

use crate::error::GatewayError;
use crate::http::conn::ClientConn;
use crate::http::{Method, encode};
use crate::pipeline::Request;
use crate::response::{Flow, common_headers};
use crate::table::Mock;

pub async fn respond(conn: &mut ClientConn, req: &Request<'_>, mock: &Mock) -> Result<Flow, GatewayError> {
    let mut flow = if req.head.keep_alive { conn.discard_body(req.head, req.limits).await? } else { Flow::Close };
    let out = &mut conn.wbuf;
    out.clear();
    encode::status_line(out, mock.status, b"");
    let mut has_type = false;
    for (name, value) in &mock.headers {
        has_type |= name.eq_ignore_ascii_case("content-type");
        encode::header(out, name.as_bytes(), value.as_bytes());
    }
    if !has_type {
        encode::header(out, b"Content-Type", b"application/json");
    }
    let bodyless = mock.status == 204 || mock.status == 304 || (100..200).contains(&mock.status);
    if !bodyless {
        encode::header_u64(out, b"Content-Length", mock.body.len() as u64);
    }
    common_headers(out, req.protocol, &req.id, flow, req.head.version_minor == 0);
    out.extend_from_slice(b"\r\n");
    conn.record.response(mock.status, conn.wbuf.len());
    let out = &mut conn.wbuf;
    if req.head.method != Method::Head && !bodyless {
        out.extend_from_slice(mock.body.as_bytes());
    }
    if conn.flush().await.is_err() {
        flow = Flow::Close;
    }
    Ok(flow)
}
