//! TLS termination over real sockets, with certificates generated at test time: SNI picks the
//! certificate, unknown names get the default, plain and TLS listeners serve the same API with the
//! right `X-Forwarded-Proto`, session resumption, ALPN, the handshake timeout, certificate checks
//! in `portico check`, and rotation on reload.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portico::tls::client::NoVerification;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::support::*;

/// Writes a self-signed certificate and key for `names` into `dir`; returns (cert, key, DER).
pub(crate) fn make_cert(dir: &Path, stem: &str, names: &[&str], expired: bool) -> (PathBuf, PathBuf, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path, cert.der().to_vec())
}

fn client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

struct Exchange {
    served_cert: Vec<u8>,
    resumed: bool,
    alpn: Option<Vec<u8>>,
    response: String,
}

/// One HTTPS request to `addr` with SNI `sni` (`None`: an IP address, so no SNI is sent).
fn https(config: &Arc<ClientConfig>, addr: SocketAddr, sni: Option<&str>, path: &str) -> Exchange {
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_owned()).unwrap(),
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let conn = ClientConnection::new(config.clone(), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    write!(tls, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", sni.unwrap_or("localhost")).unwrap();
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    let c = &tls.conn;
    Exchange {
        served_cert: c.peer_certificates().and_then(|p| p.first()).map(|d| d.to_vec()).unwrap_or_default(),
        resumed: c.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        alpn: c.alpn_protocol().map(<[u8]>::to_vec),
        response,
    }
}

struct Setup {
    gw: Gateway,
    tls: SocketAddr,
    default_der: Vec<u8>,
    a_der: Vec<u8>,
    dir: PathBuf,
    upstream: Upstream,
}

fn start(driver: Driver) -> Setup {
    let dir = temp_path("certs");
    std::fs::create_dir_all(&dir).unwrap();
    let (default_cert, default_key, default_der) = make_cert(&dir, "default", &["localhost"], false);
    let (a_cert, a_key, a_der) = make_cert(&dir, "a", &["a.example"], false);
    let upstream = Upstream::start(|seen| {
        if seen.target == "/big" {
            let body = "b".repeat(500_000);
            return Reply::Raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes());
        }
        ok_json(r#"{"ok":true}"#)
    });
    let tls_port = free_port();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
listen_tls = ["127.0.0.1:{tls_port}"]
workers = 2

[tls]
handshake_timeout_ms = 300
default_certificate = {{ cert = "{}", key = "{}" }}

[[api]]
name = "shop"
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /up"
integration = {{ type = "http_proxy", uri = "http://{}/up" }}
[[api.route]]
key = "GET /ping"
integration = {{ type = "mock", body = "pong" }}
[[api.route]]
key = "POST /big"
integration = {{ type = "http_proxy", uri = "http://{}/big" }}

[[domain]]
name = "a.example"
certificate = {{ cert = "a.pem", key = "a.key" }}
[[domain.mapping]]
api = "shop"
stage = "prod"
"#,
        default_cert.display(),
        default_key.display(),
        upstream.addr,
        upstream.addr,
    );
    // The domain's certificate paths are relative: they resolve against the config's directory.
    let _ = (a_cert, a_key);
    let gw = Gateway::start_in(&dir, &config, driver, &[]);
    Setup { gw, tls: SocketAddr::from(([127, 0, 0, 1], tls_port)), default_der, a_der, dir, upstream }
}

#[test]
fn sni_picks_the_certificate_and_plain_and_tls_serve_the_same_api() {
    for driver in DRIVERS {
        let s = start(driver);
        let config = client_config();
        let a = https(&config, s.tls, Some("a.example"), "/ping");
        assert_eq!(a.served_cert, s.a_der, "{driver:?}: the domain's certificate");
        assert!(a.response.starts_with("HTTP/1.1 200 OK\r\n") && a.response.ends_with("pong"), "{}", a.response);
        assert_eq!(a.alpn.as_deref(), Some(&b"http/1.1"[..]));
        let other = https(&config, s.tls, Some("unknown.example"), "/prod/ping");
        assert_eq!(other.served_cert, s.default_der, "unknown names get the default");
        assert!(other.response.ends_with("pong"), "{}", other.response);
        let no_sni = https(&config, s.tls, None, "/prod/ping");
        assert_eq!(no_sni.served_cert, s.default_der);

        // The same API on the plain listener; the upstream learns which one the client used.
        let _ = https(&config, s.tls, Some("a.example"), "/up");
        assert_eq!(s.upstream.last().header("x-forwarded-proto"), Some("https"));
        assert_eq!(s.gw.get("/prod/up").status, 200);
        assert_eq!(s.upstream.last().header("x-forwarded-proto"), Some("http"));
    }
}

