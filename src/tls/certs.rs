//! Loading a certificate chain and its private key from PEM files, with the checks an operator
//! needs before the gateway serves them: files readable, PEM well-formed, a key type rustls can sign
//! with (RSA, ECDSA, Ed25519), the key matching the leaf certificate, the leaf within its validity.
//! Runs when a table loads (start, `check`, reload), never on a request.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate file `{path}`: {reason}")]
    Cert { path: String, reason: String },
    #[error("key file `{path}`: {reason}")]
    Key { path: String, reason: String },
    #[error("certificate `{cert}` and key `{key}` do not belong together")]
    Mismatch { cert: String, key: String },
    #[error("certificate `{path}` is not valid now: valid from {not_before} to {not_after}")]
    Expired { path: String, not_before: String, not_after: String },
    #[error("truststore `{path}`: {reason}")]
    Truststore { path: String, reason: String },
    #[error("CRL file `{path}`: {reason}")]
    Crl { path: String, reason: String },
}

pub fn load(cert_path: &str, key_path: &str, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, CertError> {
    let cert_err = |reason: String| CertError::Cert { path: cert_path.to_owned(), reason };
    let key_err = |reason: String| CertError::Key { path: key_path.to_owned(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(cert_err("no PEM certificate in it".into()));
    };
    check_validity(cert_path, leaf)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| key_err(e.to_string()))?;
    let signing = provider.key_provider.load_private_key(key).map_err(|e| key_err(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(_)) => {
            Err(CertError::Mismatch { cert: cert_path.to_owned(), key: key_path.to_owned() })
        }
        // The key type cannot tell (no SPKI to compare): accept, the handshake will show it.
        Err(_) => Ok(Arc::new(certified)),
    }
}

fn check_validity(path: &str, leaf: &CertificateDer<'_>) -> Result<(), CertError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| CertError::Cert { path: path.to_owned(), reason: format!("not an X.509 certificate: {e}") })?;
    let validity = cert.validity();
    if !validity.is_valid() {
        return Err(CertError::Expired {
            path: path.to_owned(),
            not_before: validity.not_before.to_string(),
            not_after: validity.not_after.to_string(),
        });
    }
    Ok(())
}

/// The verifier of a mutual-TLS domain: client certificates must chain to a CA of the truststore,
/// be within their validity, and not be revoked by the CRLs given (if any).
pub fn client_verifier(
    mtls: &crate::table::Mtls,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, CertError> {
    let trust_err = |reason: String| CertError::Truststore { path: mtls.truststore.clone(), reason };
    let roots = ca_bundle(&mtls.truststore).map_err(trust_err)?;
    let mut crls = Vec::new();
    if let Some(path) = &mtls.crl {
        let crl_err = |reason: String| CertError::Crl { path: path.clone(), reason };
        for crl in
            rustls::pki_types::CertificateRevocationListDer::pem_file_iter(path).map_err(|e| crl_err(e.to_string()))?
        {
            crls.push(crl.map_err(|e| crl_err(e.to_string()))?);
        }
        if crls.is_empty() {
            return Err(crl_err("no PEM CRL in it".into()));
        }
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| trust_err(e.to_string()))
}

/// A PEM bundle of CA certificates (a truststore, an upstream CA bundle); the reason it cannot be
/// used otherwise.
pub fn ca_bundle(path: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())? {
        roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("no CA certificate in it".into());
    }
    Ok(roots)
}
