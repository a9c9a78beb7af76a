//! TLS over a monoio TCP stream: rustls's connection state machine driven with the connection's
//! own small buffers, for both sides — [`TlsIo::accept`] for clients of Portico (with the
//! mutual-TLS identity), [`TlsIo::connect`] for upstreams.
//!
//! Written here rather than taken from monoio-rustls because that crate allocates 32 KiB of
//! buffers per connection up front (16 KiB each way; measured 52.6 KiB per idle TLS connection
//! with it) and keeps the rustls session private, which mutual TLS needs to read the client's
//! certificate. Ciphertext comes in through a buffer that starts at 4 KiB and is dropped when a
//! connection goes idle; plaintext goes straight into the caller's buffer; ciphertext out is
//! written from a reused `Vec`. No `unsafe`.

use std::io::{self, Read, Write};
use std::ops::DerefMut;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::server::Acceptor;
use rustls::{ClientConfig, ClientConnection, ConnectionCommon, ServerConnection, SideData};

use super::client_cert::{ClientCert, TlsIdentity};
use super::server::TlsConfigs;

/// Ciphertext read size; a record larger than this arrives in several reads.
const RX_CHUNK_BYTES: usize = 4096;
/// Plaintext is handed to rustls at most this much at a time (its send buffer is bounded).
const TX_CHUNK_BYTES: usize = 16 * 1024;

/// A TLS connection of either side over TCP.
pub struct TlsIo<C> {
    tcp: TcpStream,
    conn: C,
    rx: BytesMut,
    tx: Vec<u8>,
}

impl TlsIo<ServerConnection> {
    /// A client's connection to Portico: reads the client hello, picks the configuration its SNI
    /// asks for (a mutual-TLS domain's, or the default), and runs the handshake. Also returns, for
    /// a mutual-TLS domain, the domain and the verified client certificate. The caller bounds it
    /// with the handshake timeout.
    pub async fn accept(mut tcp: TcpStream, configs: &TlsConfigs) -> io::Result<(Self, Option<Rc<TlsIdentity>>)> {
        let mut rx = BytesMut::new();
        let mut acceptor = Acceptor::default();
        let accepted = loop {
            if crate::http::read_more(&mut tcp, &mut rx, RX_CHUNK_BYTES).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let mut reader = &rx[..];
            let used = acceptor.read_tls(&mut reader)?;
            rx.advance(used);
            match acceptor.accept() {
                Ok(Some(accepted)) => break accepted,
                Ok(None) => {}
                Err((e, alert)) => return Err(refuse(tcp, e, alert).await),
            }
        };
        let (config, mtls) = configs.for_name(accepted.client_hello().server_name());
        let conn = match accepted.into_connection(config) {
            Ok(conn) => conn,
            Err((e, alert)) => return Err(refuse(tcp, e, alert).await),
        };
        let mut io = TlsIo { tcp, conn, rx, tx: Vec::new() };
        io.feed_all().await?;
        io.handshake().await?;
        let mut identity = None;
        if let Some((domain, mtls)) = mtls {
            // rustls verified it; a domain with mutual TLS never completes a handshake without one.
            let der = io.conn.peer_certificates().and_then(|c| c.first()).ok_or(io::ErrorKind::PermissionDenied)?;
            let client_cert = ClientCert::from_der(der).ok_or(io::ErrorKind::InvalidData)?;
            identity = Some(Rc::new(TlsIdentity { domain, mtls, client_cert }));
        }
        Ok((io, identity))
    }
}

