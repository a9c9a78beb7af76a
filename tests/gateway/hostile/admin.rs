//! The admin listener's bearer token: required for everything but the probes when configured,
//! compared whole, redacted from `/config`, rotated by SIGHUP; a listener open to the network
//! cannot be configured without one.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::*;

const TOKEN: &str = "admin-token-0123456789abcdef";

fn admin_request(addr: SocketAddr, request_line: &str, authorization: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(s, "{request_line} HTTP/1.1\r\nHost: admin\r\n{auth}\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    (text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0), text)
}

fn config(admin: u16) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1
[admin]
listen = "127.0.0.1:{admin}"
token_file = "admin-token"
[[api]]
name = "a"
[[api.stage]]
name = "$default"
cache = {{ ttl_s = 60 }}
[[api.route]]
key = "GET /x"
integration = {{ type = "mock", body = "x" }}
"#
    )
}

#[test]
fn the_admin_token_guards_every_endpoint_but_the_probes() {
    let dir = temp_path("admin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("admin-token"), format!("{TOKEN}\n")).unwrap();
    let node = AdminNode::start_in(&dir, config, Driver::Uring, &[]);
    let bearer = format!("Bearer {TOKEN}");
    for line in
        ["GET /metrics", "GET /config", "GET /usage?plan=p", "POST /cache/flush?api=a&stage=$default", "GET /nope"]
    {
        for auth in [
            None,
            Some("Bearer wrong-token-0123456789abcd"),
            Some("Basic YWRtaW46YWRtaW4="),
            Some(TOKEN),
            Some("Bearer admin-token-0123456789abcde"),
        ] {
            let (status, text) = admin_request(node.admin, line, auth);
            assert_eq!(status, 401, "{line} with {auth:?}: {text}");
            assert!(text.contains("WWW-Authenticate: Bearer"), "{text}");
        }
        let (status, _) = admin_request(node.admin, line, Some(&bearer));
        assert_ne!(status, 401, "{line} with the token");
    }
    let (status, text) = admin_request(node.admin, "GET /config", Some(&format!("bearer   {TOKEN}")));
    assert_eq!(status, 200, "the scheme is case-insensitive");
    assert!(!text.contains(TOKEN) && text.contains("<redacted>"), "the token is redacted from /config");
    for probe in ["GET /healthz", "GET /readyz"] {
        assert_eq!(admin_request(node.admin, probe, None).0, 200, "{probe} needs no token");
    }
    // `portico top` passes the token.
    std::fs::write(dir.join("top-token"), TOKEN).unwrap();
    let admin = node.admin.to_string();
    let top = portico(&[
        "top",
        "--admin",
        &admin,
        "--once",
        "--interval",
        "0.1",
        "--token-file",
        dir.join("top-token").to_str().unwrap(),
    ]);
    assert!(top.status.success(), "{}", String::from_utf8_lossy(&top.stderr));
    assert!(
        !portico(&["top", "--admin", &admin, "--once", "--interval", "0.1"]).status.success(),
        "no token, no scrape"
    );

    // A reload rotates the token.
    std::fs::write(dir.join("admin-token"), "rotated-token-0123456789abcdef").unwrap();
    node.gw.signal(libc::SIGHUP);
    let rotated = eventually(Duration::from_secs(10), || {
        (admin_request(node.admin, "GET /metrics", Some("Bearer rotated-token-0123456789abcdef")).0 == 200)
            .then_some(())
    });
    assert!(rotated.is_some(), "{}", node.gw.log());
    assert_eq!(admin_request(node.admin, "GET /metrics", Some(&bearer)).0, 401, "the old token is gone");
}

#[test]
fn an_admin_listener_open_to_the_network_needs_a_token() {
    let base = "[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"GET /x\"\nintegration = { type = \"mock\" }\n";
    let (ok, err) = check(&format!("[admin]\nlisten = \"0.0.0.0:9901\"\nallow_remote = true\n{base}"));
    assert!(!ok);
    assert!(err.contains("an admin listener open to the network needs a token"), "{err}");
    let (ok, err) = check(&format!(
        "[admin]\nlisten = \"0.0.0.0:9901\"\nallow_remote = true\ntoken_env = \"PORTICO_TEST_UNSET_TOKEN\"\n{base}"
    ));
    assert!(!ok && err.contains("`PORTICO_TEST_UNSET_TOKEN` is not set"), "{err}");
    let dir = temp_path("admin-check");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("weak"), "short").unwrap();
    std::fs::write(dir.join("strong"), TOKEN).unwrap();
    let with_file = |file: &str| {
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            format!("[admin]\nlisten = \"0.0.0.0:9901\"\nallow_remote = true\ntoken_file = \"{file}\"\n{base}"),
        )
        .unwrap();
        let out = portico(&["check", "-c", path.to_str().unwrap()]);
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = with_file("weak");
    assert!(!ok && err.contains("the admin token is too weak"), "{err}");
    let (ok, err) = with_file("strong");
    assert!(ok, "{err}");
}
