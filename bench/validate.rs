//! Request validation's per-request cost: a 1 KB JSON body checked against the seed's signup
//! schema (required, minLength/maxLength, `format: email`, an integer with minimum/maximum) —
//! parse and walk, what every request on a validated route pays — and a refused body, which also
//! builds the reasons. Target: ≤ 5 µs for the valid 1 KB body.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::table::validation::Model;

const SIGNUP: &str = r#"{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["name", "email"],
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "email": {"type": "string", "format": "email"},
    "age": {"type": "integer", "minimum": 13, "maximum": 120},
    "bio": {"type": "string", "maxLength": 2000},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 32}}
  }
}"#;

/// A valid body of about 1 KB: the seed's fields, a bio and tags to fill it.
fn body() -> String {
    let bio = "Mathematician and writer, chiefly known for work on the Analytical Engine. ".repeat(10);
    let tags: Vec<String> = (0..12).map(|i| format!("\"tag-{i:02}\"")).collect();
    let body = format!(
        r#"{{"name":"Ada Lovelace","email":"ada@example.com","age":36,"bio":"{bio}","tags":[{}]}}"#,
        tags.join(",")
    );
    assert!((900..1200).contains(&body.len()), "{} bytes", body.len());
    body
}

fn validate(c: &mut Criterion) {
    let schema = portico::schema::compile(&[Model { name: "Signup".into(), schema: SIGNUP.into() }]).expect("the seed");
    let good = body();
    let bad = good.replace("ada@example.com", "not-an-email");
    assert!(portico::schema::check(&schema[0], good.as_bytes()).is_ok());
    assert!(portico::schema::check(&schema[0], bad.as_bytes()).is_err());
    c.bench_function("validate/1KB body, seed schema, valid", |b| {
        b.iter(|| portico::schema::check(&schema[0], black_box(good.as_bytes())))
    });
    c.bench_function("validate/1KB body, parse alone", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(good.as_bytes())).map(drop))
    });
    c.bench_function("validate/1KB body, seed schema, refused", |b| {
        b.iter(|| portico::schema::check(&schema[0], black_box(bad.as_bytes())))
    });
}

criterion_group!(benches, validate);
criterion_main!(benches);
