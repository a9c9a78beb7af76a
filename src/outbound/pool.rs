//! The per-worker upstream connection pool: idle keep-alive connections by upstream address.
//!
//! Worker-local (no lock, no atomics). LIFO, so the most recently used — least likely to have been
//! closed by the upstream — goes out first, and because idle times are ordered, finding one expired
//! connection at the top means all below it are too. Bounded per upstream by the config.
//!
//! A connection is only checked in after a response whose framing was unambiguous and which ended
//! exactly where its framing said (the relay's job), and only checked out when nothing arrived on
//! it meanwhile: bytes an upstream sends after a complete response (a second response after a 204,
//! a body after a HEAD response) would otherwise become the next request's response, maybe another
//! client's. Cost: one non-blocking `recv(MSG_PEEK)` per reuse.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::tls::stream::UpstreamStream;
use ahash::AHashMap;
use bytes::BytesMut;

/// An upstream connection and its read buffer, which travel together.
pub struct UpstreamConn {
    pub stream: UpstreamStream,
    pub rbuf: BytesMut,
    /// How much the read buffer grows by when it runs out of room (`upstream_buffer_bytes`).
    pub chunk: usize,
}

/// An upstream's address, and whether its connections are TLS.
pub type PoolKey = (SocketAddr, bool);

#[derive(Default)]
pub struct Pool {
    /// Idle connections with the time each went idle, most recent last.
    idle: RefCell<AHashMap<PoolKey, Vec<(UpstreamConn, Instant)>>>,
}

impl Pool {
    /// Takes the most recently used idle connection that is still clean: connections the upstream
    /// closed, reset or sent anything on while they sat here are dropped.
    pub fn checkout(&self, addr: PoolKey, idle_timeout: Duration) -> Option<UpstreamConn> {
        let mut idle = self.idle.borrow_mut();
        let stack = idle.get_mut(&addr)?;
        while let Some((mut conn, since)) = stack.pop() {
            if since.elapsed() >= idle_timeout {
                stack.clear();
                return None;
            }
            if is_clean(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    pub fn checkin(&self, addr: PoolKey, conn: UpstreamConn, max_idle: usize) {
        let mut idle = self.idle.borrow_mut();
        let stack = idle.entry(addr).or_default();
        if stack.len() < max_idle {
            stack.push((conn, Instant::now()));
        }
    }

    pub fn idle_count(&self) -> usize {
        self.idle.borrow().values().map(Vec::len).sum()
    }
}

/// An idle connection is clean if nothing is buffered and reading would block: EOF, a reset, or
/// unexpected bytes mean the upstream closed it (or broke framing) while it sat in the pool.
fn is_clean(conn: &mut UpstreamConn) -> bool {
    if !conn.rbuf.is_empty() || conn.stream.has_buffered() {
        return false;
    }
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: the fd is open (owned by `conn.stream`); we read at most one byte into `byte`.
    let n = unsafe {
        libc::recv(conn.stream.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
    };
    n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
}
