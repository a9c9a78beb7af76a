//! `[server] listen_tls`, `[tls]` and `[[domain]] certificate`: where TLS is served and with which
//! certificates. Files are only named here; they are read and checked when the table loads.

use crate::config::reader::{Obj, Reader};
use crate::table::CertFiles;

const TLS_KEYS: &[&str] = &["handshake_timeout_ms", "session_cache_entries", "default_certificate"];
const CERT_KEYS: &[&str] = &["cert", "key"];
const MTLS_KEYS: &[&str] = &["truststore", "crl", "headers"];

/// `mtls = { truststore = "ca.pem", crl = "crl.pem", headers = { "x-client-subject" = "subjectDN" } }`.
pub(super) fn read_mtls(r: &mut Reader<'_>, d: Obj<'_>) -> Option<crate::table::Mtls> {
    let item = r.item(d, "mtls")?;
    let o = r.obj(item, "`mtls`")?;
    r.allow_keys(o, MTLS_KEYS);
    let truststore = r.str(o, "truststore", "truststore = \"path/to/ca-bundle.pem\" (PEM CA certificates)")?;
    let crl = r.opt_str(o, "crl").map(|c| super::resolve_path(r.file, c.value));
    let mut headers = Vec::new();
    for (name, field) in r.str_map(o, "headers") {
        match crate::table::ClientCertField::parse(&field.value) {
            Some(f) => headers.push((name.value.to_ascii_lowercase(), f)),
            None => r.error(
                field.span,
                format!("`{}` is not a client certificate field", field.value),
                Some("AWS's names: clientCertPem, subjectDN, issuerDN, serialNumber, validity.notBefore, validity.notAfter".into()),
            ),
        }
    }
    Some(crate::table::Mtls { truststore: super::resolve_path(r.file, truststore.value), crl, headers })
}

/// `[tls]`: (handshake timeout, session cache entries, default certificate).
pub(super) fn read_tls(r: &mut Reader<'_>, root: Obj<'_>) -> (u64, usize, Option<CertFiles>) {
    let Some(item) = r.item(root, "tls") else { return (10_000, 4096, None) };
    let Some(o) = r.obj(item, "[tls]") else { return (10_000, 4096, None) };
    r.allow_keys(o, TLS_KEYS);
    let timeout = r.int(o, "handshake_timeout_ms", 10_000, 1, 600_000) as u64;
    let entries = r.int(o, "session_cache_entries", 4096, 0, 1 << 24) as usize;
    let default = read_cert(r, o, "default_certificate");
    (timeout, entries, default)
}

/// `key = { cert = "chain.pem", key = "key.pem" }`, paths resolved against the config's directory.
pub(super) fn read_cert(r: &mut Reader<'_>, o: Obj<'_>, key: &str) -> Option<CertFiles> {
    let item = r.item(o, key)?;
    let c = r.obj(item, "a certificate")?;
    r.allow_keys(c, CERT_KEYS);
    let cert = r.str(c, "cert", "cert = \"path/to/chain.pem\" (PEM, leaf first)");
    let key = r.str(c, "key", "key = \"path/to/key.pem\" (PEM: RSA, ECDSA or Ed25519)");
    Some(CertFiles { cert: super::resolve_path(r.file, cert?.value), key: super::resolve_path(r.file, key?.value) })
}
