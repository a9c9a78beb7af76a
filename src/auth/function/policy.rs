//! What a function authorizer answers, read strictly (AWS's output shape): an IAM policy with a
//! principal, a context of strings, numbers and booleans, and maybe a usage-plan key — or, from
//! an HTTP API authorizer with simple responses, `{"isAuthorized": bool, "context": {...}}`.
//! And the policy evaluated against a request's method ARN with AWS's wildcard rules: an explicit
//! `Deny` wins, then an `Allow`, else the request is denied.
//!
//! Pure: no I/O. Must not: cache (the cached answer is evaluated again for each request's ARN,
//! which is how AWS treats a cached policy). Cost: one JSON parse per answer; evaluation is a
//! glob match per statement resource.

use serde_json::Value;

/// The ARN resources a policy may use are at most this long (AWS).
const MAX_RESOURCE: usize = 512;

/// An IAM policy statement that applies to `execute-api:Invoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub allow: bool,
    pub resources: Vec<String>,
}

/// How the answer decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Policy(Vec<Statement>),
    /// A simple response's `isAuthorized`.
    Simple(bool),
}

/// A function authorizer's answer: how it decides, and who it says the caller is.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub decision: Decision,
    pub identity: FunctionIdentity,
}

pub use crate::context::auth::FunctionIdentity;

/// The request is allowed, or denied implicitly or explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    ExplicitDeny,
}

