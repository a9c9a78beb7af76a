//! `authorization = "AWS_IAM"`: SigV4 as AWS's own signer (botocore) and `awscurl` sign it —
//! header and presigned forms, session tokens, bodies — and every way it fails: a tampered
//! header, body or query, a date outside the 5-minute skew, a presigned URL replayed after it
//! expired, an unknown key, a wrong secret, no signature; each with AWS's error type and message.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

const KEY: &str = "AKIAPORTICOTEST00001";
const SECRET: &str = "portico/test+secret/0000000000000000000000";
const TEMP_KEY: &str = "ASIAPORTICOTEST00002";
const TEMP_SECRET: &str = "portico/temporary/secret/00000000000000000";
const TOKEN: &str = "FwoGZXIvYXdzEPortico//session+token==";

fn config(backend: std::net::SocketAddr, log: &std::path::Path) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[[iam_credential]]
access_key_id = "{KEY}"
secret_access_key_env = "PORTICO_TEST_SECRET"
principal_arn = "arn:aws:iam::123456789012:user/alice"
caller = "AIDAALICE"

[[iam_credential]]
access_key_id = "{TEMP_KEY}"
secret_access_key_env = "PORTICO_TEST_TEMP_SECRET"
session_token_env = "PORTICO_TEST_TOKEN"
principal_arn = "arn:aws:iam::123456789012:role/deployer"

[[function]]
name = "backend"
url = "http://{backend}/"

[[api]]
name = "shop"
protocol = "rest"

[[api.stage]]
name = "prod"
auth_debug = true
access_log = {{ destination = "{log}", format = "$context.status $context.identity.userArn $context.identity.accessKey $context.identity.caller" }}

[[api.route]]
key = "ANY /orders"
authorization = "AWS_IAM"
integration = {{ type = "mock", body = "ok" }}

[[api.route]]
key = "GET /whoami"
authorization = "AWS_IAM"
integration = {{ type = "function", target = "backend" }}

[[api.route]]
key = "GET /open"
integration = {{ type = "mock", body = "open" }}
"#,
        log = log.display()
    )
}

fn start(backend: &Upstream) -> (Gateway, std::path::PathBuf) {
    let dir = temp_path("iam");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let env = [
        ("PORTICO_TEST_SECRET", SECRET.to_owned()),
        ("PORTICO_TEST_TEMP_SECRET", TEMP_SECRET.to_owned()),
        ("PORTICO_TEST_TOKEN", TOKEN.to_owned()),
    ];
    (Gateway::start_in(&dir, &config(backend.addr, &log), Driver::Uring, &env), log)
}

