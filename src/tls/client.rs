//! TLS to `https://` upstreams: the rustls client configuration a table loads — the system's root
//! certificates or a configured CA bundle, verification on unless the config explicitly turns it
//! off (logged at every load), the upstream's host as SNI.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::table::UpstreamSettings;

#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    #[error("upstream CA bundle `{path}`: {reason}")]
    Bundle { path: String, reason: String },
    #[error("no system root certificates could be loaded for https:// upstreams ({0}); set [upstream] ca_bundle")]
    NoRoots(String),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

pub fn client_config(settings: &UpstreamSettings) -> Result<Arc<ClientConfig>, ClientTlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let mut config = if settings.insecure_skip_verify {
        log::warn!("[upstream] insecure_skip_verify = true: certificates of https:// upstreams are NOT verified");
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider))).with_no_client_auth()
    } else {
        builder.with_root_certificates(roots(settings)?).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn roots(settings: &UpstreamSettings) -> Result<rustls::RootCertStore, ClientTlsError> {
    if let Some(path) = &settings.ca_bundle {
        return super::certs::ca_bundle(path).map_err(|reason| ClientTlsError::Bundle { path: path.clone(), reason });
    }
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let reason = found.errors.first().map_or("none found".to_owned(), ToString::to_string);
        return Err(ClientTlsError::NoRoots(reason));
    }
    Ok(roots)
}

/// The SNI and verification name of an upstream host (an IP address is verified as one, no SNI).
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).ok()
}

/// `insecure_skip_verify`: any certificate is accepted; handshake signatures are still checked.
/// Public for tools and tests that need to see which certificate a server sends.
#[derive(Debug)]
pub struct NoVerification(pub Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
