//! The per-request cost of observability on a worker: counting a request into its series, and
//! rendering an access log line (AWS's JSON and CLF presets) into a worker's log buffer.

use std::sync::Arc;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::access_log::format::{self, Fields};
use portico::access_log::sink;
use portico::config::log_format;
use portico::metrics::Metrics;
use portico::metrics::series::Labels;

fn fields() -> Fields<'static> {
    Fields {
        request_id: "Vn3BchF1oAMEbNQ=",
        source_ip: "127.0.0.1".parse().unwrap(),
        user_agent: Some(b"wrk/4.2.0"),
        method: b"GET",
        route_key: "GET /pets/{id}",
        resource_path: "/pets/{id}",
        path: b"/prod/pets/7",
        protocol: "HTTP/1.1",
        status: 200,
        response_length: 35,
        latency_us: 87,
        integration_latency_us: Some(61),
        integration_status: Some(200),
        integration_error: None,
        error: None,
        time_ms: 1_795_600_799_123,
        stage: "prod",
        api: "petstore",
        host: Some(b"api.example.com"),
        trace_id: None,
        client_cert: None,
        api_key: None,
        authorized: Box::leak(Box::new(portico::context::auth::Authorized::None)),
        authorizer_error: None,
        validation_error: None,
        websocket: None,
    }
}

fn observe(c: &mut Criterion) {
    let metrics = Metrics::new(1);
    let id = metrics.series_id(Labels { api: "petstore".into(), stage: "prod".into(), route: "GET /pets/{id}".into() });
    let series = metrics.shards[0].series.get(id).unwrap();
    c.bench_function("count_request", |b| {
        b.iter(|| {
            let c = &series.counters;
            c.requests.inc();
            c.bytes_in.add(black_box(120));
            c.bytes_out.add(black_box(180));
            series.latency.observe_us(black_box(87));
            series.integration_latency.observe_us(black_box(61));
        })
    });

    let f = fields();
    let mut g = c.benchmark_group("access_log_line");
    for name in ["json", "clf"] {
        let parts = log_format::compile(log_format::preset(name, false).unwrap(), |_| None).unwrap();
        let json = log_format::is_json(&parts);
        let mut out = Vec::with_capacity(64 * 1024);
        g.bench_function(format!("render_{name}"), |b| {
            b.iter(|| {
                out.clear();
                format::render(&mut out, black_box(&parts), json, black_box(&f));
            })
        });
        let (logs, _writer) = sink::start(1, metrics.clone()).unwrap();
        let destination: Arc<str> = "/dev/null".into();
        g.bench_function(format!("append_{name}"), |b| {
            b.iter(|| logs[0].append(&destination, 256 * 1024, |out| format::render(out, &parts, json, &f)))
        });
    }
    g.finish();
}

criterion_group!(benches, observe);
criterion_main!(benches);
