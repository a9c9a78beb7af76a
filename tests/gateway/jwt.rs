//! JWT authorizers, tried as an attacker and a flaky identity provider would: tokens minted by
//! PyJWT against keys a real HTTP issuer publishes (`tests/fixtures/jwt_issuer.py`, with OIDC
//! discovery), forged tokens (`alg: none`, HS256 keyed with the RSA public key), hostile `kid`s,
//! every claim check, scopes, a JWKS endpoint that hangs, answers garbage or rotates its keys —
//! over real sockets, on both drivers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::*;

/// The test issuer: a Python process publishing keys and minting tokens.
struct Issuer {
    child: Child,
    addr: SocketAddr,
}

impl Issuer {
    fn start() -> Issuer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt_issuer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the issuer (pip install 'pyjwt[crypto]')");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            panic!("the issuer did not start (pip install 'pyjwt[crypto]'): {line:?}");
        });
        Issuer { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn post(&self, path: &str, body: &Value) -> String {
        let body = body.to_string();
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
    }

    fn mint(&self, key: &str, alg: &str, claims: Value) -> String {
        self.post("/mint", &json!({"key": key, "alg": alg, "claims": claims}))
    }

    fn mint_with_kid(&self, key: &str, kid: &str, claims: Value) -> String {
        self.post("/mint", &json!({"key": key, "alg": "RS256", "claims": claims, "headers": {"kid": kid}}))
    }

    fn mode(&self, mode: Value) {
        self.post("/mode", &mode);
    }

    fn jwks_fetches(&self) -> u64 {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str::<Value>(body).unwrap()["jwks"].as_u64().unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Claims that pass: this issuer, the configured audience, an hour to live.
fn good(issuer: &Issuer) -> Value {
    json!({"iss": issuer.url(), "aud": "portico-tests", "sub": "user-7", "exp": now() + 3600, "iat": now() - 5,
           "scope": "read write", "email": "u7@example.com"})
}

/// An HTTP API with a JWT authorizer found by OIDC discovery: `GET /me` needs a token, `GET
/// /admin` the `admin` scope, `GET /open` nothing; `auth_debug` on, claims in the access log.
fn config(issuer: &Issuer, log: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[[api]]
name = "accounts"

[[api.authorizer]]
name = "users"
type = "jwt"
issuer = "{issuer}"
audience = ["portico-tests", "other-app"]
{extra}

[[api.stage]]
name = "$default"
auth_debug = true
access_log = {{ destination = "{log}", format = "$context.status $context.authorizer.principalId $context.authorizer.claims.email [$context.authorizer.error]" }}

[[api.route]]
key = "GET /me"
authorizer = "users"
integration = {{ type = "mock", status = 200, body = "hello" }}

[[api.route]]
key = "GET /admin"
authorizer = "users"
authorization_scopes = ["admin"]
integration = {{ type = "mock", status = 200, body = "admin" }}

[[api.route]]
key = "GET /open"
integration = {{ type = "mock", status = 200, body = "open" }}
"#,
        issuer = issuer.url(),
        log = log.display()
    )
}

fn get(gw: &Gateway, path: &str, authorization: Option<&str>) -> Response {
    let header = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    gw.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{header}\r\n").as_bytes())
}

fn reason(r: &Response) -> String {
    r.header("x-portico-auth-reason").unwrap_or("").to_owned()
}

#[test]
fn tokens_pass_and_fail_as_aws_checks_them() {
    let issuer = Issuer::start();
    for driver in DRIVERS {
        let log = temp_path("jwt-access.log");
        let gw = Gateway::start(&config(&issuer, &log, ""), driver);

        // Every algorithm the issuer signs with, `Bearer` or bare.
        for (key, alg) in [
            ("rsa-1", "RS256"),
            ("rsa-1", "RS512"),
            ("rsa-1", "PS256"),
            ("ec-256", "ES256"),
            ("ec-384", "ES384"),
            ("ed-1", "EdDSA"),
        ] {
            let token = issuer.mint(key, alg, good(&issuer));
            let r = get(&gw, "/me", Some(&format!("Bearer {token}")));
            assert_eq!((r.status, r.text().as_str()), (200, "hello"), "{alg}: {}", reason(&r));
        }
        let token = issuer.mint("rsa-1", "RS256", good(&issuer));
        assert_eq!(get(&gw, "/me", Some(&token)).status, 200, "a bare token");
        assert_eq!(get(&gw, "/open", None).status, 200, "a route without an authorizer");

        // No token: 401 before anything else.
        let r = get(&gw, "/me", None);
        assert_eq!((r.status, r.text().as_str()), (401, r#"{"message":"Unauthorized"}"#));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(reason(&r).contains("identity source header authorization missing"), "{}", reason(&r));

        let refused = |token: &str, description: &str, why: &str| {
            let r = get(&gw, "/me", Some(&format!("Bearer {token}")));
            assert_eq!(r.status, 401, "{why}: {}", r.text());
            assert_eq!(r.text(), r#"{"message":"Unauthorized"}"#);
            let challenge = format!(r#"Bearer scope="" error="invalid_token" error_description="{description}""#);
            assert_eq!(r.header("www-authenticate"), Some(challenge.as_str()), "{why}");
            let reason = reason(&r);
            assert!(!reason.contains(token), "the reason never repeats the token");
            reason
        };
        let mut claims = good(&issuer);

        // Forgeries.
        let none = issuer.post("/forge", &json!({"kind": "none", "claims": claims}));
        assert!(refused(&none, "the token's signing method is invalid", "alg none").contains("signing method none"));
        let confused = issuer.post("/forge", &json!({"kind": "hs256-public-key", "claims": claims}));
        assert!(
            refused(&confused, "the token's signing method is invalid", "HS256 with the public key").contains("HS256")
        );
        let stranger = issuer.mint("stranger", "RS256", claims.clone());
        assert!(refused(&stranger, "the token's key is unknown", "a key not in the set").contains("kid stranger"));
        // A published kid on a key it does not name: the signature fails.
        let impostor = issuer.mint_with_kid("stranger", "rsa-1", claims.clone());
        refused(&impostor, "the token signature is invalid", "another key under a published kid");
        for kid in ["../../../../etc/passwd", "' OR 1=1 --", "rsa-1\r\nX-Evil: 1"] {
            let token = issuer.mint_with_kid("rsa-1", kid, claims.clone());
            let why = refused(&token, "the token's key is unknown", kid);
            assert!(!why.contains('\r') && !why.contains('\n'), "{why}");
        }
        let mut tampered = token.clone();
        tampered.replace_range(tampered.len() - 6.., "AAAAAA");
        refused(&tampered, "the token signature is invalid", "a changed signature");
        refused("not.a.jwt", "the token is malformed", "garbage");
        refused("a.b", "the token is malformed", "two segments");

        // Claims.
        claims["exp"] = json!(now() - 60);
        let why = refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token has expired", "expired");
        assert!(why.contains("expired at"), "{why}");
        claims = good(&issuer);
        claims["nbf"] = json!(now() + 600);
        refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token is not valid yet", "nbf in the future");
        claims = good(&issuer);
        claims["iat"] = json!(now() + 600);
        refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token is not valid yet", "iat in the future");
        claims = good(&issuer);
        claims["aud"] = json!("someone-else");
        refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token does not have a valid audience", "aud");
        // AWS: `client_id` counts only without `aud`.
        claims["client_id"] = json!("portico-tests");
        refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token does not have a valid audience", "aud wins");
        claims.as_object_mut().unwrap().remove("aud");
        let r = get(&gw, "/me", Some(&issuer.mint("rsa-1", "RS256", claims.clone())));
        assert_eq!(r.status, 200, "client_id without aud: {}", reason(&r));
        claims = good(&issuer);
        claims["aud"] = json!(["x", "other-app"]);
        assert_eq!(get(&gw, "/me", Some(&issuer.mint("rsa-1", "RS256", claims.clone()))).status, 200, "aud list");
        claims = good(&issuer);
        claims["iss"] = json!("https://evil.example.com");
        refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token does not have a valid issuer", "iss");
        claims = good(&issuer);
        claims.as_object_mut().unwrap().remove("exp");
        refused(&issuer.mint("rsa-1", "RS256", claims.clone()), "the token has no expiry", "no exp");

        // Scopes: 403 without one the route names.
        let r = get(&gw, "/admin", Some(&token));
        assert_eq!((r.status, r.text().as_str()), (403, r#"{"message":"Forbidden"}"#));
        assert!(reason(&r).contains("include none of [admin]"), "{}", reason(&r));
        claims = good(&issuer);
        claims["scp"] = json!(["admin"]);
        claims.as_object_mut().unwrap().remove("scope");
        assert_eq!(get(&gw, "/admin", Some(&issuer.mint("ec-256", "ES256", claims.clone()))).status, 200, "scp");

        // A huge token is refused by the header limit before any verification.
        let huge = format!("Bearer {}", "a".repeat(100 * 1024));
        assert_eq!(get(&gw, "/me", Some(&huge)).status, 431);

        // Claims and reasons reach the access log.
        let lines = eventually(Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            (text.lines().count() >= 20).then_some(text)
        })
        .expect("access log lines");
        // Each worker buffers its own lines, so the file's order is not the requests' order.
        assert!(lines.lines().any(|l| l.starts_with("200 user-7 u7@example.com [-]")), "{lines}");
        assert!(lines.contains("401 - - [JWT authorizer users: token does not have three segments]"), "{lines}");
        drop(gw);
    }
}

#[test]
fn without_auth_debug_the_reason_stays_in_the_gateway() {
    let issuer = Issuer::start();
    let log = temp_path("jwt-quiet.log");
    let gw =
        Gateway::start(&config(&issuer, &log, "").replace("auth_debug = true", "auth_debug = false"), Driver::Uring);
    let mut claims = good(&issuer);
    claims["exp"] = json!(now() - 60);
    let r = get(&gw, "/me", Some(&issuer.mint("rsa-1", "RS256", claims)));
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-portico-auth-reason"), None);
    let text =
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&log).ok().filter(|t| !t.is_empty())).unwrap();
    assert_eq!(text.trim(), "401 - - [Unauthorized]");
}

#[test]
fn keys_rotate_without_a_restart() {
    let issuer = Issuer::start();
    let log = temp_path("jwt-rotate.log");
    // The key set's own URL, no discovery.
    let extra = format!("jwks_uri = \"{}/jwks\"", issuer.url());
    let gw = Gateway::start(&config(&issuer, &log, &extra), Driver::Legacy);
    let old = issuer.mint("rsa-1", "RS256", good(&issuer));
    assert_eq!(get(&gw, "/me", Some(&old)).status, 200);
    let fetched = issuer.jwks_fetches();

    // Rotation: rsa-2 replaces rsa-1. A token of the new key makes the gateway look again, at
    // once; tokens of the removed key stop working, cached verdict or not.
    issuer.mode(json!({"published": ["rsa-2"]}));
    let new = issuer.mint("rsa-2", "RS256", good(&issuer));
    let r = get(&gw, "/me", Some(&new));
    assert_eq!(r.status, 200, "{}", reason(&r));
    assert_eq!(issuer.jwks_fetches(), fetched + 1);
    let r = get(&gw, "/me", Some(&old));
    assert_eq!(r.status, 401);
    assert!(reason(&r).contains("no RS256 key for kid rsa-1"), "{}", reason(&r));
    // Made-up kids do not make it fetch again and again.
    for i in 0..20 {
        let token = issuer.mint_with_kid("rsa-2", &format!("made-up-{i}"), good(&issuer));
        assert_eq!(get(&gw, "/me", Some(&token)).status, 401);
    }
    assert_eq!(issuer.jwks_fetches(), fetched + 1, "unknown kids are rate-limited");
}

#[test]
fn a_key_endpoint_gone_bad_leaves_the_keys_there_were() {
    let issuer = Issuer::start();
    let log = temp_path("jwt-bad-endpoint.log");
    let gw = Gateway::start(&config(&issuer, &log, "refresh_s = 1"), Driver::Uring);
    let token = issuer.mint("rsa-1", "RS256", good(&issuer));
    assert_eq!(get(&gw, "/me", Some(&token)).status, 200);
    // Garbage, a document over AWS's 150 000 bytes, then an endpoint that hangs: each fetched
    // in the background at least twice, while the keys fetched before stay in use.
    for mode in ["garbage", "huge", "hang"] {
        issuer.mode(json!({"jwks": mode}));
        let before = issuer.jwks_fetches();
        let fetched = eventually(Duration::from_secs(15), || (issuer.jwks_fetches() >= before + 2).then_some(()));
        assert!(fetched.is_some(), "{mode}: fetched again");
        let fresh = issuer.mint("rsa-1", "RS256", good(&issuer));
        assert_eq!(get(&gw, "/me", Some(&fresh)).status, 200, "{mode}");
    }
    let log = gw.log();
    assert!(log.contains("not JSON") || log.contains("not a JWKS document"), "{log}");
    assert!(log.contains("body over 150000 bytes"), "{log}");
    assert!(log.contains("timed out"), "{log}");
}

#[test]
fn an_issuer_that_hangs_at_start_fails_closed_then_recovers() {
    let issuer = Issuer::start();
    issuer.mode(json!({"jwks": "hang"}));
    let log = temp_path("jwt-hang.log");
    let gw = Gateway::start(&config(&issuer, &log, ""), Driver::Uring);
    let token = issuer.mint("rsa-1", "RS256", good(&issuer));
    let started = std::time::Instant::now();
    let r = get(&gw, "/me", Some(&token));
    assert_eq!(r.status, 401);
    assert!(reason(&r).contains("no keys"), "{}", reason(&r));
    // Within AWS's fetch timeout and the wait for it, not the endpoint's 30 s.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(get(&gw, "/open", None).status, 200, "other routes are not held up");
    issuer.mode(json!({"jwks": "normal"}));
    let ok = eventually(Duration::from_secs(20), || (get(&gw, "/me", Some(&token)).status == 200).then_some(()));
    assert!(ok.is_some(), "the keys arrive once the issuer answers");
}

#[test]
fn bad_authorizer_configs_are_refused_with_a_reason() {
    let base = |authorizer: &str, route: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[api]]\nname = \"a\"\n{authorizer}\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /x\"\n{route}\nintegration = {{ type = \"mock\" }}\n"
        )
    };
    let jwt = "[[api.authorizer]]\nname = \"users\"\ntype = \"jwt\"\nissuer = \"https://id.example.com\"\naudience = [\"app\"]";
    let (ok, _) = check(&base(jwt, "authorizer = \"users\""));
    assert!(ok);
    for (authorizer, route, expected) in [
        (jwt, "authorizer = \"user\"", "did you mean `users`"),
        (jwt, "authorization_scopes = [\"a\"]", "needs an `authorizer`"),
        (&jwt.replace("https://id", "http://id"), "", "must be https://"),
        (&jwt.replace("audience = [\"app\"]", ""), "", "has no `audience`"),
        (&format!("{jwt}\nalgorithms = [\"HS256\"]"), "", "HMAC tokens are never accepted"),
        (&format!("{jwt}\nalgorithms = [\"none\"]"), "", "not an algorithm"),
        (&format!("{jwt}\nidentity_source = \"$request.querystring.t\""), "", "not a header identity source"),
    ] {
        let (ok, errors) = check(&base(authorizer, route));
        assert!(!ok && errors.contains(expected), "{expected}: {errors}");
    }
}

/// On a REST API the JWT authorizer checks what AWS's Cognito user-pool authorizer checks, with
/// REST's error shapes and the claims in the 1.0 event.
#[test]
fn rest_apis_check_tokens_like_cognito_authorizers() {
    let issuer = Issuer::start();
    let backend = event_echo();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]

[[function]]
name = "backend"
url = "http://{backend}/"

[[api]]
name = "shop"
protocol = "rest"

[[api.authorizer]]
name = "pool"
type = "jwt"
issuer = "{issuer}"
audience = ["portico-tests"]
identity_source = "method.request.header.Authorization"

[[api.stage]]
name = "prod"

[[api.route]]
key = "GET /orders"
authorizer = "pool"
integration = {{ type = "function", target = "backend" }}

[[api.route]]
key = "GET /mapped"
authorizer = "pool"
integration = {{ type = "function", proxy = false, target = "backend", request_templates = {{ "application/json" = '{{"email": "$context.authorizer.claims.email", "who": "$context.authorizer.principalId"}}' }} }}
"#,
        backend = backend.addr,
        issuer = issuer.url()
    );
    let gw = Gateway::start(&config, Driver::Uring);
    let r = get(&gw, "/prod/orders", None);
    assert_eq!((r.status, r.header("x-amzn-ErrorType")), (401, Some("UnauthorizedException")));
    let token = issuer.mint("rsa-1", "RS256", good(&issuer));
    let r = get(&gw, "/prod/orders", Some(&token));
    assert_eq!(r.status, 200, "{}", r.text());
    let event: Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(event["requestContext"]["authorizer"]["claims"]["email"], "u7@example.com");
    assert_eq!(event["requestContext"]["authorizer"]["scopes"], json!(["read", "write"]));
    // Mapping templates read the claims too (the non-proxy event is the template's output).
    let r = get(&gw, "/prod/mapped", Some(&token));
    assert_eq!(r.status, 200, "{}", r.text());
    let answer: Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(answer["body"], r#"{"email": "u7@example.com", "who": "user-7"}"#);
}
