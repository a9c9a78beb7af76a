//! `authorization = "AWS_IAM"`: Signature Version 4 verified against the credentials configured
//! in the gateway (`[[iam_credential]]`), in both of AWS's forms — the `Authorization` header and
//! a presigned URL's query — with `X-Amz-Security-Token`, AWS's 5-minute clock skew, a presigned
//! URL's `X-Amz-Expires`, and the payload hash (the route buffers the body whole to check it).
//! Each failure gets AWS's error type and message (`../shared/aws-behaviour.md` §1.3).
//!
//! Pure: the time is passed in. Must not: say more to the client than AWS does — the canonical
//! request the gateway computed goes to the operator's `auth_debug` reason only (it holds no
//! secret). Cost: the canonical request and five HMACs per request; no cache (a signature is
//! per request).

use crate::auth::constant_time_eq;
use crate::context::auth::IamIdentity;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::sigv4;
use crate::table::auth::IamCredential;

/// AWS's clock skew: a signature dated more than this from now is refused.
pub const SKEW_S: u64 = 5 * 60;
/// The longest a presigned URL may live (AWS: 7 days).
pub const MAX_EXPIRES_S: u64 = 7 * 24 * 3600;
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// Why a request was refused: the error (with AWS's message) and the reason for `auth_debug`.
pub struct Refusal {
    pub error: GatewayError,
    pub reason: String,
}

fn refuse(kind: ResponseType, message: impl Into<String>, reason: impl Into<String>) -> Refusal {
    let message: String = message.into();
    Refusal { error: GatewayError::new(kind, "SigV4 refused").with_message(message), reason: reason.into() }
}

const BAD_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const BAD_TOKEN: &str = "The security token included in the request is invalid.";

/// What the client presented.
struct Presented<'h> {
    access_key: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    /// `YYYYMMDDTHHMMSSZ`.
    amz_date: String,
    /// Presigned: `X-Amz-Expires`.
    expires_s: Option<u64>,
    token: Option<std::borrow::Cow<'h, str>>,
}

