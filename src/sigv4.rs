//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) on aws-lc-rs: the one implementation that signs
//! what Portico sends to AWS (the Lambda Invoke API) and verifies what clients send to IAM-
//! authorized routes ([`crate::auth::iam`]).
//!
//! [`sign`] computes the `Authorization` value of a request from its method, its path and query
//! as they go on the wire, the headers to sign, and the payload's SHA-256; the caller writes the
//! headers. The canonical form follows AWS's rules for every service but S3: each path segment
//! URI-encoded again (so `%3A` is signed as `%253A`), query pairs encoded and sorted, header names
//! lower-case and values trimmed with inner runs of spaces collapsed, signed in name order.
//!
//! Must not: know HTTP connections or where the credentials come from. Cost: a few small strings
//! and five HMACs per request.

use aws_lc_rs::{digest, hmac};

/// The key to sign with (a temporary credential's token is a header the caller signs and sends).
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
}

/// One request to sign.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (already percent-encoded).
    pub path: &'a str,
    /// The query as sent, without `?` (already percent-encoded).
    pub query: &'a str,
    /// Headers to sign, with `host` and `x-amz-date` among them (any case, any order).
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the payload ([`payload_hash`]).
    pub payload_hash: &'a str,
}

/// The scope of a signature: `YYYYMMDD/region/service/aws4_request`.
pub struct Scope<'a> {
    /// `x-amz-date`: `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// Hex SHA-256 of `payload`.
pub fn payload_hash(payload: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, payload).as_ref())
}

/// `x-amz-date` for a Unix time.
pub fn amz_date(unix_s: u64) -> String {
    let days = unix_s / 86_400;
    let (y, m, d) = crate::request_time::civil(days);
    let s = unix_s % 86_400;
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, (s / 60) % 60, s % 60)
}

/// The canonical request (AWS's step 1), for logs and tests.
pub fn canonical_request(r: &Request<'_>) -> String {
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let mut out = String::with_capacity(256);
    out.push_str(r.method);
    out.push('\n');
    out.push_str(&canonical_path(r.path));
    out.push('\n');
    out.push_str(&canonical_query(r.query));
    out.push('\n');
    for (name, value) in &headers {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers(&headers));
    out.push('\n');
    out.push_str(r.payload_hash);
    out
}

/// The `Authorization` header value for `r` under `scope`.
pub fn sign(credentials: Credentials<'_>, scope: &Scope<'_>, r: &Request<'_>) -> String {
    let signature = signature(credentials.secret_access_key, scope, &canonical_request(r));
    authorization(credentials, scope, r.headers, &signature)
}

/// The hex signature of a canonical request under `scope` with `secret_access_key` (AWS's steps
/// 2–4): what a verifier compares with the signature a client sent.
pub fn signature(secret_access_key: &str, scope: &Scope<'_>, canonical: &str) -> String {
    let date = &scope.amz_date[..scope.amz_date.len().min(8)];
    let to_sign = string_to_sign(scope, canonical);
    let mut key = hmac_sha256(format!("AWS4{secret_access_key}").as_bytes(), date.as_bytes());
    for part in [scope.region, scope.service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hex(&hmac_sha256(&key, to_sign.as_bytes()))
}

/// AWS's string to sign: algorithm, date, scope, hash of the canonical request.
pub fn string_to_sign(scope: &Scope<'_>, canonical: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        scope.amz_date,
        credential_scope(scope),
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    )
}

/// How long [`sign`]'s value is for these credentials, scope and signed headers: it does not
/// depend on what is signed, so a writer can keep room for it before the payload is known. Nothing
/// is hashed.
pub fn authorization_len(credentials: Credentials<'_>, scope: &Scope<'_>, headers: &[(&str, &str)]) -> usize {
    authorization(credentials, scope, headers, &"0".repeat(64)).len()
}

/// `YYYYMMDD/region/service/aws4_request`.
fn credential_scope(scope: &Scope<'_>) -> String {
    let date = &scope.amz_date[..scope.amz_date.len().min(8)];
    format!("{date}/{}/{}/aws4_request", scope.region, scope.service)
}

/// The `Authorization` value around a signature.
fn authorization(credentials: Credentials<'_>, scope: &Scope<'_>, headers: &[(&str, &str)], signature: &str) -> String {
    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={signature}",
        credentials.access_key_id,
        credential_scope(scope),
        names.join(";")
    )
}

fn signed_headers(sorted: &[(String, String)]) -> String {
    sorted.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// RFC 3986 unreserved characters stay; everything else is `%XX` (upper-case hex).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    uri_encode(path, true)
}

fn canonical_query(query: &str) -> String {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&decode(k), false), uri_encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own worked example (IAM `ListUsers`, AWS General Reference, "Signature Version 4
    /// signing process"): the same key, date and request give the published signature.
    #[test]
    fn aws_published_example() {
        let credentials =
            Credentials { access_key_id: "AKIDEXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Host", "iam.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let request = Request {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            payload_hash: &payload_hash(b""),
        };
        let scope = Scope { amz_date: "20150830T123600Z", region: "us-east-1", service: "iam" };
        assert_eq!(
            payload_hash(canonical_request(&request).as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            sign(credentials, &scope, &request),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn paths_are_encoded_again_and_queries_sorted() {
        assert_eq!(
            canonical_path("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations"),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"
        );
        assert_eq!(canonical_query("b=2&a=x%20y&Qualifier=live"), "Qualifier=live&a=x%20y&b=2");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    }
}
