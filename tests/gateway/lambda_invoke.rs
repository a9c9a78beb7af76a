//! Function integrations on the Lambda Invoke API: every request SigV4-signed, checked by a
//! loopback stand-in for Lambda that recomputes the signature with botocore's signer (the AWS SDK
//! for Python's own), over real sockets.

use std::net::SocketAddr;

use serde_json::Value;

use crate::support::*;

/// The botocore-checking stand-in for Lambda, with these credentials.
fn lambda_stub(args: &[&str]) -> PyStub {
    PyStub::start("lambda_invoke_stub.py", args)
}

fn config(stub: SocketAddr, function_name: &str, target: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[[function]]
name = "orders"
lambda = {{ function_name = "{function_name}", region = "eu-west-1", endpoint = "http://{stub}", access_key_id_env = "TEST_AKID", secret_access_key_env = "TEST_SECRET", session_token_env = "TEST_TOKEN" }}

[[api]]
name = "shop"
protocol = "rest"

[[api.stage]]
name = "prod"
variables = {{ alias = "live" }}

[[api.route]]
key = "ANY /{{proxy+}}"
integration = {{ type = "function", target = "{target}" }}
"#
    )
}

fn start(stub: &PyStub, function_name: &str, target: &str, env: &[(&str, &str)], driver: Driver) -> Gateway {
    let dir = temp_path("lambda");
    std::fs::create_dir_all(&dir).unwrap();
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    Gateway::start_in(&dir, &config(stub.addr, function_name, target), driver, &env)
}

const KEYS: &[(&str, &str)] =
    &[("TEST_AKID", "AKIDEXAMPLE"), ("TEST_SECRET", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")];

#[test]
fn invocations_are_signed_as_botocore_signs_them() {
    let stub = lambda_stub(&["AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1"]);
    for driver in DRIVERS {
        // An alias from a stage variable goes as the qualifier.
        let gw = start(&stub, "orders", "orders:${stageVariables.alias}", KEYS, driver);
        let r = gw.get("/prod/pets/7?x=a%20b");
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        let e: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (e["function"].as_str(), e["qualifier"].as_str(), e["path"].as_str()),
            (Some("orders"), Some("live"), Some("/pets/7"))
        );
        // An ARN: its colons are encoded in the path, and encoded again in what is signed.
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders";
        let gw = start(&stub, arn, "orders", KEYS, driver);
        let r = gw.get("/prod/x");
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        let e: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!((e["function"].as_str(), e["qualifier"].as_str()), (Some(arn), None));
    }
}

#[test]
fn temporary_credentials_sign_their_token() {
    let stub = lambda_stub(&["ASIATEMP", "tempsecret", "eu-west-1", "the-session-token"]);
    let env = [("TEST_AKID", "ASIATEMP"), ("TEST_SECRET", "tempsecret"), ("TEST_TOKEN", "the-session-token")];
    let admin = free_port();
    let dir = temp_path("lambda");
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(stub.addr, "orders", "orders") + &format!("\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n");
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let gw = Gateway::start_in(&dir, &config, Driver::Uring, &env);
    let r = gw.get("/prod/x");
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, shown) = http_get(SocketAddr::from(([127, 0, 0, 1], admin)), "/config");
    assert!(
        shown.contains("ASIATEMP") && !shown.contains("tempsecret") && !shown.contains("the-session-token"),
        "secrets are redacted: {shown}"
    );
}

#[test]
fn lambda_refusals_and_function_errors_are_aws_answers() {
    let stub = lambda_stub(&["AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1"]);
    // A wrong secret: Lambda refuses the signature (403), the client gets 500.
    let gw =
        start(&stub, "orders", "orders", &[("TEST_AKID", "AKIDEXAMPLE"), ("TEST_SECRET", "wrong")], Driver::Legacy);
    let r = gw.get("/prod/x");
    assert_eq!((r.status, r.text().as_str()), (500, r#"{"message":"Internal server error"}"#));
    // Throttled by Lambda (429): 500, as AWS answers.
    let gw = start(&stub, "orders-throttled", "orders", KEYS, Driver::Legacy);
    assert_eq!(gw.get("/prod/x").status, 500);
    // The function failed (X-Amz-Function-Error): 502.
    let gw = start(&stub, "orders-fails", "orders", KEYS, Driver::Legacy);
    let r = gw.get("/prod/x");
    assert_eq!((r.status, r.text().as_str()), (502, r#"{"message":"Internal server error"}"#));
}

#[test]
fn missing_credentials_are_a_config_error() {
    let stub = SocketAddr::from(([127, 0, 0, 1], 9));
    let (ok, err) = check(
        &config(stub, "orders", "orders").replace("{port}", "8080").replace("TEST_AKID", "PORTICO_TEST_UNSET_VARIABLE"),
    );
    assert!(!ok);
    assert!(err.contains("environment variable `PORTICO_TEST_UNSET_VARIABLE` is not set"), "{err}");
    // A qualifier on a function that is not Lambda's has no meaning: named functions only.
    let (ok, err) = check(&config(stub, "orders", "nothing:live").replace("{port}", "8080"));
    assert!(!ok && err.contains("no function is named `nothing:live`"), "{err}");
}