/// Signs and sends one request with botocore.
fn send(gw: &Gateway, mut spec: Value) -> (u16, String, Value) {
    let path = spec["path"].as_str().unwrap_or("/prod/orders").to_owned();
    spec["url"] = json!(format!("http://127.0.0.1:{}{path}", gw.port));
    if spec.get("key").is_none() {
        spec["key"] = json!(KEY);
        spec["secret"] = json!(SECRET);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sigv4_client.py");
    let out =
        Command::new("python3").arg(script).arg(spec.to_string()).output().expect("python3 (pip install botocore)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["status"].as_u64().unwrap() as u16, v["body"].as_str().unwrap().to_owned(), v["headers"].clone())
}

fn message(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["message"].as_str().unwrap_or("").to_owned()
}

#[test]
fn botocore_signatures_pass_and_every_tampering_fails() {
    let backend = event_echo();
    let (gw, log) = start(&backend);

    // Signed requests pass: GET, POST with a body and headers, a query, a session token.
    let (status, body, _) = send(&gw, json!({}));
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, _, _) = send(
        &gw,
        json!({"method": "POST", "body": "{\"item\":1}", "headers": {"Content-Type": "application/json", "X-Custom": "a  b"}}),
    );
    assert_eq!(status, 200);
    let (status, _, _) = send(&gw, json!({"path": "/prod/orders?b=2&a=x%20y&a=1"}));
    assert_eq!(status, 200);
    let (status, _, _) = send(&gw, json!({"key": TEMP_KEY, "secret": TEMP_SECRET, "token": TOKEN}));
    assert_eq!(status, 200, "a temporary credential with its token");

    let invalid = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    let refused = |spec: Value, error_type: &str, expected: &str| {
        let (status, body, headers) = send(&gw, spec.clone());
        assert_eq!(status, 403, "{spec}: {body}");
        assert_eq!(headers["x-amzn-errortype"], error_type, "{spec}");
        let got = message(&body);
        assert!(got.starts_with(expected), "{spec}: {got}");
        headers["x-portico-auth-reason"].as_str().unwrap_or("").to_owned()
    };
    // Tampered after signing.
    refused(
        json!({"headers": {"X-Custom": "a"}, "tamper": {"header": ["X-Custom", "b"]}}),
        "InvalidSignatureException",
        invalid,
    );
    let reason = refused(
        json!({"method": "POST", "body": "{\"amount\":1}", "tamper": {"body": "{\"amount\":9}"}}),
        "InvalidSignatureException",
        invalid,
    );
    assert!(reason.contains("canonical request"), "{reason}");
    refused(json!({"tamper": {"query": "admin=true"}}), "InvalidSignatureException", invalid);
    refused(json!({"secret": "not-the-secret", "key": KEY}), "InvalidSignatureException", invalid);
    // Dates: AWS's messages, both ways.
    refused(json!({"skew_s": -600}), "InvalidSignatureException", "Signature expired: ");
    let (_, body, _) = send(&gw, json!({"skew_s": -600}));
    assert!(message(&body).ends_with(" - 5 min.)"), "{body}");
    refused(json!({"skew_s": 600}), "InvalidSignatureException", "Signature not yet current: ");
    // Credentials.
    refused(
        json!({"key": "AKIAUNKNOWN000000000", "secret": SECRET}),
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    refused(json!({"key": TEMP_KEY, "secret": TEMP_SECRET}), "UnrecognizedClientException", "The security token");
    refused(
        json!({"key": TEMP_KEY, "secret": TEMP_SECRET, "token": "forged"}),
        "UnrecognizedClientException",
        "The security token",
    );
    // No signature at all; another scheme.
    let r = gw.get("/prod/orders");
    assert_eq!((r.status, r.text().as_str()), (403, r#"{"message":"Missing Authentication Token"}"#));
    assert_eq!(r.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"));
    let r = gw.send(b"GET /prod/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n");
    assert_eq!(r.header("x-amzn-ErrorType"), Some("IncompleteSignatureException"));
    let r = gw.send(b"GET /prod/orders HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (403, r#"{"message":"Only one Authorization header is allowed."}"#));
    assert_eq!(gw.get("/prod/open").status, 200, "other routes need nothing");

    // Who signed reaches the function and the access log.
    let (status, body, _) = send(&gw, json!({"path": "/prod/whoami"}));
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(&body).unwrap();
    let identity = &event["requestContext"]["identity"];
    assert_eq!(identity["userArn"], "arn:aws:iam::123456789012:user/alice");
    assert_eq!(identity["accessKey"], KEY);
    assert_eq!(identity["caller"], "AIDAALICE");
    assert_eq!(identity["accountId"], "123456789012");
    assert!(event["headers"].get("Authorization").is_none(), "a verified signature is not passed on");
    assert!(event["headers"].get("X-Amz-Date").is_some());
    let lines = eventually(std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(&log).ok().filter(|t| t.contains("200 arn:aws:iam::123456789012:user/alice"))
    });
    assert!(lines.is_some_and(|l| l.contains(&format!("user/alice {KEY} AIDAALICE"))));
}

#[test]
fn presigned_urls_work_until_they_expire() {
    let backend = Upstream::start(|_| ok_json("{}"));
    let (gw, _) = start(&backend);
    let (status, body, _) = send(&gw, json!({"mode": "presign", "expires": 300}));
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, _, _) =
        send(&gw, json!({"mode": "presign", "expires": 300, "key": TEMP_KEY, "secret": TEMP_SECRET, "token": TOKEN}));
    assert_eq!(status, 200, "with a session token in the query");
    // Signed 400 s ago for 300 s: replayed after it expired.
    let (status, body, headers) = send(&gw, json!({"mode": "presign", "expires": 300, "skew_s": -400}));
    assert_eq!(status, 403, "{body}");
    assert_eq!(headers["x-amzn-errortype"], "InvalidSignatureException");
    assert!(message(&body).starts_with("Signature expired"), "{body}");
    // Inside its lifetime, even though older than the 5-minute skew.
    let (status, _, _) = send(&gw, json!({"mode": "presign", "expires": 900, "skew_s": -400}));
    assert_eq!(status, 200);
    let (status, _, _) = send(&gw, json!({"mode": "presign", "expires": 300, "tamper": {"query": "extra=1"}}));
    assert_eq!(status, 403, "a parameter added to a presigned URL");
}

#[test]
fn awscurl_signs_as_a_user_would() {
    let available = Command::new("awscurl").arg("--help").output().is_ok_and(|o| o.status.success());
    assert!(available, "awscurl is installed by the test set-up (pip install awscurl)");
    let backend = Upstream::start(|_| ok_json("{}"));
    let (gw, _) = start(&backend);
    let url = format!("http://127.0.0.1:{}/prod/orders", gw.port);
    let out = Command::new("awscurl")
        .args([
            "--service",
            "execute-api",
            "--region",
            "eu-west-1",
            "--access_key",
            KEY,
            "--secret_key",
            SECRET,
            "-X",
            "POST",
            "-d",
            "{\"n\":1}",
            &url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let out = Command::new("awscurl")
        .args(["--service", "execute-api", "--region", "eu-west-1", "--access_key", KEY, "--secret_key", "wrong", &url])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("The request signature we calculated does not match"));
}

#[test]
fn iam_configs_are_checked() {
    let route = "[[api]]\nname = \"a\"\nprotocol = \"rest\"\n[[api.stage]]\nname = \"p\"\n[[api.route]]\nkey = \"GET /x\"\nauthorization = \"AWS_IAM\"\nintegration = { type = \"mock\" }\n";
    let (ok, errors) = check(route);
    assert!(!ok && errors.contains("no [[iam_credential]] is configured"), "{errors}");
    let cred = "[[iam_credential]]\naccess_key_id = \"AKIAPORTICOTEST00001\"\nsecret_access_key_env = \"PORTICO_NOT_SET_ANYWHERE\"\nprincipal_arn = \"arn:aws:iam::123456789012:user/a\"\n";
    let (ok, errors) = check(&format!("{cred}{route}"));
    assert!(!ok && errors.contains("`PORTICO_NOT_SET_ANYWHERE` is not set"), "{errors}");
    let (ok, errors) = check(&format!("{}{route}", cred.replace("arn:aws:iam::123456789012:user/a", "alice")));
    assert!(!ok && errors.contains("not an IAM principal ARN"), "{errors}");
    let (ok, errors) = check(&route.replace("AWS_IAM", "AWS_IAMX"));
    assert!(!ok && errors.contains("unknown authorization"), "{errors}");
}

#[test]
fn secrets_never_show_in_the_config_view() {
    let backend = Upstream::start(|_| ok_json("{}"));
    let admin = free_port();
    let dir = temp_path("iam-admin");
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(backend.addr, &dir.join("a.log")) + &format!("\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n");
    let env = [
        ("PORTICO_TEST_SECRET", SECRET.to_owned()),
        ("PORTICO_TEST_TEMP_SECRET", TEMP_SECRET.to_owned()),
        ("PORTICO_TEST_TOKEN", TOKEN.to_owned()),
    ];
    let _gw = Gateway::start_in(&dir, &config, Driver::Uring, &env);
    let (_, shown) = http_get(std::net::SocketAddr::from(([127, 0, 0, 1], admin)), "/config");
    assert!(shown.contains(KEY) && shown.contains("arn:aws:iam::123456789012:user/alice"), "{shown}");
    assert!(
        !shown.contains(SECRET) && !shown.contains(TEMP_SECRET) && !shown.contains(TOKEN),
        "secrets are redacted: {shown}"
    );
}
