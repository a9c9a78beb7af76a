//! Mutual TLS on a custom domain, with a CA, client certificates and a CRL generated at test time:
//! a good client is served and its certificate's fields reach the upstream; missing, untrusted,
//! expired and revoked certificates fail the handshake; the domain is not reachable through
//! another domain's connection or a plain listener; clients cannot forge the certificate headers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SerialNumber};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::support::*;
use crate::tls::make_cert;
use portico::tls::client::NoVerification;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ca { cert: params.self_signed(&key).unwrap(), key }
}

/// A client certificate signed by `ca`: (DER, PKCS#8 key DER).
fn client(ca: &Ca, name: &str, serial: u64, expired: bool) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.serial_number = Some(SerialNumber::from(serial));
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.der().to_vec(), key.serialize_der())
}

fn crl(ca: &Ca, revoked: u64) -> String {
    let now = time::OffsetDateTime::now_utc();
    rcgen::CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![rcgen::RevokedCertParams {
            serial_number: SerialNumber::from(revoked),
            revocation_time: now - time::Duration::hours(1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&ca.cert, &ca.key)
    .unwrap()
    .pem()
    .unwrap()
}

fn config_with(cert: Option<&(Vec<u8>, Vec<u8>)>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerification(provider)));
    let config = match cert {
        Some((der, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// One request; the response text, or empty when the TLS connection failed.
fn request(config: &Arc<ClientConfig>, addr: SocketAddr, sni: &str, raw: &str) -> String {
    let conn = ClientConnection::new(config.clone(), ServerName::try_from(sni.to_owned()).unwrap()).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    if tls.write_all(raw.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn mutual_tls_accepts_good_clients_only_and_forwards_their_certificate() {
    let dir = temp_path("mtls");
    std::fs::create_dir_all(&dir).unwrap();
    let (server_cert, server_key, _) = make_cert(&dir, "server", &["localhost"], false);
    let trusted = ca("Portico Test CA");
    let other = ca("Other CA");
    std::fs::write(dir.join("ca.pem"), trusted.cert.pem()).unwrap();
    std::fs::write(dir.join("crl.pem"), crl(&trusted, 666)).unwrap();
    let good = client(&trusted, "good client", 42, false);
    let expired = client(&trusted, "old client", 43, true);
    let revoked = client(&trusted, "revoked client", 666, false);
    let stranger = client(&other, "stranger", 44, false);

    let upstream = Upstream::start(|_| ok_json(r#"{"ok":true}"#));
    let function = Upstream::start(|_| ok_json(r#"{"statusCode":200,"body":"from the function"}"#));
    let tls_port = free_port();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
listen_tls = ["127.0.0.1:{tls_port}"]
workers = 1

[tls]
default_certificate = {{ cert = "{}", key = "{}" }}

[[api]]
name = "bank"
[[api.stage]]
name = "prod"
access_log = {{ destination = "access.log", format = "$context.identity.clientCert.subjectDN|$context.identity.clientCert.serialNumber|$context.status" }}
[[api.route]]
key = "GET /accounts"
integration = {{ type = "http_proxy", uri = "http://{}/accounts" }}
[[api.route]]
key = "GET /fn"
integration = {{ type = "function", target = "teller" }}

[[function]]
name = "teller"
url = "http://{}/invoke"

[[domain]]
name = "m.example"
mtls = {{ truststore = "ca.pem", crl = "crl.pem", headers = {{ "x-client-subject" = "subjectDN", "x-client-serial" = "serialNumber", "x-client-cert" = "clientCertPem", "x-client-not-after" = "validity.notAfter" }} }}
[[domain.mapping]]
api = "bank"
stage = "prod"

[[domain]]
name = "open.example"
[[domain.mapping]]
api = "bank"
stage = "prod"
"#,
        server_cert.display(),
        server_key.display(),
        upstream.addr,
        function.addr,
    );
    let gw = Gateway::start_in(&dir, &config, Driver::Uring, &[]);
    let tls = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let get = "GET /accounts HTTP/1.1\r\nHost: m.example\r\nX-Client-Subject: CN=forged\r\nConnection: close\r\n\r\n";

    let ok = request(&config_with(Some(&good)), tls, "m.example", get);
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}\n{}", gw.log());
    let seen = upstream.last();
    assert_eq!(seen.header("x-client-subject"), Some("CN=good client"));
    assert_eq!(
        seen.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("x-client-subject")).count(),
        1,
        "the forged one is dropped"
    );
    assert_eq!(seen.header("x-client-serial"), Some("42"));
    assert!(seen.header("x-client-cert").unwrap().starts_with("-----BEGIN CERTIFICATE-----%0A"));
    assert!(seen.header("x-client-not-after").unwrap().ends_with(" GMT"));
    let log = dir.join("access.log");
    let line = eventually(Duration::from_secs(5), || std::fs::read_to_string(&log).ok().filter(|t| !t.is_empty()));
    assert_eq!(line.as_deref().and_then(|t| t.lines().next()), Some("CN=good client|42|200"));

    // A function's event carries the certificate (an HTTP API: `authentication.clientCert`), as
    // AWS's does; a client's own certificate headers never reach it.
    let get_fn = get.replace("/accounts", "/fn");
    let answered = request(&config_with(Some(&good)), tls, "m.example", &get_fn);
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n") && answered.ends_with("from the function"), "{answered}");
    let event: serde_json::Value = serde_json::from_slice(&function.last().body).unwrap();
    let cert = &event["requestContext"]["authentication"]["clientCert"];
    assert_eq!(cert["subjectDN"], "CN=good client");
    assert_eq!(cert["serialNumber"], "42");
    assert!(cert["clientCertPem"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(cert["validity"]["notAfter"].as_str().unwrap().ends_with(" GMT"));
    assert!(event["headers"].get("x-client-subject").is_none(), "{}", event["headers"]);

    for (who, cert) in [
        ("no certificate", None),
        ("untrusted CA", Some(&stranger)),
        ("expired", Some(&expired)),
        ("revoked", Some(&revoked)),
    ] {
        let answer = request(&config_with(cert), tls, "m.example", get);
        assert!(!answer.contains("200 OK"), "{who}: {answer}");
    }
    let before = upstream.seen().len();

    // Another domain's TLS connection cannot reach the mutual-TLS domain; nor can a plain one.
    let misdirected = request(&config_with(None), tls, "open.example", get);
    assert!(misdirected.starts_with("HTTP/1.1 421 Misdirected Request\r\n"), "{misdirected}");
    let plain = gw.send(get.as_bytes());
    assert_ne!(plain.status, 200);
    // Nor can a client forge the certificate headers on a route of another domain.
    let open = request(&config_with(None), tls, "open.example", &get.replace("m.example", "open.example"));
    assert!(open.starts_with("HTTP/1.1 200 OK\r\n"), "{open}");
    let seen = upstream.last();
    assert!(!seen.has("x-client-subject"), "{:?}", seen.headers);
    assert_eq!(upstream.seen().len(), before + 1);
}
