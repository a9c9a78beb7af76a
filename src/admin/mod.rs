//! The admin listener: `/metrics`, `/healthz`, `/readyz`, `/config` (secrets redacted), and
//! `POST /cache/flush` and `/cache/purge`, on an address of its own (loopback unless the config says
//! otherwise). With an `[admin]` token, every endpoint but the two probes needs
//! `Authorization: Bearer <token>` (401 otherwise); a listener open to the network must have one.
//!
//! It runs on its own thread (at nice 10) with its own small runtime (epoll: it serves a scrape
//! every few seconds, not traffic), so a slow scrape or a stuck admin client never touches a worker. It reads
//! shared state only: the table slot, the metric shards (relaxed loads), the control flags.
//! One request per connection (`Connection: close`); heads over 8 KiB or slower than 5 s are cut.
//! Later features add endpoints in `respond`.

mod usage;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

use crate::control::Control;
use crate::metrics::expose;

const MAX_HEAD_BYTES: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the admin listener and serves it on a new thread.
pub fn start(addr: SocketAddr, control: Arc<Control>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new().name("portico-admin".into()).spawn(move || {
        crate::threads::deprioritize_this_thread("admin listener");
        let runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().enable_timer().build();
        match runtime {
            Ok(mut rt) => rt.block_on(serve(listener, control)),
            Err(e) => log::error!("admin listener: cannot start its runtime: {e}"),
        }
    })
}

async fn serve(listener: std::net::TcpListener, control: Arc<Control>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            log::error!("admin listener: {e}");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                monoio::spawn(connection(stream, control.clone()));
            }
            Err(e) => {
                log::warn!("admin listener: accept failed: {e}");
                monoio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(mut stream: TcpStream, control: Arc<Control>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let request = loop {
        let spare = Vec::with_capacity(1024);
        let (res, chunk) = match monoio::time::timeout(READ_TIMEOUT, stream.read(spare)).await {
            Ok(r) => r,
            Err(_) => return,
        };
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => buf.extend_from_slice(&chunk),
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let mut authorization = req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("authorization"));
                // Two Authorization fields are ambiguous: treated as none.
                let credentials = match (authorization.next(), authorization.next()) {
                    (Some(h), None) => Some(h.value.to_vec()),
                    _ => None,
                };
                break (req.method.unwrap_or("").to_owned(), req.path.unwrap_or("").to_owned(), credentials);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => {}
            _ => {
                let _ = stream.write_all(response(400, "text/plain", "bad request\n".into())).await;
                return;
            }
        }
    };
    let (method, target, credentials) = request;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, content_type, body) = if authorized(&control, path, credentials.as_deref()) {
        respond(&control, &method, path, query)
    } else {
        message(401, "a bearer token is required: Authorization: Bearer <[admin] token>")
    };
    // HEAD gets the length a GET would get, and no body.
    let out = if method == "HEAD" {
        response_with_length(status, content_type, body.len())
    } else {
        response(status, content_type, body)
    };
    let _ = stream.write_all(out).await;
}

/// Whether the request may see `path`: the probes (`/healthz`, `/readyz`) always; everything else
/// needs `Authorization: Bearer <token>` when the current table has an admin token (compared in
/// constant time, so the response time tells nothing about a guess).
fn authorized(control: &Control, path: &str, credentials: Option<&[u8]>) -> bool {
    if matches!(path, "/healthz" | "/readyz") {
        return true;
    }
    let table = control.table.load();
    let Some(token) = table.table.settings.admin.as_ref().and_then(|a| a.token.as_deref()) else {
        return true;
    };
    let given = credentials.and_then(|c| {
        let (scheme, rest) = c.split_at(c.iter().position(|&b| b == b' ')?);
        scheme.eq_ignore_ascii_case(b"bearer").then(|| crate::http::trim(rest))
    });
    given.is_some_and(|g| crate::auth::constant_time_eq(token.as_bytes(), g))
}

/// The endpoints. Returns status, content type and body.
fn respond(control: &Control, method: &str, path: &str, query: &str) -> (u16, &'static str, String) {
    if let Some(what) = path.strip_prefix("/cache/") {
        return if method == "POST" { cache_command(control, what, query) } else { method_not_allowed() };
    }
    if method != "GET" && method != "HEAD" {
        return method_not_allowed();
    }
    let generation = control.generation.load(Ordering::Acquire);
    match path {
        "/metrics" => {
            let mut text = expose::render(&control.metrics, generation);
            let table = control.table.load();
            let host = |i: usize| table.function_hosts.get(i).and_then(Option::as_ref);
            let gauges: Vec<expose::FunctionGauges<'_>> = table
                .table
                .functions
                .iter()
                .enumerate()
                .map(|(i, f)| expose::FunctionGauges {
                    name: &f.name,
                    in_flight: table.function_slots.get(i).filter(|s| s.limit() > 0).map(|s| s.in_flight()),
                    cold_starts: host(i).map(|h| h.counters.cold_starts.load(Ordering::Relaxed)),
                    queued: host(i).map(|h| h.queued() as u64),
                })
                .collect();
            expose::render_function_gauges(&mut text, &gauges);
            (200, expose::CONTENT_TYPE, text)
        }
        "/healthz" => (200, "text/plain", "ok\n".into()),
        "/usage" => usage::usage(control, query),
        "/readyz" => {
            let running = control.workers_running.load(Ordering::Acquire) as usize;
            if control.is_shutting_down() {
                (503, "text/plain", "draining\n".into())
            } else if running < control.workers {
                (503, "text/plain", format!("starting: {running} of {} workers running\n", control.workers))
            } else {
                (200, "text/plain", format!("ready: table generation {generation}, {running} workers\n"))
            }
        }
        "/config" => {
            let table = control.table.load();
            let mut view = serde_json::json!({ "generation": generation, "table": &table.table });
            redact(&mut view);
            match serde_json::to_string_pretty(&view) {
                Ok(text) => (200, "application/json", text + "\n"),
                Err(e) => (500, "application/json", serde_json::json!({ "message": e.to_string() }).to_string()),
            }
        }
        _ => (
            404,
            "application/json",
            "{\"message\":\"Not Found\",\"endpoints\":[\"/metrics\",\"/healthz\",\"/readyz\",\"/config\",\"POST /cache/flush\",\"POST /cache/purge\"]}\n".into(),
        ),
    }
}

