//! TLS settings, when some listener is TLS: certificates by domain, the default certificate,
//! mutual-TLS settings by domain. A TLS listener needs at least one certificate.

use super::Errors;
use crate::config::model::Config;
use crate::table::{CertFiles, Listener, Mtls, TlsSettings};

pub(super) fn settings(errors: &mut Errors<'_>, config: &Config, listeners: &[Listener]) -> Option<TlsSettings> {
    let certificates: Vec<(String, CertFiles)> =
        config.domains.iter().filter_map(|d| Some((d.name.value.clone(), d.certificate.clone()?))).collect();
    let (handshake_timeout_ms, session_cache_entries, default_certificate) = config.tls.clone();
    let mtls: Vec<(String, Mtls)> =
        config.domains.iter().filter_map(|d| Some((d.name.value.clone(), d.mtls.clone()?))).collect();
    let tls = listeners.iter().any(|l| l.tls).then_some(TlsSettings {
        handshake_timeout_ms,
        session_cache_entries,
        default_certificate,
        certificates,
        mtls,
    });
    if tls.as_ref().is_some_and(|t| t.default_certificate.is_none() && t.certificates.is_empty()) {
        errors.whole_file(
            "`listen_tls` is set but no certificate is configured: add [tls] default_certificate = { cert = \"...\", key = \"...\" } or a certificate to a [[domain]]",
        );
    }
    tls
}
