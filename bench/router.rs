//! Route lookup in a table of 1,000 routes: literal hits, parameter hits, greedy fall-through, misses.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::http::Method;
use portico::route::{Router, key};
use portico::table::Route;

fn routes() -> Vec<Route> {
    let mut keys = Vec::new();
    for i in 0..250 {
        keys.push(format!("GET /svc{i}/items"));
        keys.push(format!("GET /svc{i}/items/{{id}}"));
        keys.push(format!("POST /svc{i}/items/{{id}}/events"));
        keys.push(format!("ANY /svc{i}/files/{{proxy+}}"));
    }
    keys.iter()
        .map(|k| {
            let (parsed, params) = key::parse(k).unwrap();
            Route { key: k.clone(), parsed, params }
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let routes = routes();
    assert_eq!(routes.len(), 1000);
    let router = Router::build(&routes, false).unwrap();
    let mut g = c.benchmark_group("route_lookup_1000");
    for (name, method, path) in [
        ("literal", Method::Get, &b"/svc137/items"[..]),
        ("param", Method::Get, b"/svc137/items/12345"),
        ("param_deep", Method::Post, b"/svc249/items/abc/events"),
        ("greedy", Method::Get, b"/svc3/files/a/b/c/d.txt"),
        ("miss", Method::Get, b"/nope/x/y"),
    ] {
        g.bench_function(name, |b| b.iter(|| router.find(black_box(method), black_box(path)).map(|m| m.route)));
    }
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