/// Verifies the request (`body`: the whole body, buffered) at `now_s`: the credential that
/// signed it, or why not.
pub fn verify(
    credentials: &[IamCredential],
    head: &RequestHead,
    body: &[u8],
    now_s: u64,
) -> Result<IamIdentity, Refusal> {
    let query = head.query().map(|q| std::str::from_utf8(q).unwrap_or("")).unwrap_or("");
    let authorization = head.first(b"authorization");
    if authorization.is_some() && head.only(b"authorization").is_none() {
        let error = GatewayError::new(ResponseType::IncompleteSignature, "two Authorization headers")
            .with_message("Only one Authorization header is allowed.".into());
        return Err(Refusal { error, reason: "more than one Authorization header".into() });
    }
    let presigned = query.split('&').any(|p| p.starts_with("X-Amz-Algorithm="));
    let p = match (authorization, presigned) {
        (Some(value), _) => from_header(head, value)?,
        (None, true) => from_query(query)?,
        (None, false) => {
            let error = GatewayError::new(ResponseType::MissingSignature, "no SigV4 signature");
            let reason = "no SigV4 signature (neither an Authorization header nor a presigned query)".into();
            return Err(Refusal { error, reason });
        }
    };
    if p.service != "execute-api" {
        return Err(refuse(
            ResponseType::IncompleteSignature,
            "Credential should be scoped to correct service: 'execute-api'. ",
            format!("the signature's scope names service {}", crate::auth::jwt::token::printable(&p.service)),
        ));
    }
    if p.amz_date.len() < 8 || !p.amz_date.starts_with(&p.date) {
        return Err(refuse(
            ResponseType::InvalidSignature,
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                p.date,
                p.amz_date.get(..8).unwrap_or(""),
                p.amz_date
            ),
            "the scope's date is not the request's",
        ));
    }
    let Some(signed_at) = parse_amz_date(&p.amz_date) else {
        return Err(refuse(
            ResponseType::IncompleteSignature,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            "a malformed X-Amz-Date",
        ));
    };
    // Time: AWS's skew both ways; a presigned URL also ends after its X-Amz-Expires.
    if signed_at + SKEW_S < now_s && p.expires_s.is_none() {
        let message = format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            p.amz_date,
            sigv4::amz_date(now_s - SKEW_S),
            sigv4::amz_date(now_s)
        );
        return Err(refuse(ResponseType::ExpiredSignature, message.clone(), message));
    }
    if let Some(expires) = p.expires_s
        && signed_at + expires < now_s
    {
        let message = format!(
            "Signature expired: {} is now earlier than {}",
            sigv4::amz_date(signed_at + expires),
            sigv4::amz_date(now_s)
        );
        return Err(refuse(
            ResponseType::ExpiredSignature,
            message.clone(),
            format!("presigned URL expired: {message}"),
        ));
    }
    if signed_at > now_s + SKEW_S {
        let message = format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            p.amz_date,
            sigv4::amz_date(now_s + SKEW_S),
            sigv4::amz_date(now_s)
        );
        return Err(refuse(ResponseType::InvalidSignature, message.clone(), message));
    }
    let Some(credential) = credentials.iter().find(|c| c.access_key_id == p.access_key) else {
        let key = crate::auth::jwt::token::printable(&p.access_key);
        return Err(refuse(ResponseType::UnknownCredential, BAD_TOKEN, format!("no credential has access key {key}")));
    };
    match (&credential.session_token, &p.token) {
        (None, None) => {}
        (Some(want), Some(got)) if constant_time_eq(want.as_bytes(), got.as_bytes()) => {}
        _ => {
            return Err(refuse(
                ResponseType::UnknownCredential,
                BAD_TOKEN,
                format!("the session token of {} does not match", p.access_key),
            ));
        }
    }
    if !p.signed_headers.iter().any(|h| h == "host") {
        return Err(refuse(
            ResponseType::IncompleteSignature,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            "host is not a signed header",
        ));
    }

    // The canonical request, with the payload hashed as the client said it was.
    let body_hash = sigv4::payload_hash(body);
    let declared = head.first(b"x-amz-content-sha256").map(|h| String::from_utf8_lossy(h).into_owned());
    if let Some(d) = &declared
        && d != &body_hash
        && d != UNSIGNED
    {
        return Err(refuse(
            ResponseType::InvalidSignature,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            "x-amz-content-sha256 is not the body's hash",
        ));
    }
    let hashes: Vec<&str> = match (&declared, p.expires_s) {
        (Some(d), _) => vec![d.as_str()],
        (None, Some(_)) => vec![body_hash.as_str(), UNSIGNED],
        (None, None) => vec![body_hash.as_str()],
    };
    let mut joined: Vec<(String, String)> = Vec::with_capacity(p.signed_headers.len());
    for name in &p.signed_headers {
        let values: Vec<String> =
            head.values(name.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        if values.is_empty() {
            return Err(refuse(
                ResponseType::InvalidSignature,
                BAD_SIGNATURE,
                format!("signed header {name} is not in the request"),
            ));
        }
        joined.push((name.clone(), values.join(",")));
    }
    let headers: Vec<(&str, &str)> = joined.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let path = std::str::from_utf8(head.raw_path()).unwrap_or("/");
    let canonical_query: String = match p.expires_s {
        Some(_) => query.split('&').filter(|q| !q.starts_with("X-Amz-Signature=")).collect::<Vec<_>>().join("&"),
        None => query.to_owned(),
    };
    let method = std::str::from_utf8(head.method_bytes()).unwrap_or("GET");
    let scope = sigv4::Scope { amz_date: &p.amz_date, region: &p.region, service: &p.service };
    let mut canonical = String::new();
    for hash in hashes {
        let request = sigv4::Request { method, path, query: &canonical_query, headers: &headers, payload_hash: hash };
        canonical = sigv4::canonical_request(&request);
        let expected = sigv4::signature(&credential.secret_access_key, &scope, &canonical);
        if constant_time_eq(expected.as_bytes(), p.signature.as_bytes()) {
            return Ok(IamIdentity {
                user_arn: credential.principal_arn.clone(),
                access_key: credential.access_key_id.clone(),
                caller: credential.caller.clone(),
                account_id: account_of(&credential.principal_arn),
            });
        }
    }
    let reason = format!("signature mismatch; the canonical request is {:?}", canonical);
    Err(refuse(ResponseType::InvalidSignature, BAD_SIGNATURE, reason))
}

fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_owned()
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/execute-api/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=...`, with the date from `X-Amz-Date` (or `Date`).
fn from_header<'h>(head: &'h RequestHead, value: &'h [u8]) -> Result<Presented<'h>, Refusal> {
    let text = std::str::from_utf8(value).unwrap_or("");
    let Some(params) = text.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(refuse(
            ResponseType::IncompleteSignature,
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            "the Authorization header is not AWS4-HMAC-SHA256",
        ));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in params.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let amz_date = match (head.first(b"x-amz-date"), head.first(b"date")) {
        (Some(d), _) => Some(String::from_utf8_lossy(d).into_owned()),
        (None, Some(d)) => std::str::from_utf8(d)
            .ok()
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .map(|t| sigv4::amz_date(t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))),
        (None, None) => None,
    };
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if amz_date.is_none() {
        missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    }
    if !missing.is_empty() {
        return Err(refuse(
            ResponseType::IncompleteSignature,
            missing.join(" "),
            "an incomplete SigV4 Authorization header",
        ));
    }
    let token = head.first(b"x-amz-security-token").map(String::from_utf8_lossy);
    presented(
        credential.unwrap_or(""),
        signed.unwrap_or(""),
        signature.unwrap_or(""),
        amz_date.unwrap_or_default(),
        None,
        token,
    )
}

/// A presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-SignedHeaders`, `X-Amz-Signature` (and `X-Amz-Security-Token`) in the query.
fn from_query(query: &str) -> Result<Presented<'_>, Refusal> {
    let get = |name: &str| query.split('&').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
    let decoded = |name: &str| get(name).map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy());
    let incomplete = |what: &str| {
        refuse(
            ResponseType::IncompleteSignature,
            format!("AWS query-string parameters must include '{what}'. Re-examine the query-string parameters."),
            format!("a presigned URL without {what}"),
        )
    };
    if get("X-Amz-Algorithm") != Some("AWS4-HMAC-SHA256") {
        return Err(incomplete("X-Amz-Algorithm"));
    }
    let credential = get("X-Amz-Credential").ok_or_else(|| incomplete("X-Amz-Credential"))?;
    let signed = get("X-Amz-SignedHeaders").ok_or_else(|| incomplete("X-Amz-SignedHeaders"))?;
    let signature = get("X-Amz-Signature").ok_or_else(|| incomplete("X-Amz-Signature"))?;
    let date = decoded("X-Amz-Date").ok_or_else(|| incomplete("X-Amz-Date"))?.into_owned();
    let expires = get("X-Amz-Expires")
        .and_then(|e| e.parse::<u64>().ok())
        .filter(|e| (1..=MAX_EXPIRES_S).contains(e))
        .ok_or_else(|| incomplete("X-Amz-Expires"))?;
    let token = get("X-Amz-Security-Token").map(|t| percent_encoding::percent_decode_str(t).decode_utf8_lossy());
    // The credential and signed headers are percent-encoded in a query (`/` as %2F, `;` as %3B).
    let credential = percent_encoding::percent_decode_str(credential).decode_utf8_lossy();
    let signed = percent_encoding::percent_decode_str(signed).decode_utf8_lossy();
    presented(&credential, &signed, signature, date, Some(expires), token)
}