/// Sends the alert rustls prepared for a client hello it refused.
async fn refuse(mut tcp: TcpStream, e: rustls::Error, mut alert: rustls::server::AcceptedAlert) -> io::Error {
    let mut tx = Vec::new();
    let _ = alert.write_all(&mut tx);
    let _ = tcp.write_all(tx).await;
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl TlsIo<ClientConnection> {
    /// Connects to an upstream: SNI `name`, certificate verified as `config` says.
    pub async fn connect(tcp: TcpStream, config: Arc<ClientConfig>, name: ServerName<'static>) -> io::Result<Self> {
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut io = TlsIo { tcp, conn, rx: BytesMut::new(), tx: Vec::new() };
        io.handshake().await?;
        Ok(io)
    }
}

impl<C, D> TlsIo<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    async fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.send_pending().await?;
            if self.conn.wants_read() && self.receive(None).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        self.send_pending().await
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Reads plaintext into `buf`; `Ok(0)` at the end of the stream (close_notify or TCP EOF).
    pub async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        self.read_into_cancelable(buf, None).await
    }

    /// As [`read_into`](Self::read_into); a socket read it waits on ends early (`ECANCELED`,
    /// nothing lost) when `cancel` is cancelled.
    pub async fn read_into_cancelable(
        &mut self,
        buf: &mut BytesMut,
        cancel: Option<monoio::io::CancelHandle>,
    ) -> io::Result<usize> {
        loop {
            match self.take_plaintext(buf)? {
                Some(0) => return Ok(0),
                Some(n) => return Ok(n),
                None => {}
            }
            // Key updates and alerts rustls produced while reading go out before we wait.
            self.send_pending().await?;
            if !self.rx.is_empty() {
                let before = self.rx.len();
                self.feed_all().await?;
                if self.rx.len() < before {
                    continue;
                }
            }
            if self.receive(cancel.clone()).await? == 0 {
                return Ok(0);
            }
        }
    }

    /// Encrypts and sends all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let take = data.len().min(TX_CHUNK_BYTES);
            let n = self.conn.writer().write(&data[..take])?;
            data = &data[n..];
            self.send_pending().await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Sends close_notify, then half-closes the TCP stream.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.send_pending().await?;
        self.tcp.shutdown().await
    }

    /// Whether bytes from the peer wait here (ciphertext not yet decrypted, or plaintext not yet
    /// read): on an idle pooled connection, that is a response nobody asked for.
    pub fn has_buffered(&mut self) -> bool {
        !self.rx.is_empty() || self.conn.process_new_packets().map_or(true, |state| state.plaintext_bytes_to_read() > 0)
    }

    /// Gives back the receive buffer of an idle connection (it is re-created on the next read).
    pub fn shrink(&mut self) {
        if self.rx.is_empty() {
            self.rx = BytesMut::new();
        }
        if self.tx.capacity() > TX_CHUNK_BYTES * 2 {
            self.tx = Vec::new();
        }
    }

    /// Plaintext rustls has decrypted: `Some(n)` bytes appended (`Some(0)`: the peer closed
    /// cleanly), `None` when it needs more ciphertext.
    fn take_plaintext(&mut self, buf: &mut BytesMut) -> io::Result<Option<usize>> {
        let mut total = 0;
        loop {
            let start = buf.len();
            buf.resize(start + 4096, 0);
            let read = self.conn.reader().read(&mut buf[start..]);
            match read {
                Ok(n) => {
                    buf.truncate(start + n);
                    if n == 0 {
                        return Ok(Some(total));
                    }
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    buf.truncate(start);
                    return Ok((total > 0).then_some(total));
                }
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            }
        }
    }

    /// Reads ciphertext from the socket and hands what rustls will take to it; returns the bytes
    /// read (0 at the end of the stream).
    async fn receive(&mut self, cancel: Option<monoio::io::CancelHandle>) -> io::Result<usize> {
        let n = match cancel {
            None => crate::http::read_more(&mut self.tcp, &mut self.rx, RX_CHUNK_BYTES).await?,
            Some(c) => crate::http::read_more_cancelable(&mut self.tcp, &mut self.rx, RX_CHUNK_BYTES, c).await?,
        };
        if n > 0 {
            self.feed_all().await?;
        }
        Ok(n)
    }

    /// Hands buffered ciphertext to rustls until it is all taken or rustls wants its plaintext
    /// read first (what it does not take stays in `rx` for the next call).
    async fn feed_all(&mut self) -> io::Result<()> {
        while !self.rx.is_empty() {
            let mut reader = &self.rx[..];
            let used = match self.conn.read_tls(&mut reader) {
                Ok(used) => used,
                // Its plaintext buffer is full: the caller drains it, then we continue.
                Err(_) if !self.conn.wants_read() => return Ok(()),
                Err(e) => return Err(e),
            };
            self.rx.advance(used);
            if let Err(e) = self.conn.process_new_packets() {
                // Tell the peer why (the alert rustls queued), then fail.
                let _ = self.send_pending().await;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if used == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Writes whatever ciphertext rustls has queued.
    async fn send_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.tx.clear();
            self.conn.write_tls(&mut self.tx)?;
            let (res, buf) = self.tcp.write_all(std::mem::take(&mut self.tx)).await;
            self.tx = buf;
            res?;
        }
        Ok(())
    }
}
