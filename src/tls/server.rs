//! The rustls server configurations a table loads: TLS 1.3 and 1.2 only, ALPN `http/1.1`, the
//! certificate chosen by SNI (each custom domain's, else the default), client certificates required
//! on custom domains with mutual TLS, session resumption by tickets and by a session cache. Built
//! once per loaded table and shared by every worker (the session cache is rustls's mutex-guarded
//! one; a handshake touches it, a request never does).
//! The crypto provider is aws-lc-rs ([decision 0005](../../docs/decisions/0005-tls-provider.md)).

use std::sync::Arc;

use ahash::AHashMap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;

use super::certs::{self, CertError};
use crate::table::{Mtls, TlsSettings};

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

/// The server configurations of one table: the default one (no client certificates), and one per
/// custom domain with mutual TLS, chosen by SNI before the handshake goes on. All share the
/// certificate resolver, the session cache and the ticket key.
#[derive(Debug)]
pub struct TlsConfigs {
    pub default: Arc<ServerConfig>,
    pub mtls: AHashMap<String, (Arc<ServerConfig>, Arc<Mtls>)>,
}

impl TlsConfigs {
    /// The configuration for a client hello naming `sni`, and the domain's mutual-TLS settings.
    pub fn for_name(&self, sni: Option<&str>) -> (Arc<ServerConfig>, Option<(String, Arc<Mtls>)>) {
        let found = sni.and_then(|n| {
            let lower = n.to_ascii_lowercase();
            self.mtls.get(&lower).map(|(c, m)| (c.clone(), Some((lower, m.clone()))))
        });
        found.unwrap_or_else(|| (self.default.clone(), None))
    }
}

/// aws-lc-rs with the server's cipher suite order: AES-128-GCM first, as Mozilla's "modern" and
/// "intermediate" profiles order them. Measured: preferring the SHA-384 suite put a fifth of the
/// handshake CPU in SHA-512, which aws-lc runs without SIMD on AMD CPUs (perf/2026-11-25-tls.md).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::aws_lc_rs::cipher_suite::*;
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = vec![
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

pub fn server_configs(settings: &TlsSettings) -> Result<TlsConfigs, TlsLoadError> {
    let provider = provider();
    let mut by_name = AHashMap::new();
    for (name, files) in &settings.certificates {
        by_name.insert(name.to_ascii_lowercase(), certs::load(&files.cert, &files.key, &provider)?);
    }
    let default = match &settings.default_certificate {
        Some(files) => Some(certs::load(&files.cert, &files.key, &provider)?),
        None => None,
    };
    let resolver: Arc<dyn ResolvesServerCert> = Arc::new(SniResolver { by_name, default });
    let sessions = ServerSessionMemoryCache::new(settings.session_cache_entries);
    let ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    let build = |verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>| -> Result<Arc<ServerConfig>, TlsLoadError> {
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
        let mut config = match verifier {
            Some(v) => builder.with_client_cert_verifier(v).with_cert_resolver(resolver.clone()),
            None => builder.with_no_client_auth().with_cert_resolver(resolver.clone()),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Our cipher suite order (see `provider`) rather than the client's, as scanners expect.
        config.ignore_client_order = true;
        config.session_storage = sessions.clone();
        config.ticketer = ticketer.clone();
        // One ticket per full handshake (rustls sends 2 by default): measured, the second ticket's
        // cost to clients held handshakes/s 8% below nginx; each resumption brings a fresh ticket.
        config.send_tls13_tickets = 1;
        Ok(Arc::new(config))
    };
    let mut mtls = AHashMap::new();
    for (name, settings) in &settings.mtls {
        let verifier = certs::client_verifier(settings, &provider)?;
        mtls.insert(name.to_ascii_lowercase(), (build(Some(verifier))?, Arc::new(settings.clone())));
    }
    Ok(TlsConfigs { default: build(None)?, mtls })
}
