#![no_main]
//! SigV4 verification of any request head (header and presigned forms, dates, scopes, signed
//! header lists): never a panic, and never a pass — nothing fuzzed is signed with the secret.
use libfuzzer_sys::fuzz_target;
use portico::auth::iam::verify;
use portico::http::head::{self, HeadLimits};
use portico::table::auth::IamCredential;

fuzz_target!(|data: &[u8]| {
    let credentials = [IamCredential {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
        principal_arn: "arn:aws:iam::123456789012:user/a".into(),
        caller: "AKIDEXAMPLE".into(),
    }];
    let limits = HeadLimits { max_header_bytes: 8192, max_header_count: 64, max_uri_bytes: 4096 };
    let Ok(Some(index)) = head::parse(data, &limits) else { return };
    let len = index.len;
    let h = index.into_head(bytes::Bytes::copy_from_slice(&data[..len]));
    let body = &data[len..];
    for now in [0, 1_440_938_160, 1_800_000_000] {
        assert!(verify(&credentials, &h, body, now).is_err(), "nothing fuzzed carries a valid signature");
    }
});
