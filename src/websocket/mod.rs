//! WebSocket APIs (AWS's `protocol = WEBSOCKET`): a stage's root accepts upgrades; `$connect`
//! decides, during the upgrade, whether the connection opens; each message goes to the route
//! the selection expression names (or `$default`), whose answer goes back to the client when the
//! route has a route response; `$disconnect` runs once the connection has ended, whatever ended
//! it.
//!
//! The pipeline checks an upgrade here ([`open`]), admits `$connect` as any route, and has
//! `$connect` asked and the `101` sent ([`accept`]); the runtime then runs the session in a task
//! of its own ([`live`]). The session itself is [`session`], route selection [`select`], the backend call [`backend`], connection
//! ids [`id`]. The codec is [`crate::ws`].
//!
//! Must not: parse frames (the codec does) or outlive its connection task. Cost: per message,
//! one route selection (a JSON parse when the expression reads the body) and one backend call.

pub mod backend;
pub mod id;
pub mod manage;
pub mod observe;
pub mod select;
pub mod session;

use crate::conn::ClientConn;
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::function::websocket::{self as event, Connection, EventIds, Kind};
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::response::{Body, Flow, Headers, Response, write};
use crate::table::Integration;
use crate::table::websocket::WebSocket;
use crate::worker::Worker;
use crate::ws::handshake::{self, Refusal};
use observe::Outcome;

/// What every event of a connection reads: the table, the upgrade request and its context, the
/// connection.
pub struct Scope<'a> {
    pub table: &'a LoadedTable,
    pub head: &'a RequestHead,
    pub ctx: &'a Context,
    pub c: &'a Connection,
}

const NOT_UPGRADE: GatewayError =
    GatewayError::new(ResponseType::BadRequest, "a WebSocket API's stage takes WebSocket upgrades (version 13) only");
const BAD_UPGRADE: GatewayError = GatewayError::new(ResponseType::BadRequest, "malformed WebSocket upgrade");
const NOT_ROOT: GatewayError =
    GatewayError::new(ResponseType::MissingAuthenticationToken, "WebSocket APIs are served at the stage's root");
const NO_INTEGRATION: GatewayError =
    GatewayError::new(ResponseType::Internal, "a WebSocket route without an HTTP proxy, function or mock integration");

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
        Some(Integration::Mock(m)) => Ok(backend::Target::Mock(m)),
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

/// A connection about to open: the upgrade checked, the connection named.
pub struct Opening<'h> {
    upgrade: handshake::Upgrade<'h>,
    pub connection: Connection,
}

/// Checks an upgrade on a WebSocket API's stage (at its root) and names the connection it would
/// open; the pipeline then runs `$connect`'s authorization before [`accept`].
pub fn open<'h>(
    worker: &Worker,
    table: &LoadedTable,
    conn: &ClientConn,
    head: &'h RequestHead,
    ctx: &Context,
) -> Result<Opening<'h>, GatewayError> {
    let upgrade = handshake::check(head).map_err(|refusal| match refusal {
        Refusal::NotUpgrade | Refusal::Version => NOT_UPGRADE,
        Refusal::Malformed(_) => BAD_UPGRADE,
    })?;
    if !matches!(ctx.routed_path(head), b"" | b"/") {
        return Err(NOT_ROOT);
    }
    let id = id::new(worker.control().websocket_hub.node, worker.index);
    Ok(Opening { upgrade, connection: connection(table, conn, head, ctx, id) })
}

/// What [`accept`] came to.
pub enum Accepted {
    /// `$connect` refused: the client got its answer, and no connection.
    Refused(Flow),
    /// The `101` was sent: the connection is open, for [`live`].
    Open(Connection),
}

/// An open connection, moved out of the request that opened it: its upgrade request and context
/// (what its events read), and the connection.
pub struct Upgraded {
    pub head: RequestHead,
    pub ctx: Context,
    pub connection: Connection,
}

