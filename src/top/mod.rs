//! `portico top`: live per-route request rates, error ratios and latency percentiles in the
//! terminal, computed from two scrapes of the admin listener's `/metrics`.
//!
//! Reads only Portico's own exposition (see [`crate::metrics::expose`]), so its parser handles
//! exactly that shape: `name{labels} value` lines, label values with `\\`, `\"` and `\n` escapes.
//! Runs in the CLI process, never in the gateway.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error("cannot reach the admin listener at {addr}: {source} (is [admin] configured and the gateway running?)")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("the admin listener at {addr} answered {status} to /metrics")]
    Status { addr: SocketAddr, status: String },
}

/// One route's cumulative values in one scrape.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RouteValues {
    pub requests: f64,
    pub errors_4xx: f64,
    pub errors_5xx: f64,
    /// `(upper bound in seconds, cumulative count)`, `+Inf` last.
    pub latency: Vec<(f64, f64)>,
}

/// Keyed by (api, stage, route).
pub type Scrape = BTreeMap<(String, String, String), RouteValues>;

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub api: String,
    pub stage: String,
    pub route: String,
    pub rps: f64,
    pub ratio_4xx: f64,
    pub ratio_5xx: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Scrapes `/metrics`, with the admin token as a bearer token when one is given.
pub fn fetch(addr: SocketAddr, token: Option<&str>) -> Result<String, TopError> {
    let connect = |source| TopError::Connect { addr, source };
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(connect)?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(connect)?;
    let authorization = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!("GET /metrics HTTP/1.1\r\nHost: portico\r\n{authorization}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(connect)?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(connect)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_owned();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(TopError::Status { addr, status });
    }
    Ok(body.to_owned())
}

