#![no_main]
//! The event written for any request parts (method, paths, query, headers, body — any bytes,
//! both payload formats, REST or HTTP API): never a panic, always one JSON object that the
//! Lambda runtime types could read.
use libfuzzer_sys::fuzz_target;
use portico::function::event::{Request, write};
use portico::function::result::PayloadFormat;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xff);
    let mut next = || parts.next().unwrap_or_default();
    let (flags, method, path, query, header_blob, body) = (next(), next(), next(), next(), next(), next());
    let flag = |bit: u8| flags.first().is_some_and(|f| f & bit != 0);
    let headers: Vec<(&[u8], &[u8])> = header_blob
        .split(|&b| b == b'\n')
        .map(|line| match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &line[line.len()..]),
        })
        .collect();
    let params = [("proxy", path)];
    let variables = [("alias".to_owned(), String::from_utf8_lossy(query).into_owned())];
    let claims = portico::context::auth::JwtClaims {
        claims: vec![(String::from_utf8_lossy(query).into_owned(), String::from_utf8_lossy(body).into_owned())],
        scopes: vec![String::from_utf8_lossy(path).into_owned()],
        expires_s: 0,
        not_before_s: 0,
        principal: None,
    };
    let identity = portico::context::auth::FunctionIdentity {
        principal: Some(String::from_utf8_lossy(method).into_owned()),
        context: vec![(
            String::from_utf8_lossy(query).into_owned(),
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned()).to_string(),
        )],
        usage_key: None,
    };
    for format in [PayloadFormat::V1, PayloadFormat::V2] {
        let request = Request {
            format,
            rest: flag(1),
            method,
            full_path: path,
            path,
            query: flag(2).then_some(query),
            headers: &headers,
            route_key: "ANY /{proxy+}",
            path_parameters: if flag(4) { &params } else { &[] },
            stage: "prod",
            stage_variables: if flag(8) { &variables } else { &[] },
            body: flag(16).then_some(body),
            base64: flag(32),
            request_id: "id",
            extended_request_id: "ext",
            time_ms: u64::from_le_bytes(flags.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8])) % (1 << 45),
            source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            api_id: "api",
            domain_name: method,
            api_key: flag(64).then_some(("id", "value")),
            client_cert: None,
            protocol: "HTTP/1.1",
            jwt: flag(128).then_some(&claims),
            function_identity: flag(128).then_some(&identity),
            iam: None,
        };
        let mut out = Vec::new();
        write(&mut out, &request);
        let value: serde_json::Value = serde_json::from_slice(&out).expect("the event is JSON");
        assert!(value.is_object());
    }
});
