//! The verified client certificate of a mutual-TLS connection, in the fields AWS exposes as
//! `$context.identity.clientCert.*`: PEM, subject and issuer DN, serial number, validity. Read once
//! per connection, after the handshake.

use std::sync::Arc;

use crate::table::{ClientCertField, Mtls};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub pem: String,
    pub subject_dn: String,
    pub issuer_dn: String,
    /// Decimal, as AWS shows it.
    pub serial_number: String,
    /// OpenSSL's format, as AWS shows it: `May 28 12:30:02 2019 GMT`.
    pub not_before: String,
    pub not_after: String,
}

impl ClientCert {
    pub fn from_der(der: &[u8]) -> Option<ClientCert> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let validity = cert.validity();
        Some(ClientCert {
            pem: pem(der),
            subject_dn: cert.subject().to_string(),
            issuer_dn: cert.issuer().to_string(),
            serial_number: cert.serial.to_string(),
            not_before: openssl_time(validity.not_before.to_datetime()),
            not_after: openssl_time(validity.not_after.to_datetime()),
        })
    }

    pub fn field(&self, field: ClientCertField) -> &str {
        match field {
            ClientCertField::ClientCertPem => &self.pem,
            ClientCertField::SubjectDn => &self.subject_dn,
            ClientCertField::IssuerDn => &self.issuer_dn,
            ClientCertField::SerialNumber => &self.serial_number,
            ClientCertField::NotBefore => &self.not_before,
            ClientCertField::NotAfter => &self.not_after,
        }
    }
}

/// What a TLS connection proved: the mutual-TLS domain its client hello named, and the client
/// certificate verified for it.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub domain: String,
    pub mtls: Arc<Mtls>,
    pub client_cert: ClientCert,
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn openssl_time(t: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(u8::from(t.month()) - 1) as usize],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}
