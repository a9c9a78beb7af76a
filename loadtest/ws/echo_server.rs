//! The baseline of the WebSocket echo load test: a plain WebSocket echo server on monoio (one
//! thread, io_uring), with the gateway's own codec (`portico::ws`) and nothing else — no routes,
//! no events, no metrics. What a message costs the gateway is measured against this.
//!
//!     cargo run --release --example ws_echo_server -- 127.0.0.1:PORT

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use portico::http::head::{self, HeadLimits};
use portico::ws::frame::{self, Opcode};
use portico::ws::message::{Decoder, Incoming, Limits};

async fn read_more(s: &mut monoio::net::TcpStream, buf: &mut BytesMut) -> bool {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(4096);
    }
    let owned = std::mem::take(buf);
    let (len, cap) = (owned.len(), owned.capacity());
    let (res, slice) = s.read(owned.slice_mut(len..cap)).await;
    *buf = slice.into_inner();
    matches!(res, Ok(1..))
}

async fn connection(mut s: monoio::net::TcpStream) {
    let mut buf = BytesMut::with_capacity(4096);
    let limits = HeadLimits { max_header_bytes: 16 * 1024, max_header_count: 100, max_uri_bytes: 8192 };
    let head = loop {
        match head::parse(&buf, &limits) {
            Ok(Some(index)) => {
                let bytes = buf.split_to(index.len).freeze();
                break index.into_head(bytes);
            }
            Ok(None) => {
                if !read_more(&mut s, &mut buf).await {
                    return;
                }
            }
            Err(_) => return,
        }
    };
    let Ok(upgrade) = portico::ws::handshake::check(&head) else { return };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        portico::ws::handshake::accept_key(upgrade.key)
    );
    let (res, _) = s.write_all(answer.into_bytes()).await;
    if res.is_err() {
        return;
    }
    let limits = Limits { max_frame_bytes: 1 << 20, max_message_bytes: 1 << 20 };
    let mut decoder = Decoder::default();
    let mut out = Vec::with_capacity(4096);
    loop {
        loop {
            match decoder.next(&mut buf, &limits) {
                Ok(Some(Incoming::Text(m))) => frame::write(&mut out, Opcode::Text, &m),
                Ok(Some(Incoming::Binary(m))) => frame::write(&mut out, Opcode::Binary, &m),
                Ok(Some(Incoming::Ping(p))) => frame::write(&mut out, Opcode::Pong, &p),
                Ok(Some(Incoming::Pong(_))) => {}
                Ok(Some(Incoming::Close(_))) | Err(_) => return,
                Ok(None) => break,
            }
        }
        if !out.is_empty() {
            let (res, back) = s.write_all(std::mem::take(&mut out)).await;
            out = back;
            out.clear();
            if res.is_err() {
                return;
            }
        }
        if !read_more(&mut s, &mut buf).await {
            return;
        }
    }
}

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new().enable_timer().build().expect("a runtime");
    rt.block_on(async move {
        let listener = monoio::net::TcpListener::bind(addr.as_str()).expect("the address");
        eprintln!("echo server on {addr}");
        loop {
            if let Ok((s, _)) = listener.accept().await {
                let _ = s.set_nodelay(true);
                monoio::spawn(connection(s));
            }
        }
    });
}
