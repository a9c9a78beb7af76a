//! `[[api.authorizer]]`: JWT authorizers (and, as they land, function authorizers), and what
//! routes name of them (`authorizer`, `authorization_scopes`).

use super::*;
use crate::config::reader::{Obj, Reader, Spanned};
use crate::http::url::Url;
use crate::table::auth::{JWT_ALGORITHMS, JwksSource, JwtAuthorizer};
use crate::table::{IdentitySource, Protocol};

pub(super) fn read_authorizers(
    r: &mut Reader<'_>,
    api: Obj<'_>,
    protocol: Protocol,
    websocket: bool,
) -> Vec<AuthorizerModel> {
    let mut out: Vec<AuthorizerModel> = Vec::new();
    for a in r.tables(api, "authorizer", "[[api.authorizer]]") {
        let Some(name) = r.str(a, "name", "every authorizer needs a `name`, like name = \"users\"") else { continue };
        if out.iter().any(|x| x.name.value == name.value) {
            r.error(name.span.clone(), format!("two authorizers of this API are named `{}`", name.value), None);
        }
        let kind = r.str(a, "type", "authorizer types: \"jwt\", \"function\"");
        let Some(kind) = kind else { continue };
        match kind.value.as_str() {
            "jwt" if websocket => r.error(
                kind.span,
                "WebSocket APIs take function authorizers (REQUEST) and AWS_IAM, as on AWS",
                Some("use type = \"function\" with identity_source = [\"route.request.header.Authorization\"]".into()),
            ),
            "jwt" => {
                r.allow_keys(a, JWT_KEYS);
                if let Some(model) = read_jwt(r, a, name, protocol) {
                    out.push(model);
                }
            }
            "function" => {
                r.allow_keys(a, FUNCTION_KEYS);
                if let Some(model) = read_function(r, a, name, protocol, websocket) {
                    out.push(model);
                }
            }
            other => {
                let hint = if other == "lambda" || other == "token" || other == "request" {
                    "use type = \"function\" (with event = \"token\" or \"request\" on REST APIs)"
                } else {
                    "use \"jwt\" or \"function\""
                };
                r.error(kind.span, format!("unknown authorizer type `{other}`"), Some(hint.into()));
            }
        }
    }
    out
}

const JWT_KEYS: &[&str] =
    &["name", "type", "identity_source", "issuer", "audience", "jwks_uri", "leeway_s", "refresh_s", "algorithms"];

fn read_jwt(
    r: &mut Reader<'_>,
    a: Obj<'_>,
    name: crate::config::reader::Spanned<String>,
    protocol: Protocol,
) -> Option<AuthorizerModel> {
    let default_source = match protocol {
        Protocol::Http => "$request.header.Authorization",
        Protocol::Rest => "method.request.header.Authorization",
    };
    let source = r.opt_str(a, "identity_source");
    let identity = match &source {
        None => IdentitySource::parse(default_source),
        Some(s) => match IdentitySource::parse(&s.value) {
            Some(h @ IdentitySource::Header(_)) => Some(h),
            _ => {
                r.error(
                    s.span.clone(),
                    format!("`{}` is not a header identity source", s.value),
                    Some(format!("a JWT authorizer reads one header, like \"{default_source}\"")),
                );
                None
            }
        },
    };
    let issuer = r.str(
        a,
        "issuer",
        "the `iss` tokens must carry, like issuer = \"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc\"",
    );
    if let Some(i) = &issuer {
        check_url(r, i, "issuer");
    }
    let audiences: Vec<String> = r.str_list(a, "audience").into_iter().map(|s| s.value).collect();
    if audiences.is_empty() {
        r.error(
            a.span(),
            format!("JWT authorizer `{}` has no `audience`", name.value),
            Some("list the `aud` (or `client_id`) values to accept, like audience = [\"my-app\"]".into()),
        );
    }
    if audiences.len() > 50 {
        r.error(a.span(), "a JWT authorizer takes at most 50 audiences (AWS's limit)", None);
    }
    let jwks = match r.opt_str(a, "jwks_uri") {
        Some(u) => {
            check_url(r, &u, "jwks_uri");
            Some(JwksSource::Uri(u.value))
        }
        None => issuer.as_ref().map(|i| JwksSource::Discovery(i.value.clone())),
    };
    let leeway_s = r.int(a, "leeway_s", 0, 0, 300) as u64;
    let refresh_s = r.int(a, "refresh_s", 300, 1, 86_400) as u64;
    let mut algorithms = Vec::new();
    for alg in r.str_list(a, "algorithms") {
        if JWT_ALGORITHMS.contains(&alg.value.as_str()) {
            algorithms.push(alg.value);
        } else {
            let why = if alg.value.eq_ignore_ascii_case("none") || alg.value.starts_with("HS") {
                "unsigned and HMAC tokens are never accepted: a key set is public, an HMAC secret cannot be".to_owned()
            } else {
                format!("supported: {}", JWT_ALGORITHMS.join(", "))
            };
            r.error(alg.span, format!("`{}` is not an algorithm a JWT authorizer accepts", alg.value), Some(why));
        }
    }
    if algorithms.is_empty() {
        algorithms = JWT_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect();
    }
    let jwt = JwtAuthorizer { issuer: issuer?.value, audiences, jwks: jwks?, leeway_s, refresh_s, algorithms };
    Some(AuthorizerModel { name, identity_sources: vec![identity?], kind: AuthorizerKindModel::Jwt(jwt) })
}

