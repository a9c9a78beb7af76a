//! The client against a real upstream on loopback (a thread with canned answers), on both drivers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

use super::*;

/// An upstream that answers each connection's requests with `answers` in turn (one per request
/// head it reads), then closes — or, after an empty answer, holds the connection open until the
/// client closes it; returns its address.
fn upstream(connections: Vec<Vec<&'static [u8]>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for answers in connections {
            let Ok((mut s, _)) = listener.accept() else { return };
            let mut seen = Vec::new();
            for answer in answers {
                if answer.is_empty() {
                    let _ = s.read(&mut [0u8; 1]);
                    break;
                }
                // Wait for one whole request head (these requests have no body).
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut buf = [0u8; 4096];
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                seen.drain(..end);
                if s.write_all(answer).is_err() {
                    return;
                }
            }
        }
    });
    addr
}

fn on_both_drivers<F: Future<Output = ()>>(test: impl Fn() -> F) {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().enable_timer().build().unwrap().block_on(test());
    if let Ok(mut rt) = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().enable_timer().build() {
        rt.block_on(test());
    }
}

struct Setup {
    pool: Pool,
    counters: WorkerCounters,
    target: Target,
}

impl Setup {
    fn new(addr: SocketAddr) -> Setup {
        Setup { pool: Pool::default(), counters: WorkerCounters::default(), target: Target { addr, tls: None } }
    }

    fn call(&self) -> Call<'_> {
        self.call_within(Duration::from_secs(5))
    }

    fn call_within(&self, within: Duration) -> Call<'_> {
        Call {
            target: &self.target,
            deadline: Instant::now() + within,
            connect_timeout_ms: 1000,
            pool_idle_timeout: Duration::from_secs(30),
            buffer_bytes: 4096,
            idempotent: true,
            head_request: false,
            whole: true,
        }
    }

    async fn get(&self, max_body: u64) -> Result<Fetched, GatewayError> {
        let mut out = b"GET /x HTTP/1.1\r\nHost: up\r\n\r\n".to_vec();
        fetch(&self.pool, &self.counters, &self.call(), &mut out, max_body, 8).await
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
const CHUNKED: &[u8] = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

#[test]
fn fetches_whole_responses_and_pools_the_connection() {
    on_both_drivers(|| async {
        let s = Setup::new(upstream(vec![vec![OK, CHUNKED]]));
        {
            let first = s.get(100).await.unwrap();
            assert_eq!((first.status, &first.body[..]), (200, &b"hello"[..]));
            assert_eq!(first.header(b"content-type"), Some(&b"text/plain"[..]));
            assert_eq!(s.pool.idle_count(), 1);
            let second = s.get(100).await.unwrap();
            assert_eq!((second.status, &second.body[..]), (201, &b"abcde"[..]));
            assert_eq!((s.counters.upstream_connected.get(), s.counters.upstream_reused.get()), (1, 1));
        }
    });
}

#[test]
fn bodies_over_the_bound_are_refused_and_not_pooled() {
    on_both_drivers(|| async {
        let s = Setup::new(upstream(vec![vec![OK]]));
        {
            let error = s.get(4).await.err().unwrap();
            assert_eq!(error.kind, ResponseType::IntegrationFailure);
            assert_eq!(s.pool.idle_count(), 0);
        }
    });
}

#[test]
fn a_stale_pooled_connection_is_retried_on_a_new_one() {
    on_both_drivers(|| async {
        // The first connection answers once and closes; the retry gets the second.
        let s = Setup::new(upstream(vec![vec![OK], vec![CHUNKED]]));
        {
            assert_eq!(s.get(100).await.unwrap().status, 200);
            // The upstream's close may not have reached us yet: the pool's check or the retry
            // catches it either way.
            monoio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(s.get(100).await.unwrap().status, 201);
            assert_eq!(s.counters.upstream_connected.get(), 2);
        }
    });
}

#[test]
fn nothing_listening_is_a_bad_gateway() {
    on_both_drivers(|| async {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let s = Setup::new(closed);
        {
            let error = s.get(100).await.err().unwrap();
            assert_eq!((error.kind, error.detail), (ResponseType::IntegrationFailure, "cannot connect to upstream"));
        }
    });
}

/// A length body that does not come with its head is read after it (the path with a timer).
#[test]
fn a_body_that_comes_after_its_head_is_read_whole() {
    on_both_drivers(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else { return };
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let mut buf = [0u8; 4096];
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
            std::thread::sleep(Duration::from_millis(50));
            let _ = s.write_all(b"defghij");
            let _ = s.read(&mut [0u8; 1]);
        });
        let s = Setup::new(addr);
        let fetched = s.get(100).await.unwrap();
        assert_eq!((fetched.status, &fetched.body[..]), (200, &b"abcdefghij"[..]));
        assert_eq!(s.pool.idle_count(), 1);
    });
}

#[test]
fn the_deadline_covers_a_body_that_trickles() {
    on_both_drivers(|| async {
        // Three bytes of ten, then nothing (the connection stays open).
        let s = Setup::new(upstream(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", b""]]));
        let mut out = b"GET /x HTTP/1.1\r\nHost: up\r\n\r\n".to_vec();
        let call = s.call_within(Duration::from_millis(300));
        let error = fetch(&s.pool, &s.counters, &call, &mut out, 100, 8).await.err().unwrap();
        assert_eq!(error.kind, ResponseType::IntegrationTimeout);
        assert_eq!(s.pool.idle_count(), 0);
    });
}
