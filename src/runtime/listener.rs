//! Listening sockets: bound once per worker with `SO_REUSEPORT` (the kernel spreads connections
//! across workers), and the accept loop that respects the per-worker connection cap and draining.

use std::net::SocketAddr;
use std::rc::Rc;
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
                // A panic (a bug) ends that connection only, not the worker and every other
                // connection on it.
                let serve = crate::unwind::or_else(serve::serve(worker.clone(), index, stream, peer), move || {
                    log::error!(
                        "BUG: the connection from {peer} panicked; it was closed, other connections are unaffected"
                    );
                });
                monoio::spawn(serve);
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn!("worker {}: accept failed: {e}", worker.index);
                monoio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