const FUNCTION_KEYS: &[&str] = &[
    "name",
    "type",
    "function",
    "event",
    "payload_format",
    "identity_source",
    "identity_validation_expression",
    "ttl_s",
    "simple_responses",
    "timeout_ms",
];

fn read_function(
    r: &mut Reader<'_>,
    a: Obj<'_>,
    name: crate::config::reader::Spanned<String>,
    protocol: Protocol,
    websocket: bool,
) -> Option<AuthorizerModel> {
    use crate::table::AuthorizerEvent;
    let function = r.str(a, "function", "the [[function]] to invoke, like function = \"authorize\"");
    let shape = match protocol {
        _ if websocket => {
            for key in ["payload_format", "event"] {
                if let Some(item) = r.item(a, key) {
                    r.error(
                        item.span(),
                        format!("a WebSocket API's authorizer has no `{key}`: it gets the CONNECT event"),
                        None,
                    );
                }
            }
            AuthorizerEvent::WebSocket
        }
        Protocol::Rest => {
            if let Some(f) = r.opt_str(a, "payload_format") {
                r.error(
                    f.span,
                    "REST API authorizers have no payload format",
                    Some("use event = \"token\" or \"request\"".into()),
                );
            }
            match r.opt_str(a, "event") {
                None => AuthorizerEvent::Token,
                Some(e) if e.value.eq_ignore_ascii_case("token") => AuthorizerEvent::Token,
                Some(e) if e.value.eq_ignore_ascii_case("request") => AuthorizerEvent::RequestV1,
                Some(e) => {
                    r.error(
                        e.span,
                        format!("unknown authorizer event `{}`", e.value),
                        Some("use \"token\" or \"request\"".into()),
                    );
                    AuthorizerEvent::Token
                }
            }
        }
        Protocol::Http => {
            if let Some(e) = r.opt_str(a, "event").filter(|e| !e.value.eq_ignore_ascii_case("request")) {
                r.error(e.span, "HTTP API authorizers take REQUEST events only", Some("remove `event`".into()));
            }
            match r.opt_str(a, "payload_format") {
                None => AuthorizerEvent::RequestV2,
                Some(f) if f.value == "2.0" => AuthorizerEvent::RequestV2,
                Some(f) if f.value == "1.0" => AuthorizerEvent::RequestV1,
                Some(f) => {
                    r.error(
                        f.span,
                        format!("unknown payload format `{}`", f.value),
                        Some("use \"1.0\" or \"2.0\"".into()),
                    );
                    AuthorizerEvent::RequestV2
                }
            }
        }
    };
    let token = shape == AuthorizerEvent::Token;
    let written: Vec<crate::config::reader::Spanned<String>> = match r.item(a, "identity_source") {
        Some(item) if item.as_str().is_some() => r.opt_str(a, "identity_source").into_iter().collect(),
        _ => r.str_list(a, "identity_source"),
    };
    let mut sources = Vec::new();
    for s in &written {
        match IdentitySource::parse(&s.value) {
            Some(IdentitySource::Context(c)) if !crate::table::auth::CONTEXT_IDENTITY_SOURCES.contains(&c.as_str()) => {
                r.error(
                    s.span.clone(),
                    format!("`$context.{c}` cannot be an identity source"),
                    Some(format!("use one of: {}", crate::table::auth::CONTEXT_IDENTITY_SOURCES.join(", "))),
                );
            }
            Some(src) => sources.push(src),
            None => r.error(
                s.span.clone(),
                format!("`{}` is not an identity source", s.value),
                Some("like \"$request.header.Authorization\", \"$request.querystring.token\", \"$stageVariables.x\", \"$context.routeKey\"".into()),
            ),
        }
    }
    if token {
        match sources.as_slice() {
            [] if written.is_empty() => sources.push(IdentitySource::Header("authorization".into())),
            [IdentitySource::Header(_)] => {}
            _ => r.error(
                a.span(),
                "a TOKEN authorizer reads exactly one header",
                Some("identity_source = \"method.request.header.Authorization\"".into()),
            ),
        }
    }
    let ttl_s = r.int(a, "ttl_s", 300, 0, 3600) as u64;
    if ttl_s > 0 && sources.is_empty() && !token {
        r.error(
            a.span(),
            format!(
                "authorizer `{}` caches its answers (ttl_s = {ttl_s}) but has no identity source to key them by",
                name.value
            ),
            Some("add identity_source = [\"$request.header.Authorization\"], or set ttl_s = 0".into()),
        );
    }
    let validation = match r.opt_str(a, "identity_validation_expression") {
        Some(v) if !token => {
            r.error(v.span, "`identity_validation_expression` is for TOKEN authorizers", None);
            None
        }
        Some(v) => match regex::Regex::new(&v.value) {
            Ok(_) => Some(v.value),
            Err(e) => {
                r.error(v.span, format!("`identity_validation_expression` is not a regular expression: {e}"), None);
                None
            }
        },
        None => None,
    };
    let simple_responses = r.bool(a, "simple_responses", false);
    if simple_responses && shape != AuthorizerEvent::RequestV2 {
        let span = r.item(a, "simple_responses").and_then(|i| i.span());
        r.error(span, "simple responses are for HTTP API authorizers in payload format 2.0 (as in AWS)", None);
    }
    // AWS's authorizer timeout is 10 s.
    let timeout_ms = r.int(a, "timeout_ms", 10_000, 50, 30_000) as u64;
    let authorizer =
        crate::table::auth::FunctionAuthorizer { function: 0, shape, ttl_s, validation, simple_responses, timeout_ms };
    Some(AuthorizerModel {
        name,
        identity_sources: sources,
        kind: AuthorizerKindModel::Function(function?, authorizer),
    })
}

