#![no_main]
//! A function authorizer's answer, any bytes, both answer forms: never a panic; what is accepted
//! evaluates against a method ARN. And IAM's wildcard match on data-derived pattern and text
//! (linear, so no input makes it slow).
use libfuzzer_sys::fuzz_target;
use portico::auth::function::policy::{evaluate, glob, read};

fuzz_target!(|data: &[u8]| {
    for simple in [false, true] {
        if let Ok(answer) = read(data, simple) {
            let _ = evaluate(&answer.decision, "arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/pets/7");
        }
    }
    let split = data.first().map_or(0, |&b| b as usize % (data.len().max(1)));
    let (pattern, text) = data.split_at(split);
    if glob(pattern, text) && !pattern.contains(&b'*') && !pattern.contains(&b'?') {
        assert_eq!(pattern, text, "without wildcards only the same text matches");
    }
});
