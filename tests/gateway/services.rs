//! AWS service integrations (`type = "aws"`), the seed's API Gateway → SQS example, over real
//! sockets: the request rendered by its template, SigV4-signed and sent to a loopback stand-in
//! for SQS that recomputes every signature with botocore and answers as SQS's API does (its XML
//! query protocol and its JSON protocol); SQS's answer mapped back by the integration responses.

use std::net::SocketAddr;

use serde_json::Value;

use crate::support::*;

/// The botocore-checking stand-in for SQS, with these credentials.
pub struct Sqs {
    /// Runs as long as this does.
    _stub: PyStub,
    pub addr: SocketAddr,
}

impl Sqs {
    pub fn start(args: &[&str]) -> Sqs {
        let stub = PyStub::start("sqs_stub.py", args);
        Sqs { addr: stub.addr, _stub: stub }
    }

    pub fn messages(&self) -> Vec<Value> {
        let (status, body) = http_get(self.addr, "/_messages");
        assert_eq!(status, 200);
        serde_json::from_str(&body).unwrap()
    }
}

pub fn config(sqs: SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"

[[api.route]]
key = "POST /orders"
[api.route.integration]
type = "aws"
uri = "arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders"
endpoint = "http://{sqs}"
access_key_id_env = "TEST_AKID"
secret_access_key_env = "TEST_SECRET"
session_token_env = "TEST_TOKEN"
request_parameters = {{ "integration.request.header.Content-Type" = "'application/x-www-form-urlencoded'" }}
request_templates = {{ "application/json" = 'Action=SendMessage&MessageBody=$util.urlEncode($input.body)' }}
[[api.route.integration.responses]]
status = 200
templates = {{ "application/json" = '#set($id = $input.body.replaceAll(".*<MessageId>(.*)</MessageId>.*", "$1")){{"queued": "$id"}}' }}
[[api.route.integration.responses]]
selection_pattern = "4\\d{{2}}"
status = 502
templates = {{ "application/json" = '{{"error": "the queue refused the message"}}' }}

[[api.route]]
key = "POST /orders/json"
[api.route.integration]
type = "aws"
uri = "arn:aws:apigateway:eu-west-1:sqs:action/SendMessage"
endpoint = "http://{sqs}"
access_key_id_env = "TEST_AKID"
secret_access_key_env = "TEST_SECRET"
session_token_env = "TEST_TOKEN"
request_parameters = {{ "integration.request.header.X-Amz-Target" = "'AmazonSQS.SendMessage'", "integration.request.header.Content-Type" = "'application/x-amz-json-1.0'" }}
request_templates = {{ "application/json" = '{{"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders", "MessageBody": "$util.escapeJavaScript($input.body)"}}' }}
"#
    )
}

fn start(sqs: &Sqs, secret: &str, driver: Driver) -> Gateway {
    let dir = temp_path("sqs");
    std::fs::create_dir_all(&dir).unwrap();
    let env =
        [("TEST_AKID", "AKIDEXAMPLE".to_owned()), ("TEST_SECRET", secret.to_owned()), ("TEST_TOKEN", "tok".to_owned())];
    Gateway::start_in(&dir, &config(sqs.addr), driver, &env)
}

fn post(gw: &Gateway, target: &str, body: &str) -> Response {
    gw.send(
        format!(
            "POST {target} HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

#[test]
fn messages_reach_sqs_signed_as_botocore_signs_them() {
    let sqs = Sqs::start(&["AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "tok"]);
    for driver in DRIVERS {
        let gw = start(&sqs, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", driver);
        let order = r#"{"sku": "a-1", "note": "50% off & free"}"#;
        let r = post(&gw, "/prod/orders", order);
        assert_eq!(r.status, 200, "{driver:?}: {} {}", r.text(), gw.log());
        let queued: Value = serde_json::from_slice(&r.body).expect("the response template's JSON");
        let last = sqs.messages().last().cloned().unwrap();
        assert_eq!(last["body"], order, "the message is the request body, decoded by SQS");
        assert_eq!(last["queue"], "/123456789012/orders");
        assert_eq!(last["protocol"], "query");
        assert_eq!(queued["queued"], last["id"], "SQS's MessageId, from its XML answer");

        // The JSON protocol, with the action in the ARN and the target header mapped.
        let r = post(&gw, "/prod/orders/json", order);
        assert_eq!(r.status, 200, "{}", r.text());
        let answer: Value = serde_json::from_slice(&r.body).unwrap();
        let last = sqs.messages().last().cloned().unwrap();
        assert_eq!((last["body"].as_str(), last["protocol"].as_str()), (Some(order), Some("json")));
        assert_eq!(answer["MessageId"], last["id"]);
    }
}

#[test]
fn a_bad_signature_is_refused_by_the_service_and_mapped() {
    let sqs = Sqs::start(&["AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "tok"]);
    let before = sqs.messages().len();
    let gw = start(&sqs, "not-the-secret", Driver::Legacy);
    let r = post(&gw, "/prod/orders", r#"{"sku":"x"}"#);
    assert_eq!((r.status, r.text().as_str()), (502, r#"{"error": "the queue refused the message"}"#));
    // No integration response for SQS's 403 on the JSON route: its answer passes through.
    let r = post(&gw, "/prod/orders/json", r#"{"sku":"x"}"#);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("SignatureDoesNotMatch"), "{}", r.text());
    assert_eq!(sqs.messages().len(), before, "nothing was queued");
}

#[test]
fn service_integrations_are_checked() {
    let env_config = |replace: (&str, &str)| config("127.0.0.1:9".parse().unwrap()).replace(replace.0, replace.1);
    let cases = [
        (
            ("arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders", "sqs:orders"),
            "is not an AWS service integration URI",
        ),
        (
            ("arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders", "arn:aws:apigateway:eu-west-1:lambda:path/x"),
            "a Lambda function is a [[function]]",
        ),
        (
            ("access_key_id_env = \"TEST_AKID\"", "access_key_id_env = \"PORTICO_NOT_SET\""),
            "`PORTICO_NOT_SET` is not set",
        ),
    ];
    for ((from, to), expected) in cases {
        let (ok, out) = check_with_env(&env_config((from, to)));
        assert!(!ok && out.contains(expected), "{to}: {out}");
    }
    let (ok, out) =
        check_with_env(&env_config(("endpoint = \"http://127.0.0.1:9\"", "endpoint = \"http://127.0.0.1:9/x\"")));
    assert!(!ok && out.contains("has a path or query"), "{out}");
}

fn check_with_env(config: &str) -> (bool, String) {
    with_credentials("sqs-check", config, &["check"])
}

/// Runs `portico COMMAND -c FILE ARGS…` on `config` (written to a fresh folder named after
/// `name`, which is its working directory) with the stand-in's credentials in the environment:
/// whether it succeeded, and what it printed.
pub fn with_credentials(name: &str, config: &str, args: &[&str]) -> (bool, String) {
    let dir = temp_path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("portico.toml");
    std::fs::write(&path, config.replace("{port}", &free_port().to_string())).unwrap();
    std::fs::write(dir.join("order.json"), r#"{"sku": "a-1", "qty": 2}"#).unwrap();
    let (command, rest) = args.split_first().expect("a command");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .args([command, "-c", path.to_str().unwrap()])
        .args(rest)
        .current_dir(&dir)
        .env("TEST_AKID", "AKIDEXAMPLE")
        .env("TEST_SECRET", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        .env("TEST_TOKEN", "tok")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}