/// An `https://` URL (or `http://` on loopback, for tests and sidecars).
fn check_url(r: &mut Reader<'_>, u: &crate::config::reader::Spanned<String>, what: &str) {
    match Url::parse(&u.value) {
        Some(url) if url.tls || url.is_loopback() => {}
        Some(_) => r.error(
            u.span.clone(),
            format!("the {what} must be https://"),
            Some("keys fetched in clear text could be anyone's; http:// is allowed on loopback only".into()),
        ),
        None => r.error(u.span.clone(), format!("`{}` is not an absolute http(s) URL", u.value), None),
    }
}

/// A route's `authorizer` and `authorization_scopes`.
pub(super) fn read_route_auth(
    r: &mut Reader<'_>,
    route: Obj<'_>,
) -> (Option<crate::config::reader::Spanned<String>>, Vec<String>) {
    let authorizer = r.opt_str(route, "authorizer");
    let scopes: Vec<String> = r.str_list(route, "authorization_scopes").into_iter().map(|s| s.value).collect();
    if !scopes.is_empty() && authorizer.is_none() {
        let span = r.item(route, "authorization_scopes").and_then(|i| i.span());
        r.error(span, "`authorization_scopes` needs an `authorizer`", Some("name a JWT authorizer of this API".into()));
    }
    if scopes.len() > 10 {
        let span = r.item(route, "authorization_scopes").and_then(|i| i.span());
        r.error(span, "a route takes at most 10 authorization scopes (AWS's limit)", None);
    }
    (authorizer, scopes)
}

