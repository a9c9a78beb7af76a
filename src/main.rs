//! The `portico` binary: a short `main` that matches on a mode. `anyhow` lives only here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portico::loaded::LoadedTable;
use portico::table::{self, Integration, Protocol, RouteKey};

#[global_allocator]
static GLOBAL: portico::alloc::Allocator = portico::alloc::Allocator;

#[derive(Parser)]
#[command(name = "portico", version, about = "A self-hosted API gateway with Amazon API Gateway semantics")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Config file (TOML).
        #[arg(short, long, conflicts_with = "table", required_unless_present = "table")]
        config: Option<PathBuf>,
        /// A compiled table from `portico compile`, instead of a config.
        #[arg(long)]
        table: Option<PathBuf>,
    },
    /// Validate a config: print every error with file, line and column.
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Compile a config into a table file that `serve --table` loads.
    Compile {
        #[arg(short, long)]
        config: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Live per-route request rates, error ratios and latencies, from the admin listener's /metrics.
    Top {
        /// The admin listener's address (`[admin] listen`).
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: std::net::SocketAddr,
        /// Seconds between refreshes.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Print one table (two scrapes `interval` apart) and exit, for scripts.
        #[arg(long)]
        once: bool,
        /// A file holding the admin listener's bearer token (`[admin] token_file`); the
        /// environment variable PORTICO_ADMIN_TOKEN works too.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Build the event for one request, invoke its route's function and print the event, the
    /// function's answer and what a client would get (like `sam local invoke`, on the gateway's
    /// own code).
    Invoke {
        #[arg(short, long)]
        config: PathBuf,
        /// The route key, as configured: `GET /pets/{id}` (default: the route `--path` matches).
        #[arg(long)]
        route: Option<String>,
        /// The request path after the stage, with a query if wanted: `/pets/7?verbose=1`.
        #[arg(long)]
        path: String,
        /// The HTTP method (default: the route's, or GET).
        #[arg(long, short = 'X')]
        method: Option<String>,
        /// The API, when several have the route.
        #[arg(long)]
        api: Option<String>,
        /// The stage (default: the API's first).
        #[arg(long)]
        stage: Option<String>,
        /// A request header, `Name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// The request body.
        #[arg(long, short = 'd', conflicts_with = "body_file")]
        body: Option<String>,
        /// The request body, from a file.
        #[arg(long)]
        body_file: Option<PathBuf>,
    },
    /// Run one request through its route's non-proxy integration, as AWS's TestInvokeMethod
    /// does: print the integration request the mapping renders, call the integration (unless
    /// --no-call), and print its answer and the method response the client would get.
    TestInvoke {
        #[arg(short, long)]
        config: PathBuf,
        /// The route key, as configured: `POST /orders/{id}`.
        #[arg(long)]
        route: Option<String>,
        /// The request path after the stage (default: the route key's, without parameters).
        #[arg(long)]
        path: Option<String>,
        /// The API, when several have the route.
        #[arg(long)]
        api: Option<String>,
        /// The stage (default: the API's first).
        #[arg(long)]
        stage: Option<String>,
        /// A request header, `Name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// The request body; `@FILE` reads it from a file.
        #[arg(long, short = 'd')]
        body: Option<String>,
        /// Print the integration request and stop.
        #[arg(long)]
        no_call: bool,
    },
    /// Print the compiled routing table.
    Routes {
        #[arg(short, long, conflicts_with = "table", required_unless_present = "table")]
        config: Option<PathBuf>,
        #[arg(long)]
        table: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    portico::log::init();
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A config or table source, and how to read it again on reload.
#[derive(Clone)]
enum Source {
    Config(PathBuf),
    Table(PathBuf),
}

impl Source {
    fn from(config: Option<PathBuf>, table: Option<PathBuf>) -> Source {
        match (config, table) {
            (_, Some(t)) => Source::Table(t),
            (Some(c), None) => Source::Config(c),
            (None, None) => unreachable!("clap requires one of --config and --table"),
        }
    }

    fn load(&self) -> Result<LoadedTable, Vec<String>> {
        let table = match self {
            Source::Config(path) => portico::config::compile_file(path)
                .map_err(|es| es.iter().map(ToString::to_string).collect::<Vec<_>>())?,
            Source::Table(path) => table::file::read(path).map_err(|e| vec![e.to_string()])?,
        };
        LoadedTable::load(table).map_err(|e| vec![e.to_string()])
    }
}

fn print_errors(errors: &[String]) {
    for e in errors {
        eprintln!("{e}\n");
    }
    eprintln!("{} error{} found", errors.len(), if errors.len() == 1 { "" } else { "s" });
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve { config, table } => {
            let source = Source::from(config, table);
            let loaded = match source.load() {
                Ok(t) => t,
                Err(errors) => {
                    print_errors(&errors);
                    return Ok(ExitCode::FAILURE);
                }
            };
            let reload_source = source.clone();
            portico::runtime::serve(loaded, Box::new(move || reload_source.load()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => match Source::Config(config.clone()).load() {
            Ok(t) => {
                println!(
                    "{}: ok — {} APIs, {} routes, {} listeners",
                    config.display(),
                    t.table.apis.len(),
                    t.route_count(),
                    t.table.listeners.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                print_errors(&errors);
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Compile { config, output } => match Source::Config(config).load() {
            Ok(t) => {
                table::file::write(&t.table, &output)?;
                println!("wrote {} ({} routes)", output.display(), t.route_count());
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                print_errors(&errors);
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Top { admin, interval, once, token_file } => {
            let token = match token_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", path.display()))?
                        .trim()
                        .to_owned(),
                ),
                None => std::env::var("PORTICO_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()),
            };
            top(admin, std::time::Duration::from_secs_f64(interval.clamp(0.1, 3600.0)), once, token.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Invoke { config, route, path, method, api, stage, headers, body, body_file } => {
            let body = match (body, body_file) {
                (Some(b), _) => b.into_bytes(),
                (None, Some(f)) => {
                    std::fs::read(&f).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?
                }
                (None, None) => Vec::new(),
            };
            let request = portico::invoke_cli::Request { api, stage, route, path, method, headers, body };
            Ok(run_once(config, |t| portico::invoke_cli::run(t, &request), print_invocation))
        }
        Command::TestInvoke { config, route, path, api, stage, headers, body, no_call } => {
            let body = match body {
                Some(b) => match b.strip_prefix('@') {
                    Some(file) => std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?,
                    None => b.into_bytes(),
                },
                None => Vec::new(),
            };
            let request = portico::test_invoke::Request { api, stage, route, path, headers, body, no_call };
            Ok(run_once(config, |t| portico::test_invoke::run(t, &request), print_test_invoke))
        }
        Command::Routes { config, table } => match Source::from(config, table).load() {
            Ok(t) => {
                print_routes(&t);
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                print_errors(&errors);
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// `invoke` and `test-invoke`: loads `config`, gives its local functions their processes for this
/// one run, runs `run` and prints what it reports.
fn run_once<R>(
    config: PathBuf,
    run: impl FnOnce(&LoadedTable) -> Result<R, String>,
    print: fn(&R) -> ExitCode,
) -> ExitCode {
    let mut loaded = match Source::Config(config).load() {
        Ok(t) => t,
        Err(errors) => {
            print_errors(&errors);
            return ExitCode::FAILURE;
        }
    };
    let hosts = portico::function::host::Hosts::default();
    let max_body = loaded.table.settings.limits.max_body_bytes;
    loaded.attach_hosts(hosts.assign(&loaded.table.functions, max_body));
    let report = run(&loaded);
    hosts.stop_all();
    match report {
        Ok(report) => print(&report),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn top(
    admin: std::net::SocketAddr,
    interval: std::time::Duration,
    once: bool,
    token: Option<&str>,
) -> anyhow::Result<()> {
    use portico::top;
    use std::io::IsTerminal;
    let mut before = (std::time::Instant::now(), top::parse(&top::fetch(admin, token)?));
    let clear = !once && std::io::stdout().is_terminal();
    loop {
        std::thread::sleep(interval);
        let now = std::time::Instant::now();
        let after = top::parse(&top::fetch(admin, token)?);
        let rows = top::rows(&before.1, &after, now - before.0);
        if clear {
            // Home and clear: redraw in place, like top(1).
            print!("\x1b[H\x1b[2J");
        }
        print!("{}", top::render(&rows, admin, now - before.0));
        if once {
            return Ok(());
        }
        before = (now, after);
    }
}

/// `portico invoke`'s output: the event, the payload, the response; exit status 0 when the client
/// would get a response from the function (whatever its status), 1 for a gateway error.
fn print_invocation(r: &portico::invoke_cli::Report) -> ExitCode {
    let pretty = |bytes: &[u8]| match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    let format = match r.format {
        table::PayloadFormat::V1 => "1.0",
        table::PayloadFormat::V2 => "2.0",
    };
    println!(
        "== event: api {} stage {} route `{}` -> function {} (payload {format})",
        r.api, r.stage, r.route, r.function
    );
    println!("{}", pretty(&r.event));
    match &r.payload {
        Some((payload, error)) => {
            let marked = if *error { ", marked as a function error" } else { "" };
            println!("== function answered ({} bytes{marked})", payload.len());
            println!("{}", pretty(payload));
        }
        None => println!("== no answer from the function"),
    }
    match &r.response {
        Ok((status, headers, body)) => {
            println!("== client gets");
            println!("HTTP/1.1 {status}");
            for (n, v) in headers {
                println!("{n}: {v}");
            }
            println!();
            println!("{}", String::from_utf8_lossy(body));
            ExitCode::SUCCESS
        }
        Err((status, body, reason)) => {
            println!("== client gets the gateway's error ({reason})");
            println!("HTTP/1.1 {status}");
            println!();
            println!("{body}");
            ExitCode::FAILURE
        }
    }
}

/// `portico test-invoke`'s output, stage by stage; exit status 0 when the client would get a
/// method response, 1 for a gateway error.
fn print_test_invoke(r: &portico::test_invoke::Report) -> ExitCode {
    let error = |(status, body, reason): &(u16, String, &str)| {
        println!("HTTP/1.1 {status}\n\n{body}\n(reason: {reason})");
        ExitCode::FAILURE
    };
    println!("== api {} stage {} route `{}` -> {}", r.api, r.stage, r.route, r.backend);
    println!("== integration request");
    match &r.integration_request {
        Ok(bytes) => println!("{}", String::from_utf8_lossy(bytes)),
        Err(e) => return error(e),
    }
    let Some(answered) = &r.integration_response else {
        println!("== not called (--no-call)");
        return ExitCode::SUCCESS;
    };
    println!("== integration response");
    match answered {
        Ok(a) => {
            println!("status {}{}", a.status, a.content_type.as_ref().map(|c| format!(", {c}")).unwrap_or_default());
            if let Some(selector) = &a.selector {
                println!("selector {selector:?}");
            }
            println!("{}", String::from_utf8_lossy(&a.body));
        }
        Err(e) => return error(e),
    }
    match &r.chosen {
        Some((i, Some(pattern))) => println!("== integration response #{} (selection_pattern {pattern:?})", i + 1),
        Some((i, None)) => println!("== integration response #{} (the default)", i + 1),
        None => println!("== no integration responses: the answer passes through"),
    }
    println!("== method response");
    match &r.method_response {
        Some(Ok((status, headers, body))) => {
            println!("HTTP/1.1 {status}");
            for (n, v) in headers {
                println!("{n}: {v}");
            }
            println!();
            println!("{}", String::from_utf8_lossy(body));
            ExitCode::SUCCESS
        }
        Some(Err(e)) => error(e),
        None => ExitCode::FAILURE,
    }
}

fn print_routes(t: &LoadedTable) {
    for l in &t.table.listeners {
        let apis: Vec<&str> = l.apis.iter().map(|&a| t.table.apis[a as usize].name.as_str()).collect();
        let domains: Vec<&str> = l.domains.iter().map(|&d| t.table.domains[d as usize].name.as_str()).collect();
        println!("listener {}: apis [{}] domains [{}]", l.addr, apis.join(", "), domains.join(", "));
    }
    for api in &t.table.apis {
        let kind = match api.protocol {
            Protocol::Http => "HTTP API",
            Protocol::Rest => "REST API",
        };
        let hosts = if api.hosts.is_empty() { "any host".to_owned() } else { api.hosts.join(", ") };
        println!("\napi {} ({kind}, {hosts})", api.name);
        // Priority order: the order in which the router would try them for one path.
        let mut order: Vec<usize> = (0..api.routes.len()).collect();
        order.sort_by_key(|&i| priority(&api.routes[i].parsed));
        for stage in &api.stages {
            let prefix = if stage.is_default() { String::new() } else { format!("/{}", stage.name) };
            println!("  stage {}", stage.name);
            for (rank, &i) in order.iter().enumerate() {
                let target = match &stage.integrations[i] {
                    Integration::Mock(m) => format!("mock {}", m.status),
                    Integration::HttpProxy(p) => {
                        format!("http_proxy {} (timeout {} ms)", p.uri, p.timeout_ms)
                    }
                    Integration::Mapped(m) => {
                        let backend = portico::test_invoke::describe(t, &m.backend);
                        format!(
                            "{backend} ({} request templates, {} responses, timeout {} ms)",
                            m.request.templates.len(),
                            m.responses.len(),
                            m.timeout_ms
                        )
                    }
                    Integration::Function(f) => {
                        let function = &t.table.functions[f.function as usize];
                        let format = match f.format {
                            portico::table::PayloadFormat::V1 => "1.0",
                            portico::table::PayloadFormat::V2 => "2.0",
                        };
                        format!("function {} (payload {format}, timeout {} ms)", function.name, f.timeout_ms)
                    }
                };
                let key = &api.routes[i].key;
                let shown = match &api.routes[i].parsed {
                    RouteKey::Default => format!("{prefix}/* ($default)"),
                    RouteKey::Path { .. } => key.replacen(' ', &format!(" {prefix}"), 1),
                    RouteKey::Message => format!("{prefix} {key} (WebSocket)"),
                };
                println!("    {:>3}. {:<40} -> {target}", rank + 1, shown);
            }
        }
    }
}

/// Sort key approximating the router's preference: more literal segments first, greedy and ANY
/// later, `$default` last.
fn priority(key: &RouteKey) -> (u8, Vec<u8>, u8) {
    use table::{RouteMethod, Segment};
    match key {
        RouteKey::Default | RouteKey::Message => (2, Vec::new(), 0),
        RouteKey::Path { method, segments } => {
            let shape = segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(_) => 0,
                    Segment::Param(_) => 1,
                    Segment::Greedy(_) => 2,
                })
                .collect();
            let greedy = segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
            (u8::from(greedy), shape, u8::from(*method == RouteMethod::Any))
        }
    }
}
