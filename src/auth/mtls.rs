//! Mutual-TLS domains: a request for one is served only on a connection whose client certificate
//! was verified for that domain (its SNI named it); on any other connection it is misdirected
//! (421), even when the `Host` header names the domain.

use crate::error::{GatewayError, ResponseType};
use crate::table::Table;
use crate::tls::client_cert::TlsIdentity;

const MISDIRECTED: GatewayError =
    GatewayError::new(ResponseType::MisdirectedRequest, "mutual-TLS domain on a connection not verified for it");

/// `domain`: the custom domain that selected the API, if any; `identity`: the connection's
/// verified client certificate, if any.
pub fn check(table: &Table, domain: Option<u32>, identity: Option<&TlsIdentity>) -> Result<(), GatewayError> {
    let Some(domain) = domain.and_then(|d| table.domains.get(d as usize)) else { return Ok(()) };
    if domain.mtls && identity.is_none_or(|id| id.domain != domain.name) {
        return Err(MISDIRECTED);
    }
    Ok(())
}
