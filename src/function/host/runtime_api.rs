//! The Lambda Runtime API for one handler process, on its own loopback port:
//!
//! - `GET /2018-06-01/runtime/invocation/next` waits for an invocation and returns its event,
//!   with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and
//!   `-Trace-Id`;
//! - `POST .../invocation/{id}/response` and `.../{id}/error` end it (202);
//! - `POST /2018-06-01/runtime/init/error` reports a handler that cannot start.
//!
//! An id other than the one the process holds is 400 (`InvalidRequestID`), a payload over the
//! limit 413, anything else 404 — what Lambda answers.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::wire;
use super::{Host, Outcome, Running, error_object};
use crate::http::Method;

const PREFIX: &str = "/2018-06-01/runtime/";
const ACCEPTED: &[u8] = br#"{"status":"OK"}"#;

pub(super) fn serve(host: Arc<Host>, slot: usize, listener: TcpListener) {
    let name = format!("fn-{}-api-{slot}", host.definition.name);
    // A runtime client may open a new connection at any time; each is served for this slot.
    super::accept_loop(host, name, listener, move |host, stream| connection(host, slot, stream));
}

fn connection(host: &Host, slot: usize, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::new();
    loop {
        let Some(request) = super::next_request(
            &mut stream,
            &mut buf,
            host.definition.max_payload,
            ("RequestEntityTooLarge", "InvalidRequest"),
        ) else {
            return;
        };
        let path = String::from_utf8_lossy(request.head.path()).into_owned();
        let route = path.strip_prefix(PREFIX).unwrap_or("");
        let written = match (request.head.method, route) {
            (Method::Get, "invocation/next") => next(host, slot, &mut stream),
            (Method::Post, "init/error") => {
                log::warn!(
                    "function `{}`: handler process {slot} failed to start: {}",
                    host.definition.name,
                    String::from_utf8_lossy(&request.body)
                );
                super::process::fail_oldest(host, "Runtime.InitError", &String::from_utf8_lossy(&request.body));
                wire::write_response(&mut stream, "202 Accepted", &[], ACCEPTED)
            }
            (Method::Post, r) => match r.strip_prefix("invocation/").and_then(|r| r.rsplit_once('/')) {
                Some((id, "response")) => finish(host, slot, &mut stream, id, Outcome::Answered(request.body)),
                Some((id, "error")) => finish(host, slot, &mut stream, id, Outcome::Failed(request.body)),
                _ => not_found(&mut stream),
            },
            _ => not_found(&mut stream),
        };
        if written.is_err() {
            return;
        }
    }
}

fn not_found(stream: &mut TcpStream) -> std::io::Result<()> {
    wire::write_response(stream, "404 Not Found", &[], &error_object("NotFound", "unknown Runtime API path"))
}

/// Waits for the next invocation and hands it to process `slot`.
fn next(host: &Host, slot: usize, stream: &mut TcpStream) -> std::io::Result<()> {
    let mut state = host.lock();
    state.slots[slot].initialised = true;
    // A process that asks again without answering has dropped its invocation.
    if let Some(r) = state.slots[slot].running.take() {
        let message = format!("RequestId: {} Error: the runtime asked for the next invocation without answering", r.id);
        let _ = r.reply.send(Outcome::Failed(error_object("Runtime.Unanswered", &message)));
    }
    let pending = loop {
        if host.stopping() {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if let Some(p) = state.queue.pop_front() {
            break p;
        }
        state = host.work.wait_timeout(state, Duration::from_secs(1)).map_or_else(|e| e.into_inner().0, |(s, _)| s);
    };
    let timeout = host.definition.timeout;
    let deadline_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
            + timeout.as_millis() as u64;
    state.slots[slot].running =
        Some(Running { id: pending.id.clone(), reply: pending.reply, deadline: Instant::now() + timeout });
    drop(state);
    let arn = format!(
        "arn:aws:lambda:{}:{}:function:{}",
        host.definition.region,
        super::super::event::ACCOUNT_ID,
        host.definition.name
    );
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
        deadline_ms / 1000,
        crate::random::random_u64(),
        crate::random::random_u64()
    );
    let deadline = deadline_ms.to_string();
    let headers: [(&str, &[u8]); 5] = [
        ("Content-Type", b"application/json"),
        ("Lambda-Runtime-Aws-Request-Id", pending.id.as_bytes()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_bytes()),
        ("Lambda-Runtime-Invoked-Function-Arn", arn.as_bytes()),
        ("Lambda-Runtime-Trace-Id", trace.as_bytes()),
    ];
    wire::write_response(stream, "200 OK", &headers, &pending.payload)
}

/// Ends the invocation `id` that process `slot` holds.
fn finish(host: &Host, slot: usize, stream: &mut TcpStream, id: &str, outcome: Outcome) -> std::io::Result<()> {
    let mut state = host.lock();
    let held = &mut state.slots[slot].running;
    if held.as_ref().is_none_or(|r| r.id != id) {
        drop(state);
        let body = error_object("InvalidRequestID", "Invalid request ID");
        return wire::write_response(stream, "400 Bad Request", &[], &body);
    }
    let running = held.take().expect("checked");
    drop(state);
    let _ = running.reply.send(outcome);
    wire::write_response(stream, "202 Accepted", &[], ACCEPTED)
}
