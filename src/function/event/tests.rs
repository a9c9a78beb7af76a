//! Events checked two ways: deserialised into the `aws_lambda_events` crate's types (the ones Rust
//! handlers read), field by field; and their key sets compared with events AWS itself sent
//! (`../shared/fixtures/lambda/`, captured from real APIs).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use serde_json::Value;

use super::{Request, write};
use crate::function::result::PayloadFormat;

const HEADERS: &[(&[u8], &[u8])] = &[
    (b"Host", b"api.example.com"),
    (b"User-Agent", b"curl/8.5"),
    (b"tEsT-HEADeR", b"one"),
    (b"Accept", b"*/*"),
    (b"test-header", b"two"),
    (b"Cookie", b"a=1; b=2"),
    (b"cookie", b"c=3"),
    (b"X-Quote", b"say \"hi\"\\"),
];

fn request(format: PayloadFormat, rest: bool) -> Request<'static> {
    Request {
        format,
        rest,
        method: b"POST",
        full_path: b"/prod/pets/7",
        path: b"/pets/7",
        query: Some(b"email=test%2Balias%40x.com&plus=a+b&multi=1&multi=2&flag&&bad=%zz&%E2%9C%93=ok"),
        headers: HEADERS,
        route_key: "POST /pets/{id}",
        path_parameters: &[("id", b"7")],
        stage: "prod",
        stage_variables: &[],
        body: Some(b"{\"name\":\"rex\"}"),
        base64: false,
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        extended_request_id: "IkBKvGbJoAMF5Ew=",
        time_ms: 1_583_349_317_135,
        source_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        api_id: "petstore",
        domain_name: b"api.example.com",
        api_key: None,
        client_cert: None,
        protocol: "HTTP/1.1",
        jwt: None,
        function_identity: None,
        iam: None,
    }
}

