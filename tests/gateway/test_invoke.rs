//! `portico test-invoke` as a user runs it: the README's command line over a real config, the
//! integration request shown as the gateway writes it (SigV4-signed for an AWS service), the
//! integration called (a loopback SQS stand-in that checks the signature with botocore) unless
//! `--no-call`, and the method response the client would get.

use crate::services::{Sqs, config, with_credentials};
use crate::support::*;

fn test_invoke(config: &str, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = std::iter::once("test-invoke").chain(args.iter().copied()).collect();
    with_credentials("test-invoke", config, &args)
}

#[test]
fn test_invoke_shows_the_integration_request_and_the_mapped_response() {
    let sqs = Sqs::start(&["AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "tok"]);
    let config = config(sqs.addr);

    let (ok, out) = test_invoke(&config, &["--route", "POST /orders", "--body", "@order.json"]);
    assert!(ok, "{out}");
    assert!(out.contains("-> aws sqs in eu-west-1: POST"), "{out}");
    // The request as sent: line, mapped header, signature, rendered body.
    assert!(out.contains("POST /123456789012/orders HTTP/1.1\r\n"), "{out}");
    assert!(out.to_ascii_lowercase().contains("content-type: application/x-www-form-urlencoded\r\n"), "{out}");
    assert!(out.contains("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{out}");
    assert!(out.contains("X-Amz-Security-Token: tok\r\n"), "{out}");
    assert!(out.contains("Action=SendMessage&MessageBody=%7B%22sku%22%3A+%22a-1%22%2C+%22qty%22%3A+2%7D"), "{out}");
    // SQS took it (the signature held), and its XML was mapped.
    let last = sqs.messages().last().cloned().expect("a queued message");
    assert_eq!(last["body"], r#"{"sku": "a-1", "qty": 2}"#);
    assert!(out.contains("== integration response\nstatus 200, text/xml"), "{out}");
    assert!(out.contains("== integration response #1 (the default)"), "{out}");
    let id = last["id"].as_str().unwrap();
    assert!(
        out.contains(&format!("HTTP/1.1 200\nContent-Type: application/json\n\n{{\"queued\": \"{id}\"}}")),
        "{out}"
    );

    // --no-call: shown, not sent.
    let before = sqs.messages().len();
    let (ok, out) = test_invoke(&config, &["--route", "POST /orders", "--body", "{}", "--no-call"]);
    assert!(ok && out.contains("MessageBody=%7B%7D") && out.contains("== not called"), "{out}");
    assert_eq!(sqs.messages().len(), before);

    // A content type without a template under `never`: AWS's 415, before anything is sent.
    let strict = config.replacen(
        "[[api.route.integration.responses]]",
        "passthrough = \"never\"\n[[api.route.integration.responses]]",
        1,
    );
    let (ok, out) = test_invoke(&strict, &["--route", "POST /orders", "-H", "Content-Type: text/plain", "--body", "x"]);
    assert!(!ok && out.contains("HTTP/1.1 415"), "{out}");

    // Mistakes say what to do.
    let (ok, out) = test_invoke(&config, &["--route", "POST /nope"]);
    assert!(!ok && out.contains("no API has a route `POST /nope`"), "{out}");
}

#[test]
fn test_invoke_runs_function_and_http_mappings() {
    let f = Upstream::start(|seen| {
        let event: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        if event["item"] == "missing" {
            function_answer(r#"{"errorMessage":"Order Not Found: 7"}"#, "X-Amz-Function-Error: Unhandled\r\n")
        } else {
            function_answer(r#"{"saved":true}"#, "")
        }
    });
    let config = crate::nonproxy::config(f.addr, f.addr);
    let (ok, out) = test_invoke(
        &config,
        &[
            "--route",
            "POST /orders/{id}",
            "--path",
            "/orders/9",
            "-H",
            "Content-Type: application/json",
            "--body",
            r#"{"item":"missing"}"#,
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("-> function orders (non-proxy)"), "{out}");
    assert!(out.contains(r#"{"id": "9", "item": "missing"}"#), "the event: {out}");
    assert!(out.contains(r#"selector "Order Not Found: 7""#), "{out}");
    assert!(out.contains(r#"== integration response #2 (selection_pattern ".*Not Found.*")"#), "{out}");
    assert!(
        out.contains("HTTP/1.1 404\nContent-Type: application/json\n\n{\"error\": \"Order Not Found: 7\"}"),
        "{out}"
    );

    // A route with parameters needs their values.
    let (ok, out) = test_invoke(&config, &["--route", "POST /orders/{id}"]);
    assert!(!ok && out.contains("give --path"), "{out}");
}