const IAM_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key_env",
    "secret_access_key_file",
    "session_token_env",
    "principal_arn",
    "caller",
];

/// `[[iam_credential]]`: access keys clients sign `AWS_IAM` requests with. Secrets are read from
/// the environment or a file now, so a missing one is an error at once.
pub(super) fn read_iam_credentials(r: &mut Reader<'_>, root: Obj<'_>) -> Vec<crate::table::auth::IamCredential> {
    let mut out: Vec<crate::table::auth::IamCredential> = Vec::new();
    for c in r.tables(root, "iam_credential", "[[iam_credential]]") {
        r.allow_keys(c, IAM_KEYS);
        let key = r.str(c, "access_key_id", "like access_key_id = \"AKIAIOSFODNN7EXAMPLE\"");
        if let Some(k) = &key {
            let ok = (16..=128).contains(&k.value.len()) && k.value.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                r.error(
                    k.span.clone(),
                    format!("`{}` is not an access key id", k.value),
                    Some("16 to 128 letters and digits".into()),
                );
            }
            if out.iter().any(|o| o.access_key_id == k.value) {
                r.error(k.span.clone(), format!("access key `{}` is configured twice", k.value), None);
            }
        }
        if r.item(c, "secret_access_key_env").is_some() && r.item(c, "secret_access_key_file").is_some() {
            r.error(c.span(), "give `secret_access_key_env` or `secret_access_key_file`, not both", None);
        }
        let secret = super::read_secret(r, c, "secret_access_key_env", "secret_access_key_file");
        if secret.is_none() {
            r.error(
                c.span(),
                "this credential has no secret",
                Some("add secret_access_key_env = \"VAR\" (or secret_access_key_file = \"path\"); secrets are never written in the config".into()),
            );
        }
        let session_token = match r.opt_str(c, "session_token_env") {
            Some(e) => match std::env::var(&e.value) {
                Ok(v) => Some(v.trim().to_owned()),
                Err(_) => {
                    r.error(e.span, format!("environment variable `{}` is not set", e.value), None);
                    None
                }
            },
            None => None,
        };
        let arn = r.str(
            c,
            "principal_arn",
            "who signs with it, like principal_arn = \"arn:aws:iam::123456789012:user/alice\"",
        );
        if let Some(a) = &arn {
            let parts: Vec<&str> = a.value.split(':').collect();
            let ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && !parts[4].is_empty()
                && !parts[5].is_empty();
            if !ok {
                r.error(
                    a.span.clone(),
                    format!("`{}` is not an IAM principal ARN", a.value),
                    Some("like \"arn:aws:iam::123456789012:user/alice\"".into()),
                );
            }
        }
        let caller = r.opt_str(c, "caller").map(|c| c.value);
        let (Some(key), Some(Some(secret)), Some(arn)) = (key, secret, arn) else { continue };
        out.push(crate::table::auth::IamCredential {
            caller: caller.unwrap_or_else(|| key.value.clone()),
            access_key_id: key.value,
            secret_access_key: secret,
            session_token,
            principal_arn: arn.value,
        });
    }
    out
}

/// A route's `authorization`: `"NONE"` (or absent) or `"AWS_IAM"`.
pub(super) fn read_authorization(r: &mut Reader<'_>, route: Obj<'_>, has_authorizer: bool) -> bool {
    let Some(a) = r.opt_str(route, "authorization") else { return false };
    match a.value.as_str() {
        "NONE" => false,
        "AWS_IAM" if has_authorizer => {
            r.error(a.span, "a route has either an `authorizer` or `authorization = \"AWS_IAM\"`, not both", None);
            false
        }
        "AWS_IAM" => true,
        "CUSTOM" | "JWT" | "COGNITO_USER_POOLS" => {
            r.error(
                a.span,
                format!("`{}` is implied by `authorizer`", a.value),
                Some("name the authorizer with authorizer = \"...\"".into()),
            );
            false
        }
        other => {
            r.error(a.span, format!("unknown authorization `{other}`"), Some("use \"AWS_IAM\" or \"NONE\"".into()));
            false
        }
    }
}

