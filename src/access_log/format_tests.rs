use super::*;
use crate::config::log_format::{compile, is_json, preset};

fn fields() -> Fields<'static> {
    Fields {
        request_id: "Vn3BchF1oAMEbNQ=",
        source_ip: "127.0.0.1".parse().unwrap(),
        user_agent: Some(b"curl/8 \"evil\"\nfake line"),
        method: b"GET",
        route_key: "GET /pets/{id}",
        resource_path: "/pets/{id}",
        path: b"/prod/pets/7",
        protocol: "HTTP/1.1",
        status: 200,
        response_length: 42,
        latency_us: 1_234,
        integration_latency_us: Some(900),
        integration_status: Some(200),
        integration_error: None,
        error: None,
        time_ms: 1_795_600_799_123,
        stage: "prod",
        api: "petstore",
        host: Some(b"api.example.com"),
        trace_id: None,
        client_cert: None,
        api_key: None,
        authorized: Box::leak(Box::new(crate::context::auth::Authorized::None)),
        authorizer_error: None,
        validation_error: None,
        websocket: None,
    }
}

fn line(template: &str, f: &Fields<'_>) -> String {
    let parts = compile(template, |_| None).expect("compiles");
    let mut out = Vec::new();
    render(&mut out, &parts, is_json(&parts), f);
    String::from_utf8(out).unwrap()
}

#[test]
fn clf_preset_renders_like_aws() {
    let got = line(preset("clf", false).unwrap(), &fields());
    assert_eq!(
        got,
        "127.0.0.1 - - [25/Nov/2026:09:59:59 +0000] \"GET GET /pets/{id} HTTP/1.1\" 200 42 Vn3BchF1oAMEbNQ=\n"
    );
}

#[test]
fn json_values_are_escaped_and_parse() {
    let got = line(
        r#"{"ua":"$context.identity.userAgent","lat":$context.responseLatency,"err":"$context.error.message"}"#,
        &fields(),
    );
    let v: serde_json::Value = serde_json::from_str(&got).expect("valid JSON");
    assert_eq!(v["ua"], "curl/8 \"evil\"\nfake line");
    assert_eq!(v["lat"], 1);
    assert_eq!(v["err"], "-");
}

/// Regression (issue 11): every byte >= 0x80 became `\u00XX`, so `café` was logged as `cafÃ©`.
#[test]
fn non_ascii_values_keep_their_characters() {
    let mut f = fields();
    for (agent, want) in [
        (&b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"[..], "café € 😀"),
        (b"bad \xff\xfe end", "bad \u{fffd}\u{fffd} end"),
        (b"cut \xe2\x82", "cut \u{fffd}"),
        (b"nel \xc2\x85 ls \xe2\x80\xa8", "nel \u{85} ls \u{2028}"),
    ] {
        f.user_agent = Some(agent);
        let got = line(r#"{"ua":"$context.identity.userAgent"}"#, &f);
        let v: serde_json::Value = serde_json::from_str(&got).expect("valid JSON");
        assert_eq!(v["ua"], want, "{got}");
        assert!(!got.contains('\u{85}') && !got.contains('\u{2028}'), "separators stay escaped: {got}");
        let plain = line("$context.identity.userAgent", &f);
        assert_eq!(plain.lines().count(), 1);
        if want.starts_with("caf") {
            assert_eq!(plain, "café € 😀\n");
        }
    }
    f.user_agent = Some(b"nel \xc2\x85");
    assert_eq!(line("$context.identity.userAgent", &f), "nel \\xc2\\x85\n");
}

#[test]
fn plain_values_cannot_forge_lines_or_quotes() {
    let got = line("\"$context.identity.userAgent\"", &fields());
    assert_eq!(got, "\"curl/8 \\x22evil\\x22\\x0afake line\"\n");
}

#[test]
fn missing_values_are_dashes_and_trailing_dots_are_text() {
    let mut f = fields();
    f.integration_latency_us = None;
    f.error = Some(("Missing Authentication Token", "MISSING_AUTHENTICATION_TOKEN"));
    let got =
        line("$context.identity.caller $context.integrationLatency $context.error.messageString $context.status.", &f);
    assert_eq!(got, "- - \"Missing Authentication Token\" 200.\n");
}

#[test]
fn unknown_variables_are_errors_with_suggestions() {
    let err = compile("$context.requestID", |_| None).unwrap_err();
    assert_eq!(err.name, "$context.requestID");
    assert_eq!(err.suggestion, Some("requestId"));
    assert!(compile("$stageVariables.nope", |_| None).is_err());
    let parts = compile("v=$stageVariables.version cost $5", |n| (n == "version").then(|| "7".into())).unwrap();
    assert_eq!(parts, [Part::Literal("v=7 cost $5".into())]);
}