fn presented<'h>(
    credential: &str,
    signed: &str,
    signature: &str,
    amz_date: String,
    expires_s: Option<u64>,
    token: Option<std::borrow::Cow<'h, str>>,
) -> Result<Presented<'h>, Refusal> {
    let mut parts = credential.split('/');
    let (Some(access_key), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(
            ResponseType::IncompleteSignature,
            "Credential should be scoped to a valid region. ",
            "the credential scope is not KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    let signed_headers: Vec<String> = signed.split(';').filter(|h| !h.is_empty()).map(str::to_owned).collect();
    if signed_headers.iter().any(|h| h.bytes().any(|b| b.is_ascii_uppercase())) {
        return Err(refuse(ResponseType::InvalidSignature, BAD_SIGNATURE, "signed header names must be lower-case"));
    }
    Ok(Presented {
        access_key: access_key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
        amz_date,
        expires_s,
        token,
    })
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds.
fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).ok()?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = crate::request_time::days_from_civil(y, mo, d)?;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::head::{self, HeadLimits};

    fn head(raw: &[u8]) -> RequestHead {
        let limits = HeadLimits { max_header_bytes: 8192, max_header_count: 64, max_uri_bytes: 4096 };
        let index = head::parse(raw, &limits).unwrap().unwrap();
        let len = index.len;
        index.into_head(bytes::Bytes::copy_from_slice(&raw[..len]))
    }

    fn credentials() -> Vec<IamCredential> {
        vec![IamCredential {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            principal_arn: "arn:aws:iam::123456789012:user/a".into(),
            caller: "AKIDEXAMPLE".into(),
        }]
    }

    #[test]
    fn a_date_that_is_not_ascii_is_refused_not_a_panic() {
        // Found by the sigv4 fuzz target: the scope check sliced the date at byte 8.
        let raw = "GET / HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 2015083\u{e9}T123600Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n";
        let error = verify(&credentials(), &head(raw.as_bytes()), b"", 1_440_938_160).err().unwrap();
        assert_eq!(error.error.kind, ResponseType::InvalidSignature);
    }

    #[test]
    fn amz_dates_parse_strictly() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        for bad in
            ["20150830T123600", "2015-08-30T12:36:00Z", "20151330T123600Z", "20150830T243600Z", "19691231T235959Z"]
        {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_signature_by_the_published_example_key_verifies() {
        // Signed here with the signer, checked by the verifier: the two agree on the canonical form.
        let date = "20150830T123600Z";
        let headers = [("host", "example.com"), ("x-amz-date", date)];
        let request = sigv4::Request {
            method: "POST",
            path: "/prod/a%20b",
            query: "z=1&a=2",
            headers: &headers,
            payload_hash: &sigv4::payload_hash(b"{}"),
        };
        let scope = sigv4::Scope { amz_date: date, region: "eu-west-1", service: "execute-api" };
        let creds = credentials();
        let key = sigv4::Credentials { access_key_id: "AKIDEXAMPLE", secret_access_key: &creds[0].secret_access_key };
        let authorization = sigv4::sign(key, &scope, &request);
        let raw = format!(
            "POST /prod/a%20b?z=1&a=2 HTTP/1.1\r\nHost: example.com\r\nX-Amz-Date: {date}\r\nAuthorization: {authorization}\r\nContent-Length: 2\r\n\r\n"
        );
        let h = head(raw.as_bytes());
        let identity = verify(&creds, &h, b"{}", 1_440_938_160 + 299).ok().expect("verifies");
        assert_eq!(identity.account_id, "123456789012");
        assert!(verify(&creds, &h, b"{ }", 1_440_938_160).is_err(), "another body");
        let late = verify(&creds, &h, b"{}", 1_440_938_160 + 301).err().unwrap();
        assert_eq!(late.error.kind, ResponseType::ExpiredSignature);
    }
}