#[test]
fn sessions_resume_and_silent_clients_are_cut_at_the_handshake_timeout() {
    let s = start(Driver::Uring);
    let config = client_config();
    let first = https(&config, s.tls, Some("a.example"), "/ping");
    assert!(!first.resumed);
    let second = https(&config, s.tls, Some("a.example"), "/ping");
    assert!(second.resumed, "the second connection resumes the first session");
    assert!(second.response.ends_with("pong"));

    let mut silent = TcpStream::connect(s.tls).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0, "closed without a byte");
    assert!(started.elapsed() < Duration::from_secs(3), "handshake_timeout_ms = 300");
}

#[test]
fn new_certificates_apply_on_reload_and_open_connections_keep_working() {
    let s = start(Driver::Uring);
    let config = client_config();
    // A connection opened before the reload.
    let tcp = TcpStream::connect(s.tls).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn = ClientConnection::new(config.clone(), ServerName::try_from("a.example").unwrap()).unwrap();
    let mut open = StreamOwned::new(conn, tcp);
    write!(open, "GET /ping HTTP/1.1\r\nHost: a.example\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = open.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("pong"));

    let (_, _, rotated_der) = make_cert(&s.dir, "a", &["a.example"], false);
    s.gw.signal(libc::SIGHUP);
    let rotated = eventually(Duration::from_secs(5), || {
        let e = https(&config, s.tls, Some("a.example"), "/ping");
        (e.served_cert == rotated_der).then_some(())
    });
    assert!(rotated.is_some(), "new connections get the new certificate:\n{}", s.gw.log());
    assert_ne!(rotated_der, s.a_der);
    write!(open, "GET /ping HTTP/1.1\r\nHost: a.example\r\n\r\n").unwrap();
    let n = open.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("pong"), "the old connection still works");

    // A broken certificate on reload is rejected and the running one stays.
    std::fs::write(s.dir.join("a.pem"), "not a certificate").unwrap();
    s.gw.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(5), || s.gw.log().contains("reload rejected").then_some(())).is_some());
    assert_eq!(https(&config, s.tls, Some("a.example"), "/ping").served_cert, rotated_der);
}

#[test]
fn check_reports_missing_expired_mismatched_and_garbage_certificates() {
    let dir = temp_path("badcerts");
    std::fs::create_dir_all(&dir).unwrap();
    let (good_cert, good_key, _) = make_cert(&dir, "good", &["localhost"], false);
    let (expired_cert, expired_key, _) = make_cert(&dir, "expired", &["localhost"], true);
    let (_, other_key, _) = make_cert(&dir, "other", &["localhost"], false);
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").unwrap();
    let cases: [(&Path, &Path, &str); 4] = [
        (&dir.join("missing.pem"), &good_key, "missing.pem"),
        (&expired_cert, &expired_key, "is not valid now"),
        (&good_cert, &other_key, "do not belong together"),
        (&garbage, &good_key, "garbage.pem"),
    ];
    for (cert, key, expected) in cases {
        let (passed, err) = check(&format!(
            "[server]\nlisten_tls = [\"127.0.0.1:0\"]\n[tls]\ndefault_certificate = {{ cert = \"{}\", key = \"{}\" }}\n[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /\"\nintegration = {{ type = \"mock\" }}\n",
            cert.display(),
            key.display()
        ));
        assert!(!passed, "{expected}");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
}

#[test]
fn large_bodies_and_pipelined_requests_cross_tls_intact() {
    for driver in DRIVERS {
        let s = start(driver);
        let config = client_config();
        let conn = ClientConnection::new(config, ServerName::try_from("a.example").unwrap()).unwrap();
        let tcp = TcpStream::connect(s.tls).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls = StreamOwned::new(conn, tcp);
        let body = vec![b'q'; 300_000];
        let mut request =
            format!("POST /big HTTP/1.1\r\nHost: a.example\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        request.extend_from_slice(&body);
        // Two pipelined requests after the large one, in the same write.
        request.extend_from_slice(b"GET /ping HTTP/1.1\r\nHost: a.example\r\n\r\nGET /ping HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n");
        tls.write_all(&request).unwrap();
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{driver:?}: {}", &text[..text.len().min(200)]);
        let body_start = text.find("\r\n\r\n").unwrap() + 4;
        assert!(response[body_start..body_start + 500_000].iter().all(|&b| b == b'b'), "{driver:?}: the whole body");
        assert!(text[body_start + 500_000..].starts_with("HTTP/1.1 200 OK\r\n"), "the next response follows it");
        assert_eq!(text.matches("pong").count(), 2, "both pipelined requests answered");
        assert_eq!(s.upstream.last().body.len(), 300_000, "the whole request body reached the upstream");
    }
}
