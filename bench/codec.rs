//! Request-head parsing: httparse plus Portico's strict checks, for a typical browser-ish request
//! and a minimal wrk-style one.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use portico::http::head::{self, HeadLimits};

const LIMITS: HeadLimits = HeadLimits { max_header_bytes: 10240, max_header_count: 100, max_uri_bytes: 8192 };

const SMALL: &[u8] = b"GET /prod/pets/7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const TYPICAL: &[u8] = b"GET /prod/pets/7?expand=owner&limit=10 HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: application/json, text/plain, */*\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl\r\n\
X-Request-Id: 6f1c1f0e-3b0e-4a43-9d5e-2b1f0c7d9e11\r\n\
Connection: keep-alive\r\n\
Cookie: session=abcdef0123456789; theme=dark\r\n\r\n";

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("head_parse");
    for (name, raw) in [("small", SMALL), ("typical", TYPICAL)] {
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(name, |b| b.iter(|| head::parse(black_box(raw), &LIMITS).unwrap().unwrap().len));
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
