//! A whole `GET` on a blocking socket, for the control plane's background threads (a JWT
//! authorizer's keys and OIDC discovery): connect, TLS for `https://`, one request with
//! `Connection: close`, the response read whole within a deadline and a size bound, its framing
//! checked by the codec's parsers.
//!
//! Must not: run on a worker (it blocks), or follow redirects (a key URL that moves is a
//! configuration to fix, not to guess). `http://` is refused for hosts other than loopback, and
//! addresses that are link-local or cloud metadata unless the operator allows them: keys fetched
//! in clear text could be anyone's. Cost: one connection and one buffer per call.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::body_reader::{BodyFraming, BodyReader};
use crate::http::response_head;
pub use crate::http::url::Url;

/// What a fetch may do.
#[derive(Clone)]
pub struct Limits {
    /// The whole call: connect, TLS, request, response.
    pub timeout: Duration,
    /// The most body bytes read.
    pub max_body: u64,
    /// For `https://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub allow_link_local: bool,
}

/// `GET url`: the body of a `200`, or why not (for the log).
pub fn get(url: &Url, limits: &Limits) -> Result<Vec<u8>, String> {
    if !url.tls && !url.is_loopback() {
        return Err(format!("http://{} is not loopback: keys are fetched over https only", url.host));
    }
    let deadline = Instant::now() + limits.timeout;
    let addr = resolve(url, limits.allow_link_local)?;
    let left = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let tcp = TcpStream::connect_timeout(&addr, left()).map_err(|e| format!("connect to {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: portico\r\nConnection: close\r\n\r\n",
        url.path,
        url.authority()
    );
    match (&limits.tls, url.tls) {
        (Some(config), true) => {
            let name = crate::tls::client::server_name(&url.host).ok_or("the host is not a TLS name")?;
            let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| format!("TLS: {e}"))?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            exchange(&mut stream, request.as_bytes(), limits.max_body, deadline, |s, t| s.sock.set_read_timeout(t))
        }
        (None, true) => Err("no TLS configuration for an https:// URL".into()),
        (_, false) => {
            let mut tcp = tcp;
            exchange(&mut tcp, request.as_bytes(), limits.max_body, deadline, |s, t| s.set_read_timeout(t))
        }
    }
}

fn resolve(url: &Url, allow_link_local: bool) -> Result<SocketAddr, String> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("{} does not resolve: {e}", url.host))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", url.host))?;
    if !allow_link_local && crate::table::is_link_local_or_metadata(addr.ip()) {
        return Err(format!("{} resolves to {}, a link-local or metadata address", url.host, addr.ip()));
    }
    Ok(addr)
}

fn exchange<S: Read + Write>(
    stream: &mut S,
    request: &[u8],
    max_body: u64,
    deadline: Instant,
    set_timeout: impl Fn(&S, Option<Duration>) -> std::io::Result<()>,
) -> Result<Vec<u8>, String> {
    let left = || deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
    set_timeout(stream, left()).map_err(|e| e.to_string())?;
    stream.write_all(request).and_then(|()| stream.flush()).map_err(|e| format!("send: {e}"))?;
    const MAX_HEAD: usize = 16 * 1024;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let mut read = |stream: &mut S, buf: &mut Vec<u8>| -> Result<usize, String> {
        let Some(t) = left() else { return Err("timed out".into()) };
        set_timeout(stream, Some(t)).map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            // A TLS peer that closes without close_notify: the framing below decides.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Err("timed out".into())
            }
            Err(e) => Err(format!("read: {e}")),
        }
    };
    let head = loop {
        if let Some(head) = response_head::parse(&buf, false, MAX_HEAD).map_err(|e| e.to_string())? {
            break head;
        }
        if read(stream, &mut buf)? == 0 {
            return Err("closed before a response head".into());
        }
    };
    if head.status != 200 {
        return Err(format!("answered {}", head.status));
    }
    let mut pending = buf.split_off(head.len);
    let mut reader = BodyReader::new(BodyFraming::from(head.framing), max_body);
    let mut body = Vec::new();
    loop {
        let piece = reader.step(&pending).map_err(|e| match e.fault {
            crate::http::Fault::BodyTooLarge => format!("body over {max_body} bytes"),
            _ => e.detail.to_owned(),
        })?;
        if let Some((s, e)) = piece.data {
            body.extend_from_slice(&pending[s..e]);
        }
        pending.drain(..piece.consumed);
        if piece.done {
            return Ok(body);
        }
        if piece.consumed == 0 || pending.is_empty() {
            let mut more = Vec::new();
            if read(stream, &mut more)? == 0 {
                reader.at_eof().map_err(|e| e.detail.to_owned())?;
                return Ok(body);
            }
            pending.extend_from_slice(&more);
        }
    }
}
