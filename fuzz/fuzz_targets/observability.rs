#![no_main]
//! Access log templates (compile and render, with hostile values), `traceparent` values, and the
//! `/metrics` text `portico top` reads.
use libfuzzer_sys::fuzz_target;
use portico::access_log::format::{self, Fields};
use portico::config::log_format;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parts) = log_format::compile(&text, |n| (n == "v").then(|| "x".to_owned())) {
        // An authorizer's values are the input too: claims and context keys of any name.
        let authorized =
            portico::context::auth::Authorized::Function(std::rc::Rc::new(portico::context::auth::FunctionIdentity {
                principal: Some(text.to_string()),
                context: parts_names(&parts)
                    .into_iter()
                    .map(|n| (n, serde_json::Value::String(text.to_string()).to_string()))
                    .collect(),
                usage_key: None,
            }));
        let fields = Fields {
            request_id: "id",
            source_ip: "::1".parse().unwrap(),
            user_agent: Some(data),
            method: data,
            route_key: &text,
            resource_path: &text,
            path: data,
            protocol: "HTTP/1.1",
            status: 200,
            response_length: data.len() as u64,
            latency_us: u64::MAX,
            integration_latency_us: None,
            integration_status: Some(502),
            integration_error: Some(&text),
            error: Some((&text, "X")),
            time_ms: u64::MAX,
            stage: &text,
            api: &text,
            host: Some(data),
            trace_id: None,
            client_cert: None,
            api_key: None,
            authorized: &authorized,
            authorizer_error: Some(&text),
            validation_error: Some(&text),
            websocket: Some(portico::vars::WebSocketEvent {
                connection_id: &text,
                event_type: "MESSAGE",
                message_id: Some(&text),
                connected_at_ms: u64::MAX,
            }),
        };
        let mut out = Vec::new();
        format::render(&mut out, &parts, log_format::is_json(&parts), &fields);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1 + parts_newlines(&parts), "a value added a line");
    }
    let _ = portico::trace::TraceContext::continue_or_start(Some(data));
    let _ = portico::top::parse(&text);
});

/// Newlines the template's own text contains (values must add none).
fn parts_newlines(parts: &[format::Part]) -> usize {
    parts
        .iter()
        .map(|p| match p {
            format::Part::Literal(l) => l.matches('\n').count(),
            format::Part::Var(_) | format::Part::Claim(_) | format::Part::AuthorizerValue(_) => 0,
        })
        .sum()
}

/// The `$context.authorizer.<key>` names the template uses.
fn parts_names(parts: &[format::Part]) -> Vec<String> {
    parts.iter().filter_map(|p| if let format::Part::AuthorizerValue(k) = p { Some(k.clone()) } else { None }).collect()
}
