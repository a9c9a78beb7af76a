//! One open WebSocket connection: frames are read and decoded ([`crate::ws::message`]), pings
//! answered, messages routed and sent to their integration one at a time (in order; the next
//! is read when the last has been answered), and the connection kept alive and bounded: a ping
//! after `ping_interval_ms` of silence, a close (1001) after `idle_timeout_ms` without anything
//! from the client, or at the optional maximum lifetime, or when the gateway drains.
//!
//! Waiting for the client's next bytes is one read that a timer or the drain can cancel without
//! losing what it read ([`crate::http::read_more_cancelable`]). Must not: call `$disconnect`
//! (the caller does, once, for every way this ends). Cost: a ping per quiet interval; per message
//! one route selection and one integration call; frames are written from the connection's
//! reused write buffer.

use std::time::Duration;

use monoio::time::Instant;

use super::observe::{self, Outcome};
use super::{Scope, backend};
use crate::conn::ClientConn;
use crate::connections::{Command, Info, Mailbox};
use crate::function::websocket::{EventIds, Kind};
use crate::table::websocket::WebSocket;
use crate::worker::Worker;
use crate::ws::close::{self, GOING_AWAY};
use crate::ws::frame::{self, Opcode};
use crate::ws::message::{Decoder, Incoming, Limits};

/// How a session ended (for `$disconnect`: the status code and reason AWS reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The client's close frame, with its code (1005 when it had none); answered in kind.
    ClientClose(u16),
    /// The connection ended without a close frame (1006).
    Dropped,
    /// The client broke the protocol; the code sent.
    Violation(u16, &'static str),
    Idle,
    Lifetime,
    Drain,
    /// `DELETE @connections/{id}`.
    Deleted,
    /// A bug: the session panicked (closed with 1011).
    Panicked,
}

impl End {
    /// `disconnectStatusCode` and `disconnectReason`, as AWS words them.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            End::ClientClose(close::NO_STATUS) => (close::NO_STATUS, "Client-side close frame status not set"),
            End::ClientClose(code) => (*code, ""),
            End::Dropped => (close::ABNORMAL, "Connection closed abnormally"),
            End::Violation(code, reason) => (*code, reason),
            End::Idle => (GOING_AWAY, "Going away (idle timeout)"),
            End::Lifetime => (GOING_AWAY, "Going away (maximum connection duration)"),
            End::Drain => (GOING_AWAY, "Going away (gateway shutting down)"),
            End::Deleted => (close::NORMAL, "Connection deleted"),
            End::Panicked => (close::INTERNAL, "Internal server error"),
        }
    }
}

/// What a wait for the client's bytes ended with.
enum Woke {
    Read(std::io::Result<usize>),
    Timer,
}

/// Takes the connection out of the worker's registry when the session ends, however it ends.
struct Registered<'a> {
    worker: &'a Worker,
    id: &'a str,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.worker.websockets.close(self.id);
    }
}