/// `resource_policy = '''{ AWS's JSON policy }'''` or `resource_policy_file` (REST APIs):
/// statements with `Principal: "*"`, `Action: execute-api:Invoke`, `Resource` (full method ARNs or
/// AWS's `execute-api:/stage/METHOD/path` shorthand) and `aws:SourceIp` conditions.
pub(super) fn read_resource_policy(
    r: &mut Reader<'_>,
    api: Obj<'_>,
    protocol: Protocol,
    api_name: &str,
) -> Option<crate::table::auth::ResourcePolicy> {
    let Spanned { value: text, span } = super::text_or_file(r, api, "resource_policy", "resource_policy_file")?;
    if protocol == Protocol::Http {
        r.error(span, "HTTP APIs have no resource policies (as in AWS)", Some("use protocol = \"rest\"".into()));
        return None;
    }
    match parse_policy(&text, api_name) {
        Ok(policy) => Some(policy),
        Err(e) => {
            r.error(span, format!("the resource policy {e}"), Some("see docs/authorizers.md#resource-policies".into()));
            None
        }
    }
}

fn parse_policy(text: &str, api_name: &str) -> Result<crate::table::auth::ResourcePolicy, String> {
    use serde_json::Value;
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("is not JSON: {e}"))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Err("has no `Statement` list".into()),
    };
    let strings = |v: Option<&Value>, what: &str| -> Result<Vec<String>, String> {
        match v {
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(list)) => {
                list.iter().map(|v| v.as_str().map(str::to_owned).ok_or(format!("has a non-string `{what}`"))).collect()
            }
            _ => Err(format!("has a statement without `{what}`")),
        }
    };
    let mut out = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let n = i + 1;
        let Value::Object(st) = st else { return Err(format!("statement {n} is not an object")) };
        for key in st.keys() {
            if !["Sid", "Effect", "Principal", "Action", "Resource", "Condition"].contains(&key.as_str()) {
                return Err(format!("statement {n} has `{key}`, which Portico does not evaluate"));
            }
        }
        let allow = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err(format!("statement {n} has no `Effect` of Allow or Deny")),
        };
        let anyone = match st.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(o)) => o.len() == 1 && o.get("AWS").and_then(Value::as_str) == Some("*"),
            _ => false,
        };
        if !anyone {
            return Err(format!(
                "statement {n}: only `\"Principal\": \"*\"` is supported (there are no IAM accounts behind the gateway)"
            ));
        }
        let actions = strings(st.get("Action"), "Action")?;
        if !actions.iter().any(|a| crate::table::auth::glob(a.as_bytes(), b"execute-api:Invoke")) {
            continue;
        }
        let resources = strings(st.get("Resource"), "Resource")?
            .into_iter()
            .map(|r| match r.strip_prefix("execute-api:") {
                Some(rest) => format!("arn:aws:execute-api:*:*:{api_name}{rest}"),
                None => r,
            })
            .collect();
        let mut source_ip = Vec::new();
        if let Some(cond) = st.get("Condition") {
            let Value::Object(cond) = cond else { return Err(format!("statement {n}'s `Condition` is not an object")) };
            for (op, body) in cond {
                let negated = match op.as_str() {
                    "IpAddress" => false,
                    "NotIpAddress" => true,
                    other => {
                        return Err(format!(
                            "statement {n}: condition `{other}` is not supported (IpAddress and NotIpAddress are)"
                        ));
                    }
                };
                let Value::Object(body) = body else { return Err(format!("statement {n}: `{op}` is not an object")) };
                for (key, value) in body {
                    if key != "aws:SourceIp" {
                        return Err(format!("statement {n}: condition key `{key}` is not supported (aws:SourceIp is)"));
                    }
                    let mut nets = Vec::new();
                    for v in strings(Some(value), "aws:SourceIp")? {
                        let net = v
                            .parse::<ipnet::IpNet>()
                            .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| format!("statement {n}: `{v}` is not an address or CIDR range"))?;
                        nets.push(net);
                    }
                    source_ip.push((negated, nets));
                }
            }
        }
        out.push(crate::table::auth::PolicyStatement { allow, resources, source_ip });
    }
    Ok(crate::table::auth::ResourcePolicy { statements: out })
}
