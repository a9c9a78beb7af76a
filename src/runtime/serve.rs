//! Serving one accepted connection: the TLS handshake on TLS listeners, then read a head, hand it
//! to the pipeline, repeat while keep-alive holds. Pipelined requests are served in order from
//! what is already buffered.
//!
//! Timeouts: handshake; idle (waiting for the first byte of a request); header (from the first
//! byte to the end of the head, so a slow client is cut off). Body and write timeouts are the
//! connection's ([`crate::conn`]). Cost per request: one relaxed load to see whether the table
//! changed; no allocation.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use crate::conn::ClientConn;
use crate::http::Error;
use crate::http::head::{self, HeadLimits, RequestHead};
use crate::pipeline;
use crate::response::Flow;
use crate::table::Limits;
use crate::tls::session::TlsIo;
use crate::tls::stream::ClientStream;
use crate::worker::Worker;

/// Serves one accepted connection until it closes.
pub async fn serve(worker: Rc<Worker>, listener: u32, tcp: TcpStream, peer: SocketAddr) {
    let local_port = tcp.local_addr().map_or(0, |a| a.port());
    let fd = tcp.as_raw_fd();
    let slot = worker.conns.register(fd);
    worker.metrics.worker.connections_open.set(worker.conns.len() as u64);
    let guard = SlotGuard { worker: worker.clone(), slot };
    let Some(stream) = handshake(&worker, listener, tcp, peer).await else { return };
    let (read_chunk, body_timeout_ms) = {
        let table = worker.refresh();
        (table.table.settings.workers.read_buffer_bytes, table.table.settings.limits.body_timeout_ms)
    };
    let mut conn = ClientConn::new(stream, peer, listener, read_chunk, body_timeout_ms);
    conn.local_port = local_port;
    conn.slot = slot;
    loop {
        let table = worker.refresh();
        let head = match read_head(&worker, &mut conn, &table.table.settings.limits).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(error) => {
                // Boxed, as the close below: rare paths whose state every connection task
                // would otherwise carry.
                Box::pin(pipeline::malformed(&worker, &table, &mut conn, error.into())).await;
                Box::pin(conn.linger_close()).await;
                return;
            }
        };
        // Fetched again: a reload may have landed while this connection sat idle.
        let table = worker.refresh();
        let limits = &table.table.settings.limits;
        conn.begin(&head, limits.body_timeout_ms, limits.body_deadline_ms);
        let flow = match pipeline::handle(&worker, &table, &mut conn, head).await {
            pipeline::Handled::Flow(flow) => flow,
            pipeline::Handled::WebSocket(upgraded) => {
                // The session, in a task of its own: this one is sized for any request, and the
                // session holds its connection for hours.
                let task = websocket_session(guard, std::sync::Arc::clone(&table), conn, upgraded);
                monoio::spawn(crate::unwind::or_else(task, move || {
                    log::error!("BUG: the WebSocket connection from {peer} panicked; it was closed");
                }));
                return;
            }
        };
        conn.shrink_idle_buffers();
        match flow {
            Flow::KeepAlive if !worker.draining.get() => {}
            Flow::KeepAlive => return,
            Flow::Close => {
                Box::pin(conn.linger_close()).await;
                return;
            }
        }
    }
}

/// Reads the next request head. `Ok(None)`: the connection should close quietly (end of stream,
/// idle or header timeout, drain).
async fn read_head(worker: &Worker, conn: &mut ClientConn, limits: &Limits) -> Result<Option<RequestHead>, Error> {
    let head_limits = HeadLimits {
        max_header_bytes: limits.max_header_bytes,
        max_header_count: limits.max_header_count,
        max_uri_bytes: limits.max_uri_bytes,
    };
    let mut deadline: Option<Instant> = None;
    loop {
        if !conn.rbuf.is_empty()
            && let Some(index) = head::parse(&conn.rbuf, &head_limits)?
        {
            let bytes = conn.rbuf.split_to(index.len).freeze();
            return Ok(Some(index.into_head(bytes)));
        }
        let idle = conn.rbuf.is_empty();
        let timeout = if idle {
            if worker.draining.get() {
                return Ok(None);
            }
            Duration::from_millis(limits.idle_timeout_ms)
        } else {
            let d = *deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(limits.header_timeout_ms));
            d.saturating_duration_since(Instant::now())
        };
        worker.conns.set_idle(conn.slot, idle);
        let read = conn.fill(timeout).await;
        worker.conns.set_idle(conn.slot, false);
        match read {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// Wraps a TLS listener's connection in TLS (bounded by the handshake timeout); plain ones pass.
async fn handshake(worker: &Worker, listener: u32, tcp: TcpStream, peer: SocketAddr) -> Option<ClientStream> {
    let table = worker.refresh();
    if !table.table.listeners.get(listener as usize).is_some_and(|l| l.tls) {
        return Some(ClientStream::Plain(tcp));
    }
    let (config, timeout_ms) = (table.tls.clone()?, table.table.tls.as_ref()?.handshake_timeout_ms);
    drop(table);
    // Boxed: a TLS handshake's state is large, and a plain connection's task must not carry it.
    let accept = Box::pin(TlsIo::accept(tcp, &config));
    match monoio::time::timeout(Duration::from_millis(timeout_ms), accept).await {
        Ok(Ok((tls, identity))) => {
            worker.metrics.worker.tls_handshakes.inc();
            Some(ClientStream::Tls(Box::new(tls), identity))
        }
        Ok(Err(e)) => {
            worker.metrics.worker.tls_handshake_failures.inc();
            log::debug!("TLS handshake with {peer} failed: {e}");
            None
        }
        Err(_) => {
            worker.metrics.worker.tls_handshake_failures.inc();
            log::debug!("TLS handshake with {peer} timed out");
            None
        }
    }
}

/// An open WebSocket connection's task: its session, then its `$disconnect`; the connection's
/// slot is given back at the end.
async fn websocket_session(
    guard: SlotGuard,
    table: std::sync::Arc<crate::loaded::LoadedTable>,
    mut conn: ClientConn,
    upgraded: Box<crate::websocket::Upgraded>,
) {
    crate::websocket::live(&guard.worker, &table, &mut conn, &upgraded).await;
    conn.linger_close().await;
}

/// A connection's place in its worker's registry, given back when the connection ends (whichever
/// task holds it then).
struct SlotGuard {
    worker: Rc<Worker>,
    slot: usize,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.worker.conns.unregister(self.slot);
        self.worker.metrics.worker.connections_open.set(self.worker.conns.len() as u64);
        self.worker.slot_freed.notify();
    }
}