/// Reads an answer; `simple`: the authorizer may answer in the simple form.
pub fn read(payload: &[u8], simple: bool) -> Result<Answer, String> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(payload) else {
        return Err("the answer is not a JSON object".into());
    };
    let context = match o.remove("context") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                match &v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                    // AWS: only simple responses may carry objects and arrays.
                    Value::Object(_) | Value::Array(_) if simple => {}
                    _ => return Err(format!("context value `{k}` is not a string, number or boolean")),
                }
                out.push((k, v.to_string()));
            }
            out
        }
        Some(_) => return Err("`context` is not an object".into()),
    };
    if simple && let Some(flag) = o.get("isAuthorized") {
        let Value::Bool(b) = flag else { return Err("`isAuthorized` is not a boolean".into()) };
        let identity = FunctionIdentity { principal: None, context, usage_key: None };
        return Ok(Answer { decision: Decision::Simple(*b), identity });
    }
    let principal = match o.get("principalId") {
        Some(Value::String(p)) => Some(p.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`principalId` is not a string".into()),
    };
    let usage_key = match o.get("usageIdentifierKey") {
        Some(Value::String(k)) => Some(k.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`usageIdentifierKey` is not a string".into()),
    };
    let Some(Value::Object(doc)) = o.get("policyDocument") else {
        return Err(if simple { "no `isAuthorized` and no `policyDocument`" } else { "no `policyDocument`" }.into());
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err("`policyDocument.Statement` is not a list of statements".into()),
    };
    let mut out = Vec::new();
    for st in statements {
        let Value::Object(st) = st else { return Err("a statement is not an object".into()) };
        let allow = match st.get("Effect").and_then(Value::as_str) {
            Some(e) if e.eq_ignore_ascii_case("allow") => true,
            Some(e) if e.eq_ignore_ascii_case("deny") => false,
            _ => return Err("a statement's `Effect` is neither Allow nor Deny".into()),
        };
        let actions = strings(st.get("Action")).ok_or("a statement's `Action` is not a string or list")?;
        let resources = strings(st.get("Resource")).ok_or("a statement's `Resource` is not a string or list")?;
        if resources.iter().any(|r| r.len() > MAX_RESOURCE) {
            return Err(format!("a statement's resource is over {MAX_RESOURCE} characters"));
        }
        let invoke = actions.iter().any(|a| glob(a.as_bytes(), b"execute-api:Invoke"));
        if invoke {
            out.push(Statement { allow, resources });
        }
    }
    Ok(Answer { decision: Decision::Policy(out), identity: FunctionIdentity { principal, context, usage_key } })
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(list) => list.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// The answer's verdict on one method ARN.
pub fn evaluate(decision: &Decision, method_arn: &str) -> Verdict {
    match decision {
        Decision::Simple(true) => Verdict::Allow,
        Decision::Simple(false) => Verdict::Deny,
        Decision::Policy(statements) => {
            let matches = |s: &&Statement| s.resources.iter().any(|r| glob(r.as_bytes(), method_arn.as_bytes()));
            if statements.iter().filter(|s| !s.allow).any(|s| matches(&s)) {
                Verdict::ExplicitDeny
            } else if statements.iter().filter(|s| s.allow).any(|s| matches(&s)) {
                Verdict::Allow
            } else {
                Verdict::Deny
            }
        }
    }
}

pub use crate::table::auth::glob;

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/pets/7";

    #[test]
    fn wildcards_as_iam_reads_them() {
        assert!(glob(b"*", b""));
        assert!(glob(b"arn:aws:execute-api:*:*:shop/*/GET/*", ARN.as_bytes()));
        assert!(glob(b"arn:aws:execute-api:us-east-1:123456789012:shop/prod/*", ARN.as_bytes()));
        assert!(!glob(b"arn:aws:execute-api:us-east-1:123456789012:shop/prod/POST/*", ARN.as_bytes()));
        assert!(glob(b"arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/pets/?", ARN.as_bytes()));
        assert!(!glob(b"arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/pets", ARN.as_bytes()));
        assert!(glob(b"a*b*c*d", b"aXXbYYcZZd"));
        assert!(!glob(b"a*b*c*d", b"aXXbYYcZZ"));
        // Many stars against a long text: linear, not exponential.
        let long = vec![b'a'; 5000];
        assert!(!glob(b"*a*a*a*a*a*a*a*a*b", &long));
    }

    #[test]
    fn policies_deny_explicitly_allow_and_deny_implicitly() {
        let answer = read(
            br#"{"principalId":"u1","policyDocument":{"Version":"2012-10-17","Statement":[
                {"Action":"execute-api:Invoke","Effect":"Allow","Resource":["arn:aws:execute-api:*:*:shop/prod/GET/*"]},
                {"Action":["execute-api:*"],"Effect":"Deny","Resource":"arn:aws:execute-api:*:*:shop/prod/GET/pets/secret"}]},
                "context":{"tier":"gold","n":3,"ok":true},"usageIdentifierKey":"key-1"}"#,
            false,
        )
        .unwrap();
        assert_eq!(answer.identity.principal.as_deref(), Some("u1"));
        assert_eq!(answer.identity.usage_key.as_deref(), Some("key-1"));
        // In name order (serde_json's map).
        let context = [("n".into(), "3".into()), ("ok".into(), "true".into()), ("tier".into(), "\"gold\"".into())];
        assert_eq!(answer.identity.context, context);
        assert_eq!(evaluate(&answer.decision, ARN), Verdict::Allow);
        assert_eq!(evaluate(&answer.decision, &ARN.replace("pets/7", "pets/secret")), Verdict::ExplicitDeny);
        assert_eq!(evaluate(&answer.decision, &ARN.replace("GET", "DELETE")), Verdict::Deny);
    }

    #[test]
    fn answers_aws_would_not_read_are_errors() {
        for bad in [
            &b"[]"[..],
            b"{}",
            b"not json",
            br#"{"principalId":"u","policyDocument":{"Statement":"x"}}"#,
            br#"{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}}"#,
            br#"{"principalId":"u","policyDocument":{"Statement":[]},"context":{"o":{"nested":1}}}"#,
            br#"{"principalId":{},"policyDocument":{"Statement":[]}}"#,
        ] {
            assert!(read(bad, false).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Simple responses: a boolean, and any JSON in the context.
        let yes = read(br#"{"isAuthorized":true,"context":{"o":{"nested":[1]}}}"#, true).unwrap();
        assert_eq!((yes.decision, yes.identity.context[0].1.as_str()), (Decision::Simple(true), r#"{"nested":[1]}"#));
        assert!(read(br#"{"isAuthorized":"yes"}"#, true).is_err());
        assert!(read(br#"{"isAuthorized":true}"#, false).is_err(), "simple answers only when configured");
    }
}