/// Runs the session until it ends.
pub async fn run(worker: &Worker, s: &Scope<'_>, conn: &mut ClientConn, ws: &WebSocket) -> End {
    let c = s.c;
    let l = ws.limits;
    let limits = Limits { max_frame_bytes: l.max_frame_bytes, max_message_bytes: l.max_message_bytes };
    let mut decoder = Decoder::default();
    let opened = Instant::now();
    let lifetime_at = l.max_lifetime_ms.map(|ms| opened + Duration::from_millis(ms));
    let mut last_seen = opened;
    let mut pinged = false;
    let info = Info {
        connected_at_ms: c.connected_at_ms,
        last_active_ms: c.connected_at_ms,
        source_ip: c.source_ip,
        user_agent: c.user_agent.clone(),
    };
    let mailbox = worker.websockets.open(&c.id, info);
    let _registered = Registered { worker, id: &c.id };
    loop {
        // Made before the mailbox is read: a command queued while this task writes is not missed.
        let mail = mailbox.wake.wait();
        if let Some(end) = deliver(worker, conn, &mailbox).await {
            return end;
        }
        loop {
            match decoder.next(&mut conn.rbuf, &limits) {
                Ok(Some(incoming)) => {
                    // Boxed: a message's state (its call, its reply) is not what a connection
                    // waiting for its client should hold.
                    if let Some(end) = Box::pin(on_incoming(worker, s, conn, ws, incoming)).await {
                        return end;
                    }
                }
                Ok(None) => break,
                Err(v) => {
                    send_close(conn, v.code, v.reason).await;
                    return End::Violation(v.code, v.reason);
                }
            }
        }
        let now = Instant::now();
        let idle_at = last_seen + Duration::from_millis(l.idle_timeout_ms);
        let ping_at = last_seen + Duration::from_millis(l.ping_interval_ms);
        let end = if worker.draining.get() {
            Some(End::Drain)
        } else if now >= idle_at {
            Some(End::Idle)
        } else if lifetime_at.is_some_and(|at| now >= at) {
            Some(End::Lifetime)
        } else {
            None
        };
        if let Some(end) = end {
            send_close(conn, GOING_AWAY, "Going away").await;
            return end;
        }
        if !pinged && now >= ping_at {
            pinged = true;
            frame::write(&mut conn.wbuf, Opcode::Ping, b"");
            if conn.flush().await.is_err() {
                return End::Dropped;
            }
            continue;
        }
        let mut wake_at = if pinged { idle_at } else { ping_at };
        if let Some(at) = lifetime_at {
            wake_at = wake_at.min(at);
        }
        let chunk = idle_buffers(conn);
        let canceller = monoio::io::Canceller::new();
        let mut read = std::pin::pin!(conn.stream.read_cancelable(&mut conn.rbuf, chunk, canceller.handle()));
        let woke = monoio::select! {
            r = &mut read => Woke::Read(r),
            _ = monoio::time::sleep_until(wake_at) => Woke::Timer,
            _ = worker.drain.wait() => Woke::Timer,
            _ = mail => Woke::Timer,
        };
        let read = match woke {
            Woke::Read(r) => r,
            // Cancelled, the read ends with what it had (or nothing): no byte is lost.
            Woke::Timer => {
                let _ = canceller.cancel();
                read.await
            }
        };
        match read {
            Ok(0) => return End::Dropped,
            Ok(n) => {
                conn.bytes_read += n as u64;
                last_seen = Instant::now();
                pinged = false;
                mailbox.info.borrow_mut().last_active_ms = crate::function::websocket::now_ms();
            }
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {}
            Err(_) => return End::Dropped,
        }
    }
}

/// What a connection waiting for its client's next frame keeps: with nothing half-read, a small
/// read buffer (a quiet connection holds [`IDLE_READ_BYTES`], not a full chunk) and no write or
/// scratch buffer grown by a large message. Returns the size of the next read.
fn idle_buffers(conn: &mut ClientConn) -> usize {
    if !conn.rbuf.is_empty() {
        return conn.read_chunk;
    }
    if conn.rbuf.capacity() > 2 * IDLE_READ_BYTES {
        conn.rbuf = bytes::BytesMut::new();
    }
    if conn.wbuf.capacity() > 4 * IDLE_READ_BYTES {
        conn.wbuf = Vec::new();
    }
    if conn.scratch.capacity() > 4 * IDLE_READ_BYTES {
        conn.scratch = Vec::new();
    }
    IDLE_READ_BYTES
}

/// The read buffer of a connection with nothing half-read.
const IDLE_READ_BYTES: usize = 256;