fn event(r: &Request<'_>) -> Value {
    let mut out = Vec::new();
    write(&mut out, r);
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

fn typed<T: serde::de::DeserializeOwned>(r: &Request<'_>) -> T {
    let mut out = Vec::new();
    write(&mut out, r);
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/lambda").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn rest_event_reads_into_the_rust_runtime_types() {
    let r = request(PayloadFormat::V1, true);
    let e: ApiGatewayProxyRequest = typed(&r);
    assert_eq!(e.resource.as_deref(), Some("/pets/{id}"));
    assert_eq!(e.path.as_deref(), Some("/pets/7"));
    assert_eq!(e.http_method.as_str(), "POST");
    // The first spelling of a name, its last value; all values in multiValueHeaders.
    assert_eq!(e.headers.get("test-header").unwrap(), "two");
    assert_eq!(e.headers.get_all("cookie").iter().count(), 1);
    let multi: Vec<_> = e.multi_value_headers.get_all("test-header").iter().collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(e.headers.get("x-quote").unwrap(), "say \"hi\"\\");
    // Query names and values decoded; the last value single, all multi.
    assert_eq!(e.query_string_parameters.first("email"), Some("test+alias@x.com"));
    assert_eq!(e.query_string_parameters.first("plus"), Some("a b"));
    assert_eq!(e.query_string_parameters.all("multi"), Some(vec!["2"]));
    assert_eq!(e.multi_value_query_string_parameters.all("multi"), Some(vec!["1", "2"]));
    assert_eq!(e.query_string_parameters.first("flag"), Some(""));
    assert_eq!(e.query_string_parameters.first("bad"), Some("%zz"));
    assert_eq!(e.query_string_parameters.first("✓"), Some("ok"));
    assert_eq!(e.path_parameters.get("id").map(String::as_str), Some("7"));
    assert!(e.stage_variables.is_empty());
    assert_eq!(e.body.as_deref(), Some("{\"name\":\"rex\"}"));
    assert!(!e.is_base64_encoded);
    let c = &e.request_context;
    assert_eq!(c.account_id.as_deref(), Some(super::ACCOUNT_ID));
    assert_eq!(c.apiid.as_deref(), Some("petstore"));
    assert_eq!(c.stage.as_deref(), Some("prod"));
    assert_eq!(c.request_id.as_deref(), Some(r.request_id));
    assert_eq!(c.resource_path.as_deref(), Some("/pets/{id}"));
    assert_eq!(c.path.as_deref(), Some("/prod/pets/7"));
    assert_eq!(c.http_method.as_str(), "POST");
    assert_eq!(c.request_time.as_deref(), Some("04/Mar/2020:19:15:17 +0000"));
    assert_eq!(c.request_time_epoch, 1_583_349_317_135);
    assert_eq!(c.domain_name.as_deref(), Some("api.example.com"));
    assert_eq!(c.domain_prefix.as_deref(), Some("api"));
    assert_eq!(c.protocol.as_deref(), Some("HTTP/1.1"));
    assert_eq!(c.resource_id.as_ref().map(String::len), Some(6));
    assert_eq!(c.identity.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(c.identity.user_agent.as_deref(), Some("curl/8.5"));
    assert_eq!(c.identity.api_key, None);
    // What the crate does not model is what AWS sends beside it.
    let unmodelled: BTreeSet<_> = e.other.keys().chain(c.other.keys()).chain(c.identity.other.keys()).collect();
    for key in &unmodelled {
        assert!(["extendedRequestId", "principalOrgId"].contains(&key.as_str()), "unexpected key {key}");
    }
}

#[test]
fn http_api_event_reads_into_the_rust_runtime_types() {
    let mut r = request(PayloadFormat::V2, false);
    r.stage = "$default";
    r.full_path = b"/pets/7";
    r.stage_variables = &[];
    let variables = [("alias".to_owned(), "live".to_owned())];
    r.stage_variables = &variables;
    let e: ApiGatewayV2httpRequest = typed(&r);
    assert_eq!(e.version.as_deref(), Some("2.0"));
    assert_eq!(e.route_key.as_deref(), Some("POST /pets/{id}"));
    assert_eq!(e.raw_path.as_deref(), Some("/pets/7"));
    assert_eq!(e.raw_query_string.as_deref(), r.query.map(|q| std::str::from_utf8(q).unwrap()));
    // Every Cookie header, split; none among the headers.
    assert_eq!(e.cookies.as_deref(), Some(&["a=1".to_owned(), "b=2".to_owned(), "c=3".to_owned()][..]));
    assert!(e.headers.get("cookie").is_none());
    // Lower-case names, duplicates comma-joined.
    assert_eq!(e.headers.get("test-header").unwrap(), "one,two");
    // The runtime's map splits the joined value again.
    assert_eq!(e.query_string_parameters.all("multi"), Some(vec!["1", "2"]));
    assert_eq!(event(&r)["queryStringParameters"]["multi"], "1,2");
    assert_eq!(e.query_string_parameters.first("email"), Some("test+alias@x.com"));
    assert_eq!(e.path_parameters.get("id").map(String::as_str), Some("7"));
    assert_eq!(e.stage_variables.get("alias").map(String::as_str), Some("live"));
    assert_eq!(e.body.as_deref(), Some("{\"name\":\"rex\"}"));
    let c = &e.request_context;
    assert_eq!(c.route_key.as_deref(), Some("POST /pets/{id}"));
    assert_eq!(c.stage.as_deref(), Some("$default"));
    assert_eq!(c.time.as_deref(), Some("04/Mar/2020:19:15:17 +0000"));
    assert_eq!(c.time_epoch, 1_583_349_317_135);
    assert_eq!(c.http.method.as_str(), "POST");
    assert_eq!(c.http.path.as_deref(), Some("/pets/7"));
    assert_eq!(c.http.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(c.http.user_agent.as_deref(), Some("curl/8.5"));
    assert!(e.other.is_empty() && c.other.is_empty(), "{:?} {:?}", e.other, c.other);
}

#[test]
fn http_api_format_1_event_has_a_version_and_reads_as_rest() {
    let r = request(PayloadFormat::V1, false);
    let v = event(&r);
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["requestContext"]["resourceId"], Value::Null);
    let e: ApiGatewayProxyRequest = typed(&r);
    assert_eq!(e.multi_value_headers.get_all("test-header").iter().count(), 2);
}

#[test]
fn empty_maps_are_null_in_1_0_and_absent_in_2_0() {
    let mut r = request(PayloadFormat::V1, true);
    (r.query, r.path_parameters, r.body) = (None, &[], None);
    let v = event(&r);
    for key in ["queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body"]
    {
        assert_eq!(v[key], Value::Null, "{key}");
        assert!(v.as_object().unwrap().contains_key(key), "{key} missing");
    }
    r.headers = &[];
    assert_eq!(event(&r)["headers"], Value::Null);
    r.format = PayloadFormat::V2;
    r.rest = false;
    r.query = Some(b"");
    let v = event(&r);
    for key in ["queryStringParameters", "pathParameters", "stageVariables", "body", "cookies"] {
        assert!(!v.as_object().unwrap().contains_key(key), "{key} present");
    }
    assert_eq!(v["rawQueryString"], "");
}

#[test]
fn binary_bodies_are_base64() {
    for format in [PayloadFormat::V1, PayloadFormat::V2] {
        let mut r = request(format, format == PayloadFormat::V1);
        r.body = Some(&[0, 159, 146, 150, 255]);
        r.base64 = true;
        let v = event(&r);
        assert_eq!(v["isBase64Encoded"], true);
        assert_eq!(v["body"], "AJ+Slv8=");
    }
}

#[test]
fn api_keys_and_client_certificates_are_in_the_identity() {
    let cert = crate::tls::client_cert::ClientCert {
        pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        subject_dn: "CN=client".into(),
        issuer_dn: "CN=ca".into(),
        serial_number: "42".into(),
        not_before: "May 28 12:30:02 2019 GMT".into(),
        not_after: "Aug  5 09:36:04 2031 GMT".into(),
    };
    let mut r = request(PayloadFormat::V1, true);
    r.api_key = Some(("k1", "secret-value"));
    r.client_cert = Some(&cert);
    let v = event(&r);
    let identity = &v["requestContext"]["identity"];
    assert_eq!(identity["apiKey"], "secret-value");
    assert_eq!(identity["apiKeyId"], "k1");
    assert_eq!(identity["clientCert"]["clientCertPem"], cert.pem.as_str());
    assert_eq!(identity["clientCert"]["validity"]["notAfter"], "Aug  5 09:36:04 2031 GMT");
    r.format = PayloadFormat::V2;
    r.rest = false;
    let v = event(&r);
    assert_eq!(v["requestContext"]["authentication"]["clientCert"]["subjectDN"], "CN=client");
}

/// Key sets against events AWS sent from real APIs (powertools' captures): every key AWS sends
/// that has a meaning without authorizers and CloudFront is there, and nothing AWS would not send.
#[test]
fn key_sets_match_events_aws_sent() {
    // Keys of AWS's that Portico has no counterpart for (yet).
    let absent = ["deploymentId", "authorizer"];
    let cases = [
        (request(PayloadFormat::V1, true), "powertools-lambda-typescript__apigw-rest__no-auth.json"),
        (request(PayloadFormat::V2, false), "powertools-lambda-typescript__apigw-http__no-auth.json"),
        (
            request(PayloadFormat::V1, false),
            "amazon-api-gateway-developer-guide__http-api-develop-integrations-lambda__payload-1.0.json",
        ),
    ];
    for (r, name) in cases {
        let (ours, aws) = (event(&r), fixture(name));
        for (path, ours, aws) in [
            ("", &ours, &aws),
            ("requestContext", &ours["requestContext"], &aws["requestContext"]),
            ("identity", &ours["requestContext"]["identity"], &aws["requestContext"]["identity"]),
            ("http", &ours["requestContext"]["http"], &aws["requestContext"]["http"]),
        ] {
            let (ours, aws) = (keys(ours), keys(aws));
            // Keys AWS leaves out when empty (this capture had no body, query or parameters).
            let optional = [
                "body",
                "cookies",
                "queryStringParameters",
                "pathParameters",
                "stageVariables",
                "apiKey",
                "apiKeyId",
                "clientCert",
            ];
            for k in aws.difference(&ours) {
                assert!(
                    absent.contains(&k.as_str()) || optional.contains(&k.as_str()),
                    "{name} {path}: AWS sends `{k}`, Portico does not"
                );
            }
            for k in ours.difference(&aws) {
                assert!(optional.contains(&k.as_str()), "{name} {path}: Portico sends `{k}`, AWS did not");
            }
        }
    }
}

/// Grouping by sorting gives what grouping by scanning gives: every name once, in the order names
/// first appear, with its values in the order received — for many headers and query parameters.
#[test]
fn many_duplicates_group_as_received() {
    let names = ["X-A", "x-b", "x-a", "X-C", "x-B", "x-c", "x-d", "X-a"];
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut query = String::new();
    for i in 0..400 {
        let name = names[(i * 7 + i / 3) % names.len()];
        headers.push((name.as_bytes().to_vec(), format!("v{i}").into_bytes()));
        query.push_str(&format!("{}={i}&", name.to_ascii_lowercase()));
    }
    let borrowed: Vec<(&[u8], &[u8])> = headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    let mut r = request(PayloadFormat::V1, true);
    r.headers = &borrowed;
    r.query = Some(query.as_bytes());
    let e = event(&r);
    // The scanning reference.
    let mut expected: Vec<(String, Vec<String>)> = Vec::new();
    for (n, v) in &headers {
        let n = String::from_utf8(n.clone()).unwrap();
        let v = String::from_utf8(v.clone()).unwrap();
        match expected.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&n)) {
            Some((_, vs)) => vs.push(v),
            None => expected.push((n, vec![v])),
        }
    }
    let multi = e["multiValueHeaders"].as_object().unwrap();
    let keys: Vec<&String> = multi.keys().collect();
    let mut wanted: Vec<&String> = expected.iter().map(|(k, _)| k).collect();
    wanted.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, wanted);
    for (k, vs) in &expected {
        assert_eq!(multi[k], serde_json::json!(vs), "{k}");
        assert_eq!(e["headers"][k], serde_json::json!(vs.last().unwrap()), "{k}");
    }
    let q = &e["multiValueQueryStringParameters"];
    for (k, vs) in &expected {
        let lower = k.to_ascii_lowercase();
        let numbers: Vec<String> = vs.iter().map(|v| v.trim_start_matches('v').to_owned()).collect();
        assert_eq!(q[&lower], serde_json::json!(numbers), "{lower}");
    }
    // 2.0: joined in order.
    let mut r = request(PayloadFormat::V2, false);
    r.headers = &borrowed;
    let e = event(&r);
    let (k, vs) = &expected[0];
    assert_eq!(e["headers"][k.to_ascii_lowercase()], vs.join(","));
}