/// Reads the per-route series out of an exposition.
pub fn parse(text: &str) -> Scrape {
    let mut out = Scrape::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, rest)) = line.split_once('{') else { continue };
        let Some((labels, value)) = rest.rsplit_once("} ") else { continue };
        let Ok(value) = value.trim().parse::<f64>() else { continue };
        let labels = parse_labels(labels);
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (Some(api), Some(stage), Some(route)) = (get("api"), get("stage"), get("route")) else { continue };
        if api.is_empty() {
            continue;
        }
        let entry = out.entry((api, stage, route)).or_default();
        match name {
            "portico_requests_total" => entry.requests = value,
            "portico_requests_4xx_total" => entry.errors_4xx = value,
            "portico_requests_5xx_total" => entry.errors_5xx = value,
            "portico_request_duration_seconds_bucket" => {
                let le = get("le").and_then(|l| if l == "+Inf" { Some(f64::INFINITY) } else { l.parse().ok() });
                if let Some(le) = le {
                    entry.latency.push((le, value));
                }
            }
            _ => {}
        }
    }
    out
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if name.is_empty() || chars.next() != Some('"') {
            return out;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((name.trim_start_matches(',').to_owned(), value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

/// Rates and percentiles over the interval between two scrapes, busiest routes first.
pub fn rows(before: &Scrape, after: &Scrape, elapsed: Duration) -> Vec<Row> {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut rows: Vec<Row> = after
        .iter()
        .map(|((api, stage, route), now)| {
            let then = before.get(&(api.clone(), stage.clone(), route.clone())).cloned().unwrap_or_default();
            let requests = (now.requests - then.requests).max(0.0);
            let ratio = |a: f64, b: f64| if requests > 0.0 { ((a - b) / requests).max(0.0) } else { 0.0 };
            let buckets: Vec<(f64, f64)> = now
                .latency
                .iter()
                .map(|&(le, c)| {
                    let prev = then.latency.iter().find(|(l, _)| *l == le).map_or(0.0, |&(_, c)| c);
                    (le, (c - prev).max(0.0))
                })
                .collect();
            Row {
                api: api.clone(),
                stage: stage.clone(),
                route: route.clone(),
                rps: requests / secs,
                ratio_4xx: ratio(now.errors_4xx, then.errors_4xx),
                ratio_5xx: ratio(now.errors_5xx, then.errors_5xx),
                p50_ms: quantile(&buckets, 0.50).map(|s| s * 1e3),
                p99_ms: quantile(&buckets, 0.99).map(|s| s * 1e3),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.rps.total_cmp(&a.rps).then_with(|| a.route.cmp(&b.route)));
    rows
}

/// A quantile from cumulative buckets, interpolated linearly inside the bucket it falls in (as
/// Prometheus's `histogram_quantile` does). `None` without observations.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let width = count - lower.1;
            let fraction = if width > 0.0 { (rank - lower.1) / width } else { 1.0 };
            return Some(lower.0 + (le - lower.0) * fraction);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

/// The table as text.
pub fn render(rows: &[Row], addr: SocketAddr, interval: Duration) -> String {
    let mut out = format!(
        "portico top — {addr}, over {:.1} s\n{:<16} {:<10} {:<32} {:>10} {:>7} {:>7} {:>9} {:>9}\n",
        interval.as_secs_f64(),
        "API",
        "STAGE",
        "ROUTE",
        "REQ/S",
        "4XX%",
        "5XX%",
        "P50 ms",
        "P99 ms"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    for r in rows {
        out.push_str(&format!(
            "{:<16} {:<10} {:<32} {:>10.1} {:>7.2} {:>7.2} {:>9} {:>9}\n",
            clip(&r.api, 16),
            clip(&r.stage, 10),
            clip(&r.route, 32),
            r.rps,
            r.ratio_4xx * 100.0,
            r.ratio_5xx * 100.0,
            ms(r.p50_ms),
            ms(r.p99_ms)
        ));
    }
    out
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width { s.to_owned() } else { s.chars().take(width - 1).chain(['…']).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# HELP portico_requests_total x
portico_requests_total{api="a",stage="prod",route="GET /x \"q\""} 10
portico_requests_5xx_total{api="a",stage="prod",route="GET /x \"q\""} 0
portico_request_duration_seconds_bucket{api="a",stage="prod",route="GET /x \"q\"",le="0.001"} 10
portico_request_duration_seconds_bucket{api="a",stage="prod",route="GET /x \"q\"",le="0.01"} 10
portico_request_duration_seconds_bucket{api="a",stage="prod",route="GET /x \"q\"",le="+Inf"} 10
portico_requests_total{api="",stage="",route=""} 3
"#;

    #[test]
    fn rates_ratios_and_percentiles_come_from_the_difference() {
        let after = BEFORE
            .replace("} 10\nportico_requests_5xx", "} 110\nportico_requests_5xx")
            .replace("\"} 0\n", "\"} 10\n")
            .replace("le=\"0.001\"} 10", "le=\"0.001\"} 60")
            .replace("le=\"0.01\"} 10", "le=\"0.01\"} 110")
            .replace("le=\"+Inf\"} 10", "le=\"+Inf\"} 110");
        let rows = rows(&parse(BEFORE), &parse(&after), Duration::from_secs(2));
        assert_eq!(rows.len(), 1, "the unmatched series is not a route");
        let r = &rows[0];
        assert_eq!(r.route, "GET /x \"q\"");
        assert_eq!(r.rps, 50.0);
        assert_eq!(r.ratio_5xx, 0.1);
        // 50 of 100 in the first bucket: the median is its upper bound; p99 interpolates in the second.
        assert!((r.p50_ms.unwrap() - 1.0).abs() < 1e-9);
        assert!((r.p99_ms.unwrap() - (1.0 + 9.0 * 49.0 / 50.0)).abs() < 1e-9);
        let text = render(&rows, "127.0.0.1:9901".parse().unwrap(), Duration::from_secs(2));
        assert!(text.contains("GET /x \"q\"") && text.contains("50.0"), "{text}");
    }
}
