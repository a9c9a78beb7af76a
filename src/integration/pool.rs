//! The per-worker upstream connection pool: idle keep-alive connections by upstream address.
//!
//! Worker-local (no lock, no atomics). LIFO, so the most recently used — least likely to have been
//! closed by the upstream — goes out first, and because idle times are ordered, finding one expired
//! connection at the top means all below it are too. Bounded per upstream by the config.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::BytesMut;
use monoio::net::TcpStream;

/// An upstream connection and its read buffer, which travel together.
pub struct UpstreamConn {
    pub stream: TcpStream,
    pub rbuf: BytesMut,
}

#[derive(Default)]
pub struct Pool {
    idle: RefCell<AHashMap<SocketAddr, Vec<(UpstreamConn, Instant)>>>,
}

impl Pool {
    pub fn checkout(&self, addr: SocketAddr, idle_timeout: Duration) -> Option<UpstreamConn> {
        let mut idle = self.idle.borrow_mut();
        let stack = idle.get_mut(&addr)?;
        let (conn, since) = stack.pop()?;
        if since.elapsed() >= idle_timeout {
            stack.clear();
            return None;
        }
        Some(conn)
    }

    pub fn checkin(&self, addr: SocketAddr, conn: UpstreamConn, max_idle: usize) {
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
