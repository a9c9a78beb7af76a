//! The Prometheus text exposition format (version 0.0.4): every shard summed, per-route series
//! labelled `api`, `stage`, `route`, per-worker metrics labelled `worker`.
//!
//! Runs on the admin thread; allocates freely (a scrape is rare). Reads the shards with relaxed
//! loads, never blocks a worker.

use std::fmt::Write;

use super::Metrics;
use super::cell::{Describe, Kind};
use super::histogram::{BOUNDS_US, Snapshot};
use super::series::{FunctionCounters, Labels, RouteCounters};

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric. `generation` is the loaded table's generation.
pub fn render(metrics: &Metrics, generation: u64) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let labels = metrics.registry.labels();
    render_series(&mut out, metrics, &labels);
    render_functions(&mut out, metrics);
    render_workers(&mut out, metrics);

    let gateway = metrics.gateway.values();
    for (d, v) in super::GatewayCounters::DESCRIBE.iter().zip(gateway) {
        header(&mut out, d);
        let _ = writeln!(out, "{} {v}", d.name);
    }
    let gauges: [(&str, &str, u64); 3] = [
        ("portico_config_generation", "Generation of the loaded table (1 at start, +1 per reload).", generation),
        ("portico_workers", "Worker threads.", metrics.shards.len() as u64),
        ("process_start_time_seconds", "Start time of the process since the Unix epoch.", metrics.started_unix_s),
    ];
    for (name, help, v) in gauges {
        header(&mut out, &Describe { name, help, kind: Kind::Gauge });
        let _ = writeln!(out, "{name} {v}");
    }
    render_process(&mut out);
    header(
        &mut out,
        &Describe { name: "portico_build_info", help: "Always 1; the label says the version.", kind: Kind::Gauge },
    );
    let _ = writeln!(out, "portico_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    out
}

fn render_series(out: &mut String, metrics: &Metrics, labels: &[Labels]) {
    // Sum each series over the workers once, then print metric by metric.
    let mut counters: Vec<Vec<u64>> = Vec::with_capacity(labels.len());
    let mut latency: Vec<Snapshot> = Vec::with_capacity(labels.len());
    let mut integration: Vec<Snapshot> = Vec::with_capacity(labels.len());
    for id in 0..labels.len() as u32 {
        let mut sum = vec![0u64; RouteCounters::DESCRIBE.len()];
        let (mut lat, mut integ) = (Snapshot::default(), Snapshot::default());
        for shard in &metrics.shards {
            if let Some(series) = shard.series.get(id) {
                for (total, v) in sum.iter_mut().zip(series.counters.values()) {
                    *total += v;
                }
                lat.add(&series.latency);
                integ.add(&series.integration_latency);
            }
        }
        counters.push(sum);
        latency.push(lat);
        integration.push(integ);
    }
    for (i, d) in RouteCounters::DESCRIBE.iter().enumerate() {
        header(out, d);
        for (l, values) in labels.iter().zip(&counters) {
            let _ = write!(out, "{}{{", d.name);
            route_labels(out, l);
            let _ = writeln!(out, "}} {}", values[i]);
        }
    }
    let histograms = [
        ("portico_request_duration_seconds", "Request head received to response written (AWS Latency).", &latency),
        (
            "portico_integration_duration_seconds",
            "Request sent to the upstream to its response head received (AWS IntegrationLatency).",
            &integration,
        ),
    ];
    let label_texts: Vec<String> = labels
        .iter()
        .map(|l| {
            let mut text = String::new();
            route_labels(&mut text, l);
            text
        })
        .collect();
    for (name, help, snapshots) in histograms {
        histogram(out, name, help, label_texts.iter().map(String::as_str).zip(snapshots.iter()));
    }
}

/// One histogram metric: a row per label set (`labels` written as they go inside the braces).
fn histogram<'a>(out: &mut String, name: &str, help: &str, rows: impl Iterator<Item = (&'a str, &'a Snapshot)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (labels, s) in rows {
        let mut cumulative = 0;
        for (i, count) in s.buckets.iter().enumerate() {
            cumulative += count;
            match BOUNDS_US.get(i) {
                Some(&b) => {
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}", b as f64 / 1e6);
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum_us as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
    }
}

