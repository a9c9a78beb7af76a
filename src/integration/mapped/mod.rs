//! Non-proxy integrations (AWS's `HTTP` and `AWS` types, REST APIs): the request goes through
//! a mapping template chosen by its content type (or passes through, or is refused with 415, by
//! the integration's passthrough behaviour) — [`request`]; the rendered request goes to the
//! backend — an HTTP endpoint with only what is mapped (AWS forwards no client header or query
//! parameter it was not told to), a function whose event it is, or an AWS service API, signed
//! with SigV4 — [`backend`]; and the backend's answer is mapped back — [`response`]: the first
//! integration response whose selection pattern matches the backend's selector (its whole status
//! code, a function's `errorMessage`), else the default one, gives the client's status, headers
//! (`response_parameters`) and body (its template for the client's `Accept`, or the backend's
//! body as it came, converted as `content_handling` says).
//!
//! The three steps are plain functions over the request, so `portico test-invoke` runs the very
//! same code and shows what each produced.
//!
//! Cost: the route receives its body whole; each template render builds the request's
//! `$input`/`$context` values and writes one output string; the backend's answer is read whole
//! (up to the body limit) before the client's response starts.

pub mod backend;
pub(crate) mod buffers;
pub mod request;
pub mod response;

use crate::conn::ClientConn;
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::outbound::Outbound;
use crate::request_vars::Peer;
use crate::response::{Body, Flow, Headers, Response, write};
use crate::table::templates::Mapped;

pub(crate) const NO_FIELDS: GatewayError =
    GatewayError::new(ResponseType::Internal, "a routed request without its API and stage");

/// Step 7 for a non-proxy route, whose body the pipeline has received whole; `flow` is what
/// the connection does after the response.
pub async fn call(
    outbound: Outbound<'_>,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    mapped: &Mapped,
    flow: Flow,
) -> Result<Flow, GatewayError> {
    ctx.id();
    ctx.record.integration_started = Some(quanta::Instant::now());
    // The connection's write buffer carries the backend request.
    let mut out = std::mem::take(&mut conn.wbuf);
    let written = {
        // One set of `$context` values for the template and the parameter mappings.
        let fields = crate::request_vars::so_far(table, Peer::of(conn), head, ctx, 0).ok_or(NO_FIELDS);
        fields.and_then(|fields| {
            let prepared = request::prepare(table, &fields, head, ctx, mapped)?;
            let call = backend::write(table, &fields, (head, ctx), mapped, &prepared, &mut out)?;
            Ok((prepared, call))
        })
    };
    let answered = match written {
        Ok((prepared, call)) => backend::exchange(outbound, table, mapped, call, &prepared, &mut out).await,
        Err(e) => Err(e),
    };
    conn.wbuf = out;
    let answer = answered?;
    ctx.record.integration_answered(answer.status);
    let mapped_response = response::map(table, Peer::of(conn), (head, ctx), mapped, &answer)?;
    let mut response =
        Response::new(mapped_response.status, Headers::Encoded(b""), Body::Static(&mapped_response.body));
    for (name, value) in &mapped_response.headers {
        response.extra.header(name.as_bytes(), value.as_bytes());
    }
    Ok(write::send(conn, ctx, &response, flow).await)
}
