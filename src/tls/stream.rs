//! A connection's byte stream: plain TCP, or TLS over it — for clients ([`ClientStream`]) and for
//! upstreams ([`UpstreamStream`]). One enum so the HTTP codec and every integration stay the same
//! for both; a `match` per read or write is the whole cost on the plain path.

use std::io;
use std::ops::DerefMut;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::{ClientConnection, ConnectionCommon, ServerConnection, SideData};

use super::client_cert::TlsIdentity;
use super::session::TlsIo;

/// Plain TCP, or TLS with `X` beside it (what the handshake proved, for client connections).
/// Boxed: most connections of a busy plain listener are not TLS.
pub enum Stream<C, X> {
    Plain(TcpStream),
    Tls(Box<TlsIo<C>>, X),
}

/// A client's connection: the TLS side carries its mutual-TLS identity, if its domain has one.
pub type ClientStream = Stream<ServerConnection, Option<Rc<TlsIdentity>>>;
/// A connection to an upstream: TLS for `https://` ones.
pub type UpstreamStream = Stream<ClientConnection, ()>;

impl<C, D, X> Stream<C, X>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(..))
    }

    /// Reads more bytes (plaintext) into `buf`; `Ok(0)` at the end of the stream.
    pub async fn read_into(&mut self, buf: &mut BytesMut, chunk: usize) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => crate::http::read_more(s, buf, chunk).await,
            Stream::Tls(s, _) => s.read_into(buf).await,
        }
    }

    /// As [`read_into`](Self::read_into), ending early (`ECANCELED`, nothing lost) when `cancel`
    /// is cancelled.
    pub async fn read_cancelable(
        &mut self,
        buf: &mut BytesMut,
        chunk: usize,
        cancel: monoio::io::CancelHandle,
    ) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => crate::http::read_more_cancelable(s, buf, chunk, cancel).await,
            Stream::Tls(s, _) => s.read_into_cancelable(buf, Some(cancel)).await,
        }
    }

    /// Writes all of `buf` and gives it back for reuse.
    pub async fn write_vec(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            Stream::Plain(s) => {
                let (res, buf) = s.write_all(buf).await;
                (res.map(drop), buf)
            }
            Stream::Tls(s, _) => (s.write_all(&buf).await, buf),
        }
    }

    pub async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await.0.map(drop),
            Stream::Tls(s, _) => s.write_all(&bytes).await,
        }
    }

    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s, _) => s.shutdown().await,
        }
    }

    /// Whether the TLS layer holds bytes from the peer that nobody read yet (never for plain TCP,
    /// where the kernel's buffer is all there is).
    pub fn has_buffered(&mut self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s, _) => s.has_buffered(),
        }
    }

    /// Gives back buffers an idle connection does not need.
    pub fn shrink(&mut self) {
        if let Stream::Tls(s, _) = self {
            s.shrink();
        }
    }
}

impl<C, D, X> AsRawFd for Stream<C, X>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Plain(s) => s.as_raw_fd(),
            Stream::Tls(s, _) => s.tcp().as_raw_fd(),
        }
    }
}

impl ClientStream {
    /// The mutual-TLS identity of the connection, if its domain requires one.
    pub fn identity(&self) -> Option<&TlsIdentity> {
        match self {
            Stream::Tls(_, identity) => identity.as_deref(),
            Stream::Plain(_) => None,
        }
    }
}