/// Handles one message or control frame; `Some` when the session ends.
async fn on_incoming(
    worker: &Worker,
    s: &Scope<'_>,
    conn: &mut ClientConn,
    ws: &WebSocket,
    incoming: Incoming,
) -> Option<End> {
    let connection_id = s.c.id.as_str();
    let (text, body) = match incoming {
        Incoming::Ping(payload) => {
            frame::write(&mut conn.wbuf, Opcode::Pong, &payload);
            return conn.flush().await.is_err().then_some(End::Dropped);
        }
        Incoming::Pong(_) => return None,
        Incoming::Close(status) => {
            // Answered with the client's own code, as the RFC suggests (§5.5.1).
            let code = status.as_ref().map_or(close::NO_STATUS, |(code, _)| *code);
            let payload = status.map(|(code, _)| code.to_be_bytes());
            frame::write(&mut conn.wbuf, Opcode::Close, payload.as_ref().map_or(&[][..], |p| &p[..]));
            let _ = conn.flush().await;
            return Some(End::ClientClose(code));
        }
        Incoming::Text(b) => (true, b),
        Incoming::Binary(b) => (false, b),
    };
    let metrics = &worker.metrics.worker;
    metrics.websocket_messages_in.inc();
    let started = quanta::Instant::now();
    let ids = EventIds::new(true);
    let mut outcome = Outcome {
        event_type: crate::function::websocket::MESSAGE,
        route: None,
        ids: &ids,
        status: 200,
        started,
        integration_us: None,
        integration_status: None,
        error: None,
    };
    let routes = s.ctx.api_stage.map_or(&[][..], |(api, _)| &s.table.table.apis[api as usize].routes[..]);
    let Some(route) = super::select::route(ws, routes, &body) else {
        outcome.status = 403;
        let end = error_message(worker, conn, "Forbidden", connection_id, &ids).await;
        observe::event(worker, s, conn, &outcome);
        return end;
    };
    outcome.route = Some(route);
    let target = match super::integration(s.table, s.ctx, route) {
        Ok(target) => target,
        Err(e) => {
            outcome.status = 500;
            let end = error_message(worker, conn, "Internal server error", connection_id, &ids).await;
            outcome.error = Some(&e);
            observe::event(worker, s, conn, &outcome);
            return end;
        }
    };
    let mut out = std::mem::take(&mut conn.scratch);
    let kind = Kind::Message { text, body: &body };
    let answered = Box::pin(backend::call(worker.outbound(), s, (target, route), kind, &ids, &mut out)).await;
    out.clear();
    conn.scratch = out;
    outcome.integration_us = Some(started.elapsed().as_micros() as u64);
    let (end, failed) = match answered {
        Ok(answer) => {
            outcome.integration_status = Some(answer.status);
            if answer.status >= 400 {
                outcome.status = answer.status;
            }
            let end = match answer {
                backend::Answer { body: Some(reply), binary, .. }
                    if ws.two_way.get(route as usize).copied().unwrap_or(false) =>
                {
                    // Binary as the function said; else a text message is answered in text when
                    // the answer is UTF-8.
                    let binary = binary.unwrap_or(!text) || std::str::from_utf8(&reply).is_err();
                    frame::write(&mut conn.wbuf, if binary { Opcode::Binary } else { Opcode::Text }, &reply);
                    metrics.websocket_messages_out.inc();
                    conn.flush().await.is_err().then_some(End::Dropped)
                }
                _ => None,
            };
            (end, None)
        }
        Err(e) => {
            log::warn!("WebSocket {connection_id}: route `{}` integration failed: {e}", routes[route as usize].key);
            outcome.status = crate::response::gateway::lookup(s.ctx.protocol, e.kind).status;
            (error_message(worker, conn, "Internal server error", connection_id, &ids).await, Some(e))
        }
    };
    outcome.error = failed.as_ref();
    observe::event(worker, s, conn, &outcome);
    end
}

/// Carries out what the `@connections` API queued: data sent (text when it is UTF-8), or the
/// connection closed; `Some` when the session ends.
async fn deliver(worker: &Worker, conn: &mut ClientConn, mailbox: &Mailbox) -> Option<End> {
    loop {
        let command = mailbox.queue.borrow_mut().pop_front()?;
        match command {
            Command::Post(data) => {
                worker.metrics.worker.websocket_pushes.inc();
                worker.metrics.worker.websocket_messages_out.inc();
                let opcode = if std::str::from_utf8(&data).is_ok() { Opcode::Text } else { Opcode::Binary };
                frame::write(&mut conn.wbuf, opcode, &data);
                if conn.flush().await.is_err() {
                    return Some(End::Dropped);
                }
            }
            Command::Delete => {
                send_close(conn, close::NORMAL, "").await;
                return Some(End::Deleted);
            }
            Command::Get => {}
        }
    }
}

/// AWS's error message to the client, as a text frame, with the event's request id.
async fn error_message(
    worker: &Worker,
    conn: &mut ClientConn,
    message: &str,
    connection_id: &str,
    ids: &EventIds,
) -> Option<End> {
    worker.metrics.worker.websocket_messages_out.inc();
    let text = serde_json::json!({"message": message, "connectionId": connection_id, "requestId": ids.request_id});
    frame::write(&mut conn.wbuf, Opcode::Text, text.to_string().as_bytes());
    conn.flush().await.is_err().then_some(End::Dropped)
}

/// Sends a close frame and stops writing (the client's close, if it comes, is not awaited:
/// the connection task closes the socket next).
pub(super) async fn send_close(conn: &mut ClientConn, code: u16, reason: &str) {
    let mut payload = Vec::with_capacity(2 + reason.len());
    close::payload(&mut payload, code, reason);
    frame::write(&mut conn.wbuf, Opcode::Close, &payload);
    let _ = conn.flush().await;
}
