//! A WebSocket load generator for the load tests (std threads and blocking sockets, no other
//! dependency), bounded in time.
//!
//!     ws_load echo HOST:PORT PATH CONNS SECONDS SIZE MESSAGE
//!         CONNS connections, each sending MESSAGE (padded with spaces to SIZE bytes) and waiting
//!         for one message back, for SECONDS; prints `messages=N seconds=S rate=R`.
//!     ws_load fanout HOST:PORT PATH CONNS KEY SECRET
//!         CONNS connections, each asking for its id (`whoami`, answered by the route), then one
//!         push to every connection through `POST PATH/@connections/{id}` (SigV4-signed with
//!         KEY/SECRET, 8 keep-alive management connections in parallel); prints how long the
//!         pushes took to send and until every connection had its message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A masked client frame (the mask is zero: the payload goes as it is, which RFC 6455 allows).
fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(0x81);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// Reads one server frame's payload (unmasked, unfragmented).
fn read_frame(s: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h)?;
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b)?;
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload)?;
    Ok(payload)
}

fn connect(addr: &str, path: &str) -> std::io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let upgrade = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    (&s).write_all(upgrade.as_bytes())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 101") {
        return Err(std::io::Error::other(format!("not upgraded: {line}")));
    }
    while line != "\r\n" {
        line.clear();
        r.read_line(&mut line)?;
    }
    Ok(r)
}

fn echo(addr: &str, path: &str, conns: usize, seconds: u64, size: usize, message: &str) {
    let mut payload = message.as_bytes().to_vec();
    payload.resize(size.max(payload.len()), b' ');
    let total = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, path, payload, total) = (addr.to_owned(), path.to_owned(), payload.clone(), total.clone());
            std::thread::spawn(move || {
                let mut r = connect(&addr, &path).expect("a connection");
                let mut out = Vec::with_capacity(payload.len() + 14);
                frame(&mut out, &payload);
                let mut n = 0u64;
                while Instant::now() < end {
                    if r.get_mut().write_all(&out).is_err() || read_frame(&mut r).is_err() {
                        break;
                    }
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = total.load(Ordering::Relaxed);
    println!("messages={n} seconds={elapsed:.2} rate={:.0}", n as f64 / elapsed);
}

/// `POST path/@connections/{id}` with `data`, SigV4-signed, on a keep-alive connection.
fn push(s: &mut BufReader<TcpStream>, addr: &str, path: &str, id: &str, data: &[u8], key: (&str, &str)) -> u16 {
    let target = format!("{path}/@connections/{}", id.replace('=', "%3D"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let amz_date = portico::sigv4::amz_date(now);
    let hash = portico::sigv4::payload_hash(data);
    let headers = [("host", addr), ("x-amz-date", amz_date.as_str())];
    let request =
        portico::sigv4::Request { method: "POST", path: &target, query: "", headers: &headers, payload_hash: &hash };
    let scope = portico::sigv4::Scope { amz_date: &amz_date, region: "us-east-1", service: "execute-api" };
    let credentials = portico::sigv4::Credentials { access_key_id: key.0, secret_access_key: key.1 };
    let authorization = portico::sigv4::sign(credentials, &scope, &request);
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    let w = s.get_mut();
    if w.write_all(head.as_bytes()).and_then(|_| w.write_all(data)).is_err() {
        return 0;
    }
    let mut line = String::new();
    if s.read_line(&mut line).is_err() {
        return 0;
    }
    let status = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        if s.read_line(&mut line).is_err() || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    let _ = s.read_exact(&mut body);
    status
}

fn fanout(addr: &str, path: &str, conns: usize, key: &str, secret: &str) {
    let started = Instant::now();
    let mut clients = Vec::with_capacity(conns);
    let mut ids = Vec::with_capacity(conns);
    let mut out = Vec::new();
    frame(&mut out, b"whoami");
    for _ in 0..conns {
        let mut r = connect(addr, path).expect("a connection");
        r.get_mut().write_all(&out).expect("whoami");
        let id = read_frame(&mut r).expect("the id");
        ids.push(String::from_utf8_lossy(&id).into_owned());
        clients.push(r);
    }
    eprintln!("{conns} connections open in {:.1} s", started.elapsed().as_secs_f64());
    let ids = Arc::new(ids);
    let next = Arc::new(Mutex::new(0usize));
    let failed = Arc::new(AtomicU64::new(0));
    let pushed_at = Instant::now();
    let pushers: Vec<_> = (0..8)
        .map(|_| {
            let (ids, next, failed) = (ids.clone(), next.clone(), failed.clone());
            let (addr, path, key, secret) = (addr.to_owned(), path.to_owned(), key.to_owned(), secret.to_owned());
            std::thread::spawn(move || {
                let s = TcpStream::connect(&addr).expect("the management connection");
                let _ = s.set_nodelay(true);
                let mut s = BufReader::new(s);
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                        *n += 1;
                        *n - 1
                    };
                    let Some(id) = ids.get(i) else { break };
                    if push(&mut s, &addr, &path, id, b"fan-out", (&key, &secret)) != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for p in pushers {
        let _ = p.join();
    }
    let sent_s = pushed_at.elapsed().as_secs_f64();
    let mut received = 0;
    for c in &mut clients {
        let _ = c.get_mut().set_read_timeout(Some(Duration::from_secs(10)));
        if read_frame(c).is_ok_and(|m| m == b"fan-out") {
            received += 1;
        }
    }
    let delivered_s = pushed_at.elapsed().as_secs_f64();
    println!(
        "connections={conns} pushes_failed={} pushes_sent_in_s={sent_s:.2} all_received_in_s={delivered_s:.2} received={received}",
        failed.load(Ordering::Relaxed)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    match arg(1).as_str() {
        "echo" => echo(&arg(2), &arg(3), num(4) as usize, num(5), num(6) as usize, &arg(7)),
        "fanout" => fanout(&arg(2), &arg(3), num(4) as usize, &arg(5), &arg(6)),
        _ => eprintln!(
            "usage: ws_load echo HOST:PORT PATH CONNS SECONDS SIZE MESSAGE | fanout HOST:PORT PATH CONNS KEY SECRET"
        ),
    }
}