/// Per-function series, summed over workers, labelled `function`.
fn render_functions(out: &mut String, metrics: &Metrics) {
    let names = metrics.function_registry.labels();
    // Id 0 is no function.
    let rows: Vec<(String, Vec<u64>, Snapshot)> = (1..names.len() as u32)
        .map(|id| {
            let mut sum = vec![0u64; FunctionCounters::DESCRIBE.len()];
            let mut duration = Snapshot::default();
            for shard in &metrics.shards {
                if let Some(series) = shard.functions.get(id) {
                    for (total, v) in sum.iter_mut().zip(series.counters.values()) {
                        *total += v;
                    }
                    duration.add(&series.duration);
                }
            }
            let mut labels = String::from("function=\"");
            escape(&mut labels, &names[id as usize]);
            labels.push('"');
            (labels, sum, duration)
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    for (i, d) in FunctionCounters::DESCRIBE.iter().enumerate() {
        header(out, d);
        for (labels, values, _) in &rows {
            let _ = writeln!(out, "{}{{{labels}}} {}", d.name, values[i]);
        }
    }
    let help = "Invocation sent to its answer read, as the gateway sees it (AWS Lambda Duration).";
    histogram(out, "portico_function_duration_seconds", help, rows.iter().map(|(l, _, d)| (l.as_str(), d)));
}

/// What the loaded table knows of each function now: invocations in flight (for functions with a
/// concurrency limit) and processes started (local functions).
pub struct FunctionGauges<'a> {
    pub name: &'a str,
    pub in_flight: Option<u32>,
    pub cold_starts: Option<u64>,
    /// Invocations waiting for a handler process (local functions).
    pub queued: Option<u64>,
}

/// Appends the functions' gauges to a scrape.
pub fn render_function_gauges(out: &mut String, gauges: &[FunctionGauges<'_>]) {
    type Value = fn(&FunctionGauges<'_>) -> Option<u64>;
    let metrics: [(&str, &str, Kind, Value); 3] = [
        (
            "portico_function_concurrency",
            "Invocations in flight, for functions with a concurrency limit (AWS Lambda ConcurrentExecutions).",
            Kind::Gauge,
            |g| g.in_flight.map(u64::from),
        ),
        (
            "portico_function_cold_starts_total",
            "Handler processes started, for local functions (each start is a cold start).",
            Kind::Counter,
            |g| g.cold_starts,
        ),
        (
            "portico_function_queued",
            "Invocations waiting for a handler process, for local functions.",
            Kind::Gauge,
            |g| g.queued,
        ),
    ];
    for (name, help, kind, value) in metrics {
        if gauges.iter().all(|g| value(g).is_none()) {
            continue;
        }
        header(out, &Describe { name, help, kind });
        for g in gauges {
            if let Some(v) = value(g) {
                let mut labels = String::new();
                escape(&mut labels, g.name);
                let _ = writeln!(out, "{name}{{function=\"{labels}\"}} {v}");
            }
        }
    }
}

fn render_workers(out: &mut String, metrics: &Metrics) {
    let values: Vec<Vec<u64>> = metrics.shards.iter().map(|s| s.worker.values()).collect();
    for (i, d) in super::WorkerCounters::DESCRIBE.iter().enumerate() {
        header(out, d);
        for (worker, v) in values.iter().enumerate() {
            let _ = writeln!(out, "{}{{worker=\"{worker}\"}} {}", d.name, v[i]);
        }
    }
}

/// The standard `process_*` metrics, from `/proc/self` (Linux). A value that cannot be read is left
/// out rather than reported as zero.
fn render_process(out: &mut String) {
    // SAFETY: sysconf only reads its integer argument.
    let (page, ticks) = unsafe { (libc::sysconf(libc::_SC_PAGESIZE), libc::sysconf(libc::_SC_CLK_TCK)) };
    let statm = std::fs::read_to_string("/proc/self/statm").ok();
    let rss_pages = statm.as_deref().and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok());
    if let (Some(pages), true) = (rss_pages, page > 0) {
        header(out, &Describe { name: "process_resident_memory_bytes", help: "Resident memory.", kind: Kind::Gauge });
        let _ = writeln!(out, "process_resident_memory_bytes {}", pages * page as u64);
    }
    // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so count
    // from the closing parenthesis.
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let cpu = stat.as_deref().and_then(|s| {
        let rest = &s[s.rfind(')')? + 2..];
        let mut fields = rest.split_whitespace().skip(11);
        Some(fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?)
    });
    if let (Some(t), true) = (cpu, ticks > 0) {
        header(
            out,
            &Describe { name: "process_cpu_seconds_total", help: "User and system CPU time.", kind: Kind::Counter },
        );
        let _ = writeln!(out, "process_cpu_seconds_total {}", t as f64 / ticks as f64);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        header(out, &Describe { name: "process_open_fds", help: "Open file descriptors.", kind: Kind::Gauge });
        let _ = writeln!(out, "process_open_fds {}", fds.count());
    }
}

fn header(out: &mut String, d: &Describe) {
    let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", d.name, d.help, d.name, d.kind.as_str());
}

fn route_labels(out: &mut String, l: &Labels) {
    out.push_str("api=\"");
    escape(out, &l.api);
    out.push_str("\",stage=\"");
    escape(out, &l.stage);
    out.push_str("\",route=\"");
    escape(out, &l.route);
    out.push('"');
}

/// Label values escape backslash, double quote and line feed.
fn escape(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_shards_and_escapes_labels() {
        let metrics = Metrics::new(2);
        let id = metrics.series_id(Labels { api: "a\"pi".into(), stage: "prod".into(), route: "GET /x\\y".into() });
        for shard in &metrics.shards {
            let s = shard.series.get(id).expect("series allocated");
            s.counters.requests.add(2);
            s.latency.observe_us(120);
        }
        metrics.shards[1].worker.connections_open.set(5);
        let text = render(&metrics, 3);
        assert!(
            text.contains("portico_requests_total{api=\"a\\\"pi\",stage=\"prod\",route=\"GET /x\\\\y\"} 4\n"),
            "{text}"
        );
        assert!(text.contains(
            "portico_request_duration_seconds_bucket{api=\"a\\\"pi\",stage=\"prod\",route=\"GET /x\\\\y\",le=\"0.00025\"} 2\n"
        ));
        assert!(text.contains("portico_connections_open{worker=\"1\"} 5\n"));
        assert!(text.contains("portico_config_generation 3\n"));
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "));
        assert!(text.contains("\nprocess_open_fds "));
    }
}
