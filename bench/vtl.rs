//! Mapping templates' per-request cost: the seed's template (`$input.path('$')`, three
//! property reads, `$context.requestId`) over a 1 KB JSON body, which parses the body once;
//! a foreach over an array with `$foreach.hasNext`; and a template with no directives,
//! which only copies. Target: ≤ 2 µs for the seed over 1 KB. The request maps are built
//! inside the measured loop, as the gateway builds them per request.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::vtl::{Limits, Request, Template, Value};

const SEED: &str = r#"#set($inputRoot = $input.path('$'))
{
"customer_name": "$inputRoot.name",
"customer_email": "$inputRoot.email",
"request_id": "$context.requestId"
}"#;

const LOOP: &str = r##"#set($r = $input.path('$'))
[#foreach($t in $r.tags)"$t"#if($foreach.hasNext),#end#end]"##;

/// A 1 KB body with the seed's fields.
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

fn request(body: &str) -> Request<'_> {
    let ctx = Value::map(vec![
        (Value::str("requestId"), Value::str("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")),
        (Value::str("stage"), Value::str("prod")),
    ]);
    Request { body, params: Value::map(vec![]).into(), context: ctx, stage_variables: Value::map(vec![]) }
}

fn render(c: &mut Criterion) {
    let body = body();
    let limits = Limits::default();
    let seed = Template::compile(SEED).expect("the seed compiles");
    let looped = Template::compile(LOOP).expect("compiles");
    let plain = Template::compile(r#"{"static": true, "source": "portico"}"#).expect("compiles");
    let mut out = String::with_capacity(4096);
    seed.render(request(&body), &limits, &mut out).expect("renders");
    assert!(out.contains("\"customer_name\": \"Ada Lovelace\""), "{out}");
    c.bench_function("vtl/seed template, 1KB body", |b| {
        b.iter(|| {
            out.clear();
            seed.render(request(black_box(&body)), &limits, &mut out).map(drop)
        })
    });
    c.bench_function("vtl/foreach over 12 tags, 1KB body", |b| {
        b.iter(|| {
            out.clear();
            looped.render(request(black_box(&body)), &limits, &mut out).map(drop)
        })
    });
    c.bench_function("vtl/no directives", |b| {
        b.iter(|| {
            out.clear();
            plain.render(request(black_box(&body)), &limits, &mut out).map(drop)
        })
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
