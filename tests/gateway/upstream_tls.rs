//! `https://` integrations: TLS to the upstream with SNI, certificates verified against a CA bundle
//! (a wrong CA is a 502), pooled connections, and the explicit, logged way to skip verification.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::*;

/// (SNI, Host header) of one request.
type SeenTls = (Option<String>, String);

struct TlsUpstream {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<SeenTls>>>,
}

/// A CA (written to `dir/<stem>-ca.pem`) and a `localhost` certificate it signed.
fn ca_and_leaf(dir: &Path, stem: &str) -> (Vec<u8>, Vec<u8>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, format!("{stem} CA"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join(format!("{stem}-ca.pem")), ca_cert.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca_cert, &ca_key).unwrap();
    (leaf.der().to_vec(), key.serialize_der())
}

fn tls_upstream(cert: Vec<u8>, key: Vec<u8>) -> TlsUpstream {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert)], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (c, s) = (connections.clone(), seen.clone());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let (config, seen) = (config.clone(), s.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                loop {
                    let mut host = String::new();
                    let mut line = String::new();
                    if tls.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if tls.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.strip_prefix("Host: ").or_else(|| h.strip_prefix("host: ")) {
                            host = v.trim().to_owned();
                        }
                    }
                    let sni = tls.get_ref().conn.server_name().map(str::to_owned);
                    seen.lock().unwrap().push((sni, host));
                    let body = r#"{"secure":true}"#;
                    let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if tls.get_mut().write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    TlsUpstream { addr, connections, seen }
}

fn gateway(dir: &Path, upstream: SocketAddr, upstream_settings: &str) -> Gateway {
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[upstream]
{upstream_settings}

[[api]]
name = "a"
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /secure"
integration = {{ type = "http_proxy", uri = "https://localhost:{}/secure" }}
"#,
        upstream.port()
    );
    Gateway::start_in(dir, &config, Driver::Uring, &[])
}

#[test]
fn https_upstreams_are_verified_pooled_and_named_by_sni() {
    let dir = temp_path("uptls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = ca_and_leaf(&dir, "good");
    let _ = ca_and_leaf(&dir, "other");
    let up = tls_upstream(cert, key);

    let gw = gateway(&dir, up.addr, r#"ca_bundle = "good-ca.pem""#);
    let mut client = gw.connect();
    for _ in 0..3 {
        client.send(b"GET /secure HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = client.read_response().expect("response");
        assert_eq!((r.status, r.text()), (200, r#"{"secure":true}"#.to_owned()), "{}", gw.log());
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 1, "one pooled TLS connection for three requests");
    let (sni, host) = up.seen.lock().unwrap()[0].clone();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert_eq!(host, format!("localhost:{}", up.addr.port()));

    // A certificate from a CA not in the bundle is a bad gateway, not a served response.
    let wrong = gateway(&dir, up.addr, r#"ca_bundle = "other-ca.pem""#);
    assert_eq!(wrong.get("/secure").status, 502);

    // Skipping verification is possible, explicit, and logged.
    let insecure = gateway(&dir, up.addr, "ca_bundle = \"other-ca.pem\"\ninsecure_skip_verify = true");
    assert_eq!(insecure.get("/secure").status, 200);
    assert!(insecure.log().contains("NOT verified"), "{}", insecure.log());
}

#[test]
fn a_missing_ca_bundle_is_a_check_error() {
    let (passed, err) = check(
        "[upstream]\nca_bundle = \"nope.pem\"\n[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /\"\nintegration = { type = \"http_proxy\", uri = \"https://localhost/\" }\n",
    );
    assert!(!passed);
    assert!(err.contains("upstream CA bundle") && err.contains("nope.pem"), "{err}");
}
