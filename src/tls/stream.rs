//! The client connection's byte stream: plain TCP, or a TLS session over it. One enum so the HTTP
//! codec and every integration stay the same for both; a `match` per read or write is the whole
//! cost on the plain path.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use bytes::{Bytes, BytesMut};
use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use rustls::ClientConnection;

use super::session::{TlsIo, TlsSession};

pub enum ClientStream {
    Plain(TcpStream),
    /// Boxed: most connections of a busy plain listener are not TLS. The descriptor is kept beside
    /// it for the connection registry.
    Tls(Box<TlsSession>, RawFd),
}

impl ClientStream {
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientStream::Tls(..))
    }

    /// The mutual-TLS identity of the connection, if its domain requires one.
    pub fn identity(&self) -> Option<&super::client_cert::TlsIdentity> {
        match self {
            ClientStream::Tls(s, _) => s.identity.as_deref(),
            ClientStream::Plain(_) => None,
        }
    }

    /// Reads more bytes (plaintext) into `buf`; `Ok(0)` at the end of the stream.
    pub async fn read_into(&mut self, buf: &mut BytesMut, chunk: usize) -> io::Result<usize> {
        match self {
            ClientStream::Plain(s) => crate::http::read_more(s, buf, chunk).await,
            ClientStream::Tls(s, _) => s.read_into(buf).await,
        }
    }

    /// Writes all of `buf` and gives it back for reuse.
    pub async fn write_vec(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            ClientStream::Plain(s) => {
                let (res, buf) = s.write_all(buf).await;
                (res.map(drop), buf)
            }
            ClientStream::Tls(s, _) => (s.write_all(&buf).await, buf),
        }
    }

    pub async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        match self {
            ClientStream::Plain(s) => s.write_all(bytes).await.0.map(drop),
            ClientStream::Tls(s, _) => s.write_all(&bytes).await,
        }
    }

    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Plain(s) => s.shutdown().await,
            ClientStream::Tls(s, _) => s.shutdown().await,
        }
    }

    /// Gives back buffers an idle connection does not need.
    pub fn shrink(&mut self) {
        if let ClientStream::Tls(s, _) = self {
            s.shrink();
        }
    }
}

/// An upstream connection's byte stream: plain TCP, or TLS to an `https://` upstream.
pub enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<TlsIo<ClientConnection>>),
}

impl UpstreamStream {
    pub async fn read_into(&mut self, buf: &mut BytesMut, chunk: usize) -> io::Result<usize> {
        match self {
            UpstreamStream::Plain(s) => crate::http::read_more(s, buf, chunk).await,
            UpstreamStream::Tls(s) => s.read_into(buf).await,
        }
    }

    pub async fn write_vec(&mut self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        match self {
            UpstreamStream::Plain(s) => {
                let (res, buf) = s.write_all(buf).await;
                (res.map(drop), buf)
            }
            UpstreamStream::Tls(s) => (s.write_all(&buf).await, buf),
        }
    }

    pub async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        match self {
            UpstreamStream::Plain(s) => s.write_all(bytes).await.0.map(drop),
            UpstreamStream::Tls(s) => s.write_all(&bytes).await,
        }
    }
}

impl AsRawFd for UpstreamStream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            UpstreamStream::Plain(s) => s.as_raw_fd(),
            UpstreamStream::Tls(s) => s.tcp().as_raw_fd(),
        }
    }
}

impl AsRawFd for ClientStream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            ClientStream::Plain(s) => s.as_raw_fd(),
            ClientStream::Tls(_, fd) => *fd,
        }
    }
}