/// Answers an upgrade that [`open`] checked (and `$connect`'s authorization admitted): `$connect`
/// asked, then the `101` sent. The session itself is [`live`], which the runtime runs as a task
/// of its own: a connection task is sized for the largest request it may serve, and a WebSocket
/// connection, held for hours, should hold only what a session needs.
pub async fn accept(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    ws: &WebSocket,
    opening: Opening<'_>,
) -> Result<Accepted, GatewayError> {
    let Opening { upgrade, connection: c } = opening;
    let connect_ids = EventIds::new(false);
    let mut protocol = None;
    if let Some(route) = ws.connect {
        ctx.route = Some(route);
        let target = integration(table, ctx, route)?;
        ctx.record.integration_started = Some(quanta::Instant::now());
        let mut out = std::mem::take(&mut conn.wbuf);
        let s = Scope { table, head, ctx, c: &c };
        let kind = Kind::Connect(head);
        // Boxed (as the other events' calls): the session's future, which every open connection
        // holds, must not carry an HTTP exchange's state while it waits for the client.
        let call = backend::call(worker.outbound(), &s, (target, route), kind, &connect_ids, &mut out);
        let answered = Box::pin(call).await;
        out.clear();
        conn.wbuf = out;
        let answer = answered?;
        ctx.record.integration_answered(answer.status);
        if !(200..300).contains(&answer.status) {
            // As AWS: the client gets the integration's status, and no connection.
            let body = answer.body.unwrap_or_default();
            let mut response = Response::new(answer.status, Headers::Encoded(b""), Body::Static(&body));
            response.extra.header(b"Content-Type", b"application/json");
            let flow = write::send(conn, ctx, &response, Flow::Close).await;
            observe_connect(worker, (table, head, ctx, &c), conn, &connect_ids);
            return Ok(Accepted::Refused(flow));
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
        return Ok(Accepted::Refused(Flow::Close));
    }
    observe_connect(worker, (table, head, ctx, &c), conn, &connect_ids);
    Ok(Accepted::Open(c))
}

/// Runs an open connection's session to its end, then its `$disconnect`.
pub async fn live(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, upgraded: &Upgraded) {
    let Upgraded { head, ctx, connection: c } = upgraded;
    let (api, _) = ctx.api_stage.unwrap_or_default();
    let Some(ws) = table.table.apis[api as usize].websocket.as_deref() else { return };
    let s = Scope { table, head, ctx, c };
    let metrics = &worker.metrics.worker;
    metrics.websocket_connections.inc();
    metrics.websocket_open.add(1);
    // A panicking session (a bug) still closes the connection and gets its `$disconnect`.
    let ended = crate::unwind::caught(session::run(worker, &s, conn, ws)).await;
    metrics.websocket_open.sub(1);
    let end = match ended {
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
        let Ok(target) = integration(table, ctx, route) else { return };
        let mut out = std::mem::take(&mut conn.wbuf);
        let (status, reason) = end.status();
        let kind = Kind::Disconnect { status, reason };
        let ids = EventIds::new(false);
        let started = quanta::Instant::now();
        let answered = Box::pin(backend::call(worker.outbound(), &s, (target, route), kind, &ids, &mut out)).await;
        out.clear();
        conn.wbuf = out;
        let integration_us = Some(started.elapsed().as_micros() as u64);
        let (status, error) = match &answered {
            Ok(a) => (a.status, None),
            Err(e) => {
                log::warn!("WebSocket {}: $disconnect integration failed: {e}", c.id);
                (500, Some(e))
            }
        };
        let integration_status = answered.as_ref().ok().map(|a| a.status);
        let outcome = Outcome {
            event_type: event::DISCONNECT,
            route: Some(route),
            ids: &ids,
            status,
            started,
            integration_us,
            integration_status,
            error,
        };
        observe::event(worker, &s, conn, &outcome);
    }
}

/// The `$connect` event's line and counts (the upgrade answered: 101, or the integration's
/// refusal); the upgrade request is not counted again when the connection ends.
fn observe_connect(
    worker: &Worker,
    (table, head, ctx, c): (&LoadedTable, &RequestHead, &mut Context, &Connection),
    conn: &mut ClientConn,
    ids: &EventIds,
) {
    ctx.record.observed = true;
    let s = Scope { table, head, ctx, c };
    let outcome = Outcome {
        event_type: event::CONNECT,
        route: ctx.route,
        ids,
        status: ctx.record.status,
        started: ctx.started,
        integration_us: ctx.record.integration_us,
        integration_status: ctx.record.integration_status,
        error: None,
    };
    observe::event(worker, &s, conn, &outcome);
}
