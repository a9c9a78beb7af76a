//! The host's invoke listener, for the workers: `POST /2015-03-31/functions/{name}/invocations`
//! with the event as the body; the answer is `200` with the payload, and
//! `X-Amz-Function-Error: Unhandled` when the function failed — the Lambda Invoke API's shape, so
//! the worker side is the same for a local function as for a remote one. A host that stops
//! before the invocation ran answers 503; a worker that goes away takes its queued invocation
//! with it.

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bytes::BytesMut;

use super::wire;
use super::{Host, Outcome, error_object};
use crate::http::Method;

pub(super) fn serve(host: Arc<Host>, listener: TcpListener) {
    let name = format!("fn-{}-invoke", host.definition.name);
    super::accept_loop(host, name, listener, connection);
}

fn connection(host: &Host, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::new();
    let expected = format!("/2015-03-31/functions/{}/invocations", host.definition.name);
    loop {
        let Some(request) = super::next_request(
            &mut stream,
            &mut buf,
            host.definition.max_payload,
            ("RequestTooLargeException", "InvalidRequestContentException"),
        ) else {
            return;
        };
        let written = if request.head.method != Method::Post || request.head.path() != expected.as_bytes() {
            let body = error_object("ResourceNotFoundException", "no such function");
            wire::write_response(&mut stream, "404 Not Found", &[], &body)
        } else if host.stopping() {
            wire::write_response(
                &mut stream,
                "503 Service Unavailable",
                &[],
                &error_object("ServiceException", "the function is stopping"),
            )
        } else {
            let Some(outcome) = wait(host, &stream, request.body) else { return };
            match outcome {
                Ok(Outcome::Answered(payload)) => wire::write_response(&mut stream, "200 OK", &[], &payload),
                Ok(Outcome::Failed(error)) => {
                    wire::write_response(&mut stream, "200 OK", &[("X-Amz-Function-Error", b"Unhandled")], &error)
                }
                Err(_) => wire::write_response(
                    &mut stream,
                    "503 Service Unavailable",
                    &[],
                    &error_object("ServiceException", "the function stopped"),
                ),
            }
        };
        if written.is_err() || !request.head.keep_alive {
            return;
        }
    }
}

/// Queues the invocation and waits for its outcome (`Err`: the host stopped first). `None` when
/// the worker went away meanwhile (its integration timeout passed and it closed the connection):
/// the invocation is taken out of the queue, so a handler that never gets ready cannot make the
/// queue grow without bound.
fn wait(host: &Host, stream: &TcpStream, event: Vec<u8>) -> Option<Result<Outcome, mpsc::RecvError>> {
    let (id, outcome) = host.enqueue(event);
    loop {
        match outcome.recv_timeout(Duration::from_millis(100)) {
            Ok(o) => return Some(Ok(o)),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Some(Err(mpsc::RecvError)),
            Err(mpsc::RecvTimeoutError::Timeout) if closed(stream) => {
                host.cancel(&id);
                return None;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Whether the peer has closed `stream` (a read would see its end), without reading.
fn closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let gone = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    gone || stream.set_nonblocking(false).is_err()
}
