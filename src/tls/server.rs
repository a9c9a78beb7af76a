//! The rustls server configuration a table loads: TLS 1.3 and 1.2 only, ALPN `http/1.1`, the
//! certificate chosen by SNI (each custom domain's, else the default), session resumption by
//! tickets and by a session cache. One configuration per loaded table, shared by every worker
//! (the session cache is rustls's mutex-guarded one; a handshake touches it, a request never does).
//! The crypto provider is aws-lc-rs ([decision 0005](../../docs/decisions/0005-tls-provider.md)).

use std::sync::Arc;

use ahash::AHashMap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;

use super::certs::{self, CertError};
use crate::table::TlsSettings;

#[derive(Debug, thiserror::Error)]
pub enum TlsLoadError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Certificates by lower-case SNI name, and the one for everything else.
#[derive(Debug)]
struct SniResolver {
    by_name: AHashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello.server_name().and_then(|n| {
            if n.bytes().any(|b| b.is_ascii_uppercase()) {
                self.by_name.get(&n.to_ascii_lowercase())
            } else {
                self.by_name.get(n)
            }
        });
        named.or(self.default.as_ref()).cloned()
    }
}

pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsLoadError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut by_name = AHashMap::new();
    for (name, files) in &settings.certificates {
        by_name.insert(name.to_ascii_lowercase(), certs::load(&files.cert, &files.key, &provider)?);
    }
    let default = match &settings.default_certificate {
        Some(files) => Some(certs::load(&files.cert, &files.key, &provider)?),
        None => None,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { by_name, default }));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Our cipher suite order (AES-256-GCM first) rather than the client's, as scanners expect.
    config.ignore_client_order = true;
    config.session_storage = ServerSessionMemoryCache::new(settings.session_cache_entries);
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    Ok(Arc::new(config))
}
