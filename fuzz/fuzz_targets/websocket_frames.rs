#![no_main]
//! A client's bytes through the WebSocket decoder, whole and in pieces of a data-chosen size:
//! never a panic; the same messages and the same failure either way (state carried between
//! reads is exact); text handed out is UTF-8 and nothing exceeds the limits.
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use portico::ws::message::{Decoder, Incoming, Limits, Violation};

fn decode(bytes: &[u8], step: usize, limits: &Limits) -> (Vec<Incoming>, Option<Violation>) {
    let mut d = Decoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match d.next(&mut buf, limits) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(v) => return (out, Some(v)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let [step, limit, rest @ ..] = data else { return };
    let limits = Limits { max_frame_bytes: u64::from(*limit) * 4, max_message_bytes: u64::from(*limit) * 8 };
    let whole = decode(rest, rest.len(), &limits);
    let pieces = decode(rest, usize::from(*step % 16) + 1, &limits);
    assert_eq!(whole, pieces, "pieces decode as the whole does");
    for m in &whole.0 {
        match m {
            Incoming::Text(t) => {
                assert!(std::str::from_utf8(t).is_ok());
                assert!(t.len() as u64 <= limits.max_message_bytes);
            }
            Incoming::Binary(b) => assert!(b.len() as u64 <= limits.max_message_bytes),
            Incoming::Ping(p) | Incoming::Pong(p) => assert!(p.len() <= 125),
            Incoming::Close(Some((code, reason))) => {
                assert!(portico::ws::close::is_sendable(*code));
                assert!(std::str::from_utf8(reason).is_ok());
            }
            Incoming::Close(None) => {}
        }
    }
});