fn method_not_allowed() -> (u16, &'static str, String) {
    (405, "application/json", "{\"message\":\"Method Not Allowed\"}\n".into())
}

/// Secrets in the table (API key values, cache invalidation keys and header secrets, the Redis
/// password, Lambda secret keys and tokens, local functions' environment values) are not shown.
fn redact(view: &mut serde_json::Value) {
    if view["table"]["settings"]["admin"]["token"].is_string() {
        view["table"]["settings"]["admin"]["token"] = "<redacted>".into();
    }
    if let Some(url) = view["table"]["settings"]["cluster"]["redis"].as_str() {
        view["table"]["settings"]["cluster"]["redis"] = crate::table::redact_url(url).into();
    }
    if let Some(keys) = view["table"]["api_keys"].as_array_mut() {
        for key in keys {
            key["value"] = "<redacted>".into();
        }
    }
    // Lambda credentials, and a local function's environment (where secrets are given).
    for function in view["table"]["functions"].as_array_mut().into_iter().flatten() {
        let credentials = &mut function["target"]["Lambda"]["credentials"];
        if credentials.is_object() {
            credentials["secret_access_key"] = "<redacted>".into();
            if credentials["session_token"].is_string() {
                credentials["session_token"] = "<redacted>".into();
            }
        }
        for pair in function["target"]["Local"]["env"].as_array_mut().into_iter().flatten() {
            if let Some(value) = pair.get_mut(1) {
                *value = "<redacted>".into();
            }
        }
    }
    // SigV4 credentials clients sign with.
    for credential in view["table"]["iam_credentials"].as_array_mut().into_iter().flatten() {
        credential["secret_access_key"] = "<redacted>".into();
        if credential["session_token"].is_string() {
            credential["session_token"] = "<redacted>".into();
        }
    }
    let Some(apis) = view["table"]["apis"].as_array_mut() else { return };
    for stage in apis.iter_mut().filter_map(|a| a["stages"].as_array_mut()).flatten() {
        let cache = &mut stage["cache"];
        if cache.is_object() {
            if let Some(keys) = cache["invalidate_api_keys"].as_array_mut() {
                keys.iter_mut().for_each(|k| *k = "<redacted>".into());
            }
            if let Some(pair) = cache["invalidate_header"].as_array_mut()
                && let Some(secret) = pair.get_mut(1)
            {
                *secret = "<redacted>".into();
            }
        }
    }
}

/// `POST /cache/flush?api=A&stage=S` drops a stage's cache on every worker;
/// `POST /cache/purge?api=A&stage=S&path=/pets/7` drops the entries of one path (as routed, without
/// the stage), whatever their other key parameters.
fn cache_command(control: &Control, what: &str, query: &str) -> (u16, &'static str, String) {
    let (Some(api), Some(stage)) = (query_param(query, "api"), query_param(query, "stage")) else {
        return message(400, "give the api and stage: ?api=NAME&stage=NAME");
    };
    let path = match what {
        "flush" => None,
        "purge" => match query_param(query, "path") {
            Some(p) if p.starts_with('/') => Some(p),
            _ => return message(400, "give the path to purge, as routed (without the stage): &path=/pets/7"),
        },
        _ => return (404, "application/json", "{\"message\":\"Not Found\"}\n".into()),
    };
    let table = control.table.load();
    let cached = table
        .table
        .apis
        .iter()
        .filter(|a| a.name == api)
        .flat_map(|a| &a.stages)
        .any(|s| s.name == stage && s.cache.is_some());
    if !cached {
        return message(404, &format!("no cached stage `{stage}` in API `{api}`"));
    }
    let command = crate::cache::command::Command { api, stage, path, removed: Default::default() };
    // The node layer first, so that no worker copies an entry back from it meanwhile.
    control.shared_cache.apply(&command);
    match control.cache_commands.run(command, Duration::from_secs(5)) {
        Some(removed) => {
            (200, "application/json", serde_json::json!({ "removed_entries": removed }).to_string() + "\n")
        }
        None => (503, "application/json", "{\"message\":\"workers did not answer in time\"}\n".into()),
    }
}

/// The percent-decoded value of the query parameter `name`.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// A JSON answer `{"message": ...}`.
fn message(status: u16, text: &str) -> (u16, &'static str, String) {
    (status, "application/json", serde_json::json!({ "message": text }).to_string() + "\n")
}

fn response(status: u16, content_type: &str, body: String) -> Vec<u8> {
    let mut out = response_with_length(status, content_type, body.len());
    out.extend_from_slice(body.as_bytes());
    out
}

fn response_with_length(status: u16, content_type: &str, length: usize) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nCache-Control: no-store\r\n{}Connection: close\r\n\r\n",
        if status == 401 { "WWW-Authenticate: Bearer realm=\"portico-admin\"\r\n" } else { "" }
    )
    .into_bytes()
}
