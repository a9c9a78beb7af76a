//! Resource policies on a REST API, over IPv4 and IPv6 loopback: an allow list, a deny list,
//! explicit deny winning, the check coming before the API key, and `X-Forwarded-For` believed only
//! from a trusted proxy.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::*;

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/GET/*",
     "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}},
    {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": ["execute-api:/prod/*/public/*"]},
    {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/*/admin/*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.2"}}},
    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["execute-api:*"], "Resource": "arn:aws:execute-api:*:*:shop/prod/GET/public/blocked",
     "Condition": {"IpAddress": {"aws:SourceIp": ["::1/128"]}}}
  ]
}"#;

fn config(v6_port: u16, trusted: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}", "[::1]:{v6_port}"]
workers = 2
trusted_proxies = [{trusted}]

[[api]]
name = "shop"
protocol = "rest"
resource_policy = '''{POLICY}'''

[[api.stage]]
name = "prod"
auth_debug = true

[[api.route]]
key = "ANY /{{proxy+}}"
integration = {{ type = "mock", body = "ok" }}

[[api.route]]
key = "GET /keyed"
api_key_required = true
integration = {{ type = "mock", body = "keyed" }}
"#
    )
}

/// One GET from `from` (bound before connecting) to `to`.
fn get_from(from: &str, to: SocketAddr, path: &str, extra: &str) -> Response {
    let local: SocketAddr = format!("{from}:0").parse().unwrap_or_else(|_| format!("[{from}]:0").parse().unwrap());
    let socket = socket2::Socket::new(socket2::Domain::for_address(to), socket2::Type::STREAM, None).unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect_timeout(&to.into(), Duration::from_secs(5)).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut client = Client { reader: std::io::BufReader::new(stream) };
    client.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").as_bytes());
    client.read_response().expect("a response")
}

fn denied(r: &Response, arn_path: &str, explicit: bool) {
    let arn = format!("arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/{arn_path}");
    let suffix = if explicit { " with an explicit deny" } else { "" };
    let body = format!(
        r#"{{"message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}{suffix}"}}"#
    );
    assert_eq!((r.status, r.text()), (403, body));
    assert_eq!(r.header("x-amzn-ErrorType"), Some("AccessDeniedException"));
}

#[test]
fn policies_allow_and_deny_by_address_and_arn() {
    for driver in DRIVERS {
        let v6_port = free_port();
        let gw = Gateway::start(&config(v6_port, ""), driver);
        let v4 = gw.addr();
        let v6: SocketAddr = format!("[::1]:{v6_port}").parse().unwrap();

        // The allow list: GETs from 127.0.0.0/8 only.
        assert_eq!(get_from("127.0.0.1", v4, "/prod/pets", "").status, 200);
        let r = get_from("::1", v6, "/prod/pets", "");
        denied(&r, "pets", false);
        assert!(r.header("x-portico-auth-reason").unwrap().contains("from ::1"));
        // Public paths from anywhere; IPv6 denied one of them explicitly.
        assert_eq!(get_from("::1", v6, "/prod/public/x", "").status, 200);
        denied(&get_from("::1", v6, "/prod/public/blocked", ""), "public/blocked", true);
        assert_eq!(get_from("127.0.0.1", v4, "/prod/public/blocked", "").status, 200);
        // The deny list: admin only from 127.0.0.2; explicit deny wins over the GET allow.
        denied(&get_from("127.0.0.1", v4, "/prod/admin/users", ""), "admin/users", true);
        assert_eq!(get_from("127.0.0.2", v4, "/prod/admin/users", "").status, 200);
        // Before the API key: a denied request is the policy's 403, not the key's.
        denied(&get_from("::1", v6, "/prod/keyed", "x-api-key: nope\r\n"), "keyed", false);
        // X-Forwarded-For from a peer that is not a trusted proxy is not believed.
        denied(&get_from("::1", v6, "/prod/pets", "X-Forwarded-For: 127.0.0.1\r\n"), "pets", false);
        let r = get_from("127.0.0.1", v4, "/prod/admin/users", "X-Forwarded-For: 127.0.0.2\r\n");
        assert_eq!(r.status, 403, "a forged X-Forwarded-For does not reach admin");
        drop(gw);
    }
}

#[test]
fn a_trusted_proxy_forwards_the_client_address() {
    let v6_port = free_port();
    let _gw = Gateway::start(&config(v6_port, "\"::1/128\""), Driver::Uring);
    let v6: SocketAddr = format!("[::1]:{v6_port}").parse().unwrap();
    assert_eq!(get_from("::1", v6, "/prod/pets", "X-Forwarded-For: 127.0.0.9\r\n").status, 200);
    denied(&get_from("::1", v6, "/prod/pets", "X-Forwarded-For: 127.0.0.9, 192.0.2.7\r\n"), "pets", false);
    denied(&get_from("::1", v6, "/prod/pets", ""), "pets", false);
}

#[test]
fn bad_policies_are_refused_with_a_reason() {
    let api = |protocol: &str, policy: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[api]]\nname = \"a\"\nprotocol = \"{protocol}\"\nresource_policy = '''{policy}'''\n[[api.stage]]\nname = \"p\"\n[[api.route]]\nkey = \"GET /x\"\nintegration = {{ type = \"mock\" }}\n"
        )
    };
    let statement = |s: &str| format!(r#"{{"Statement": [{s}]}}"#);
    let ok = statement(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}"#,
    );
    assert!(check(&api("rest", &ok)).0);
    for (protocol, policy, expected) in [
        ("http", ok.clone(), "HTTP APIs have no resource policies"),
        ("rest", "{not json".into(), "is not JSON"),
        (
            "rest",
            statement(
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:user/a"}, "Action": "execute-api:Invoke", "Resource": "*"}"#,
            ),
            "only `\"Principal\": \"*\"`",
        ),
        (
            "rest",
            statement(
                r#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "300.1.1.1"}}}"#,
            ),
            "not an address or CIDR",
        ),
        (
            "rest",
            statement(
                r#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "x"}}}"#,
            ),
            "`StringEquals` is not supported",
        ),
        (
            "rest",
            statement(r#"{"Effect": "Maybe", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"}"#),
            "Allow or Deny",
        ),
        (
            "rest",
            statement(r#"{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "NotResource": "*"}"#),
            "`NotResource`",
        ),
    ] {
        let (ok, errors) = check(&api(protocol, &policy));
        assert!(!ok && errors.contains(expected), "{expected}: {errors}");
    }
}
