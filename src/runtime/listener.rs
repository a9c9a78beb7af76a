//! Listening sockets: bound once per worker with `SO_REUSEPORT` (the kernel spreads connections
//! across workers), and the accept loop that respects the per-worker connection cap and draining.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::serve;
use crate::worker::Worker;

/// Binds one listening socket for `addr` with `SO_REUSEPORT`.
pub fn bind(addr: SocketAddr, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

pub async fn accept_loop(worker: Rc<Worker>, index: u32, listener: monoio::net::TcpListener) {
    loop {
        if worker.draining.get() {
            return;
        }
        let cap = worker.refresh().table.settings.workers.max_connections;
        if worker.conns.len() >= cap {
            // At the cap, leave new connections in the kernel's backlog until one closes.
            monoio::select! {
                _ = worker.slot_freed.wait() => continue,
                _ = worker.drain.wait() => return,
            }
        }
        let accepted = monoio::select! {
            accepted = listener.accept() => accepted,
            _ = worker.drain.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                worker.metrics.worker.connections_accepted.inc();
                monoio::spawn(Isolated { inner: serve::serve(worker.clone(), index, stream, peer), peer });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn!("worker {}: accept failed: {e}", worker.index);
                monoio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Runs one connection's task so that a panic (a bug) ends that connection only, not the worker and
/// every other connection on it.
struct Isolated<F> {
    inner: F,
    peer: SocketAddr,
}

impl<F: Future<Output = ()>> Future for Isolated<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        let peer = this.peer;
        // SAFETY: as above; the pin projection does not outlive this call.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(_) => {
                log::error!(
                    "BUG: the connection from {peer} panicked; it was closed, other connections are unaffected"
                );
                Poll::Ready(())
            }
        }
    }
}
