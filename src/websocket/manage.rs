//! The `@connections` API on a WebSocket API's own endpoint, as AWS's
//! ApiGatewayManagementApi serves it: `POST /{stage}/@connections/{id}` sends the body to the
//! connection, `GET` gives its `connectedAt`, `identity` and `lastActiveAt`, `DELETE` closes it.
//! A well-formed id that no connection has (closed, or never was) is 410 `GoneException`; a
//! malformed one, 400 `BadRequestException`. Callers sign with SigV4 (`execute-api`) as an
//! `[[iam_credential]]`; anything else is 403.
//!
//! Must not: write to the connection (its session does, woken through [`crate::connections`]). Cost: one
//! SigV4 verification; a hop to the worker that holds the connection.

use crate::conn::ClientConn;
use crate::context::{Context, RequestBody};
use crate::error::GatewayError;
use crate::http::Method;
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::response::{Body, Flow, Headers, Response, write};
use crate::worker::Worker;

use crate::connections::{Answer, Command};

/// The id in a routed path `/@connections/{id}` (percent-decoded), if it is one.
pub fn connection_path(routed: &[u8]) -> Option<String> {
    // The AWS SDKs encode the `@` (`/%40connections/…`).
    let raw = routed.strip_prefix(b"/@connections/").or_else(|| routed.strip_prefix(b"/%40connections/"))?;
    let decoded = percent_encoding::percent_decode(raw).decode_utf8().ok()?;
    Some(decoded.into_owned())
}

/// Milliseconds since the epoch as ISO 8601 (`2026-12-02T07:46:10.123Z`), as AWS's API writes them.
fn iso8601(ms: u64) -> String {
    let s = ms / 1000;
    let (y, m, d) = crate::request_time::civil(s / 86_400);
    let t = s % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", t / 3600, t / 60 % 60, t % 60, ms % 1000)
}

/// AWS's error answer: the status, `x-amzn-ErrorType`, and `{"message": …}`.
async fn error(conn: &mut ClientConn, ctx: &mut Context, status: u16, kind: &str, message: &str, flow: Flow) -> Flow {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(status, Headers::Encoded(b""), Body::Static(body.as_bytes()));
    response.extra.header(b"Content-Type", b"application/json");
    response.extra.header(b"x-amzn-ErrorType", kind.as_bytes());
    write::send(conn, ctx, &response, flow).await
}

/// Answers a `@connections` request for connection `id`.
pub async fn handle(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    id: &str,
) -> Result<Flow, GatewayError> {
    let flow = if ctx.keep_alive { Flow::KeepAlive } else { Flow::Close };
    let body = match &ctx.body {
        RequestBody::Buffered(b) => b.clone(),
        _ => bytes::Bytes::new(),
    };
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if let Err(refusal) = crate::auth::iam::verify(&table.table.iam_credentials, head, &body, now_s) {
        log::debug!("@connections refused: {}", refusal.reason);
        return Err(refusal.error);
    }
    let Some(owner) = super::id::owner(id).filter(|_| super::id::is_well_formed(id)) else {
        return Ok(error(conn, ctx, 400, "BadRequestException", "Invalid connectionId", flow).await);
    };
    let command = match head.method {
        Method::Post => Command::Post(body),
        Method::Get => Command::Get,
        Method::Delete => Command::Delete,
        _ => return Ok(error(conn, ctx, 405, "MethodNotAllowedException", "Method not allowed", flow).await),
    };
    let hub = &worker.control().websocket_hub;
    let answer = worker.websockets.ask(hub, worker.index, owner, id, command).await;
    Ok(match answer {
        Answer::Gone => {
            worker.metrics.worker.websocket_gone.inc();
            error(conn, ctx, 410, "GoneException", "", flow).await
        }
        Answer::Busy => {
            error(conn, ctx, 429, "LimitExceededException", "Too many requests for this connection's worker", flow)
                .await
        }
        Answer::Done => {
            let status = if head.method == Method::Delete { 204 } else { 200 };
            write::send(conn, ctx, &Response::new(status, Headers::Encoded(b""), Body::Static(b"")), flow).await
        }
        Answer::Info(info) => {
            let mut identity = serde_json::Map::new();
            identity.insert("sourceIp".into(), info.source_ip.to_string().into());
            if let Some(ua) = info.user_agent {
                identity.insert("userAgent".into(), ua.into());
            }
            let body = serde_json::json!({
                "connectedAt": iso8601(info.connected_at_ms),
                "identity": identity,
                "lastActiveAt": iso8601(info.last_active_ms),
            })
            .to_string();
            let mut response = Response::new(200, Headers::Encoded(b""), Body::Static(body.as_bytes()));
            response.extra.header(b"Content-Type", b"application/json");
            write::send(conn, ctx, &response, flow).await
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_and_times() {
        assert_eq!(super::connection_path(b"/@connections/L0SM9cOFvHcCIhw%3D").as_deref(), Some("L0SM9cOFvHcCIhw="));
        assert_eq!(super::connection_path(b"/%40connections/abc").as_deref(), Some("abc"));
        assert_eq!(super::connection_path(b"/other"), None);
        assert_eq!(super::iso8601(1_705_751_697_419), "2024-01-20T11:54:57.419Z");
    }
}
