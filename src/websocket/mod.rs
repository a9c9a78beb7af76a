//! WebSocket APIs (AWS's `protocol = WEBSOCKET`): a stage's root accepts upgrades; `$connect`
//! decides, during the upgrade, whether the connection opens; each message goes to the route
//! the selection expression names (or `$default`), whose answer goes back to the client when the
//! route has a route response; `$disconnect` runs once the connection has ended, whatever ended
//! it.
//!
//! The pipeline hands an upgrade request here after its stage step ([`serve`]); the session
//! itself is [`session`], route selection [`select`], the backend call [`backend`], connection
//! ids [`id`]. The codec is [`crate::ws`].
//!
//! Must not: parse frames (the codec does) or outlive its connection task. Cost: per message,
//! one route selection (a JSON parse when the expression reads the body) and one backend call.

pub mod backend;
pub mod event;
pub mod id;
pub mod manage;
pub mod select;
pub mod session;

use crate::conn::ClientConn;
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::response::{Body, Flow, Headers, Response, write};
use crate::table::Integration;
use crate::table::websocket::WebSocket;
use crate::worker::Worker;
use crate::ws::handshake::{self, Refusal};
use event::{Connection, Kind};

const NOT_UPGRADE: GatewayError =
    GatewayError::new(ResponseType::BadRequest, "a WebSocket API's stage takes WebSocket upgrades (version 13) only");
const BAD_UPGRADE: GatewayError = GatewayError::new(ResponseType::BadRequest, "malformed WebSocket upgrade");
const NOT_ROOT: GatewayError =
    GatewayError::new(ResponseType::MissingAuthenticationToken, "WebSocket APIs are served at the stage's root");
const NO_INTEGRATION: GatewayError =
    GatewayError::new(ResponseType::Internal, "a WebSocket route without an HTTP proxy or function integration");

/// The route's integration in the request's stage.
pub(crate) fn integration<'t>(
    table: &'t LoadedTable,
    ctx: &Context,
    route: u32,
) -> Result<backend::Target<'t>, GatewayError> {
    let (api, stage) = ctx.api_stage.ok_or(NO_INTEGRATION)?;
    match &table.table.apis[api as usize].stages[stage as usize].integrations.get(route as usize) {
        Some(Integration::HttpProxy(p)) => Ok(backend::Target::Http(p)),
        Some(Integration::Function(f)) => Ok(backend::Target::Function(f)),
        _ => Err(NO_INTEGRATION),
    }
}

/// What every event of the connection carries.
fn connection(table: &LoadedTable, conn: &ClientConn, head: &RequestHead, ctx: &Context, id: String) -> Connection {
    let (api, stage) = ctx.api_stage.unwrap_or_default();
    let api = &table.table.apis[api as usize];
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Connection {
        id,
        connected_at_ms: event::now_ms(),
        source_ip: conn.peer.ip(),
        user_agent: head.first(b"user-agent").map(text),
        domain_name: head.host_name().map(text).unwrap_or_default(),
        stage: api.stages[stage as usize].name.clone(),
        api_id: api.name.clone(),
    }
}

/// Serves a request on a WebSocket API's stage: an upgrade is checked, `$connect` asked, the
/// `101` sent and the session run to its end, then `$disconnect`; anything else is refused.
pub async fn serve(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    ws: &WebSocket,
) -> Result<Flow, GatewayError> {
    if let Some(id) = manage::connection_path(ctx.routed_path(head)) {
        return manage::handle(worker, table, conn, (head, ctx), &id).await;
    }
    let upgrade = handshake::check(head).map_err(|refusal| match refusal {
        Refusal::NotUpgrade | Refusal::Version => NOT_UPGRADE,
        Refusal::Malformed(_) => BAD_UPGRADE,
    })?;
    if !matches!(ctx.routed_path(head), b"" | b"/") {
        return Err(NOT_ROOT);
    }
    let c = connection(table, conn, head, ctx, id::new(worker.control().websocket_hub.node, worker.index));
    ctx.id();
    let mut protocol = None;
    if let Some(route) = ws.connect {
        ctx.route = Some(route);
        let target = integration(table, ctx, route)?;
        ctx.record.integration_started = Some(quanta::Instant::now());
        let mut out = std::mem::take(&mut conn.wbuf);
        let on = (&c, "$connect");
        let answered = backend::call(worker.outbound(), table, target, on, Kind::Connect(head), &mut out).await;
        out.clear();
        conn.wbuf = out;
        let answer = answered?;
        ctx.record.integration_answered(answer.status);
        if !(200..300).contains(&answer.status) {
            // As AWS: the client gets the integration's status, and no connection.
            let body = answer.body.unwrap_or_default();
            let mut response = Response::new(answer.status, Headers::Encoded(b""), Body::Static(&body));
            response.extra.header(b"Content-Type", b"application/json");
            return Ok(write::send(conn, ctx, &response, Flow::Close).await);
        }
        protocol = answer.protocol.filter(|p| handshake::offered(&upgrade, p));
    }
    conn.wbuf.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    crate::http::encode::header(&mut conn.wbuf, b"Sec-WebSocket-Accept", handshake::accept_key(upgrade.key).as_bytes());
    if let Some(p) = &protocol {
        crate::http::encode::header(&mut conn.wbuf, b"Sec-WebSocket-Protocol", p);
    }
    conn.wbuf.extend_from_slice(b"\r\n");
    ctx.record.status = 101;
    if conn.flush().await.is_err() {
        // The client left before its connection opened: it never saw one, as with AWS.
        return Ok(Flow::Close);
    }
    // A panicking session (a bug) still closes the connection and gets its `$disconnect`.
    let end = match crate::unwind::caught(session::run(worker, table, conn, ctx, ws, &c)).await {
        Ok(end) => end,
        Err(()) => {
            log::error!("BUG: WebSocket session {} panicked; closing it (1011)", c.id);
            conn.wbuf.clear();
            session::send_close(conn, crate::ws::close::INTERNAL, "").await;
            session::End::Panicked
        }
    };
    log::debug!("WebSocket {} ended: {end:?}", c.id);
    if let Some(route) = ws.disconnect {
        let target = integration(table, ctx, route)?;
        let mut out = std::mem::take(&mut conn.wbuf);
        let (status, reason) = end.status();
        let kind = Kind::Disconnect { status, reason };
        let answered = backend::call(worker.outbound(), table, target, (&c, "$disconnect"), kind, &mut out).await;
        out.clear();
        conn.wbuf = out;
        if let Err(e) = answered {
            log::warn!("WebSocket {}: $disconnect integration failed: {e}", c.id);
        }
    }
    Ok(Flow::Close)
}