#[test]
fn jwt_claims_reach_both_formats_as_aws_shapes_them() {
    let claims = crate::context::auth::JwtClaims {
        claims: vec![("sub".into(), "user-7".into()), ("exp".into(), "1700000000".into()), ("q".into(), "a\"b".into())],
        scopes: vec!["read".into(), "write".into()],
        expires_s: 0,
        not_before_s: 0,
        principal: Some("user-7".into()),
    };
    let mut r = request(PayloadFormat::V2, false);
    r.jwt = Some(&claims);
    let v2 = event(&r);
    assert_eq!(v2["requestContext"]["authorizer"]["jwt"]["claims"]["sub"], "user-7");
    assert_eq!(v2["requestContext"]["authorizer"]["jwt"]["claims"]["q"], "a\"b");
    assert_eq!(v2["requestContext"]["authorizer"]["jwt"]["scopes"][1], "write");
    let typed_v2: aws_lambda_events::apigw::ApiGatewayV2httpRequest = typed(&r);
    let jwt = typed_v2.request_context.authorizer.and_then(|a| a.jwt).expect("jwt authorizer");
    assert_eq!(jwt.claims.get("exp").map(String::as_str), Some("1700000000"));
    let mut r = request(PayloadFormat::V1, true);
    r.jwt = Some(&claims);
    let v1 = event(&r);
    assert_eq!(v1["requestContext"]["authorizer"]["claims"]["sub"], "user-7");
    assert_eq!(v1["requestContext"]["authorizer"]["scopes"][0], "read");
}
