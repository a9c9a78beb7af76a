//! The per-core runtime: one monoio worker thread per core, each with its own io_uring (or epoll)
//! driver, its own `SO_REUSEPORT` listening sockets, its own upstream pool — no work stealing and no
//! shared locks. The calling thread becomes the control thread: it handles SIGHUP (recompile and
//! swap the table), SIGTERM/SIGINT (drain and exit).

pub mod listener;
pub mod serve;

use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

use crate::control::Control;
use crate::worker::Worker;

use crate::access_log::sink::{self, WorkerLog};
use crate::loaded::LoadedTable;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot listen on {addr}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
    #[error("cannot start worker {index}")]
    Spawn { index: usize, source: std::io::Error },
    #[error("worker {0} could not start a runtime: {1}")]
    Runtime(usize, String),
    #[error("cannot start the access log writer")]
    LogWriter(#[source] std::io::Error),
    #[error("cannot start the admin listener on {addr}")]
    Admin { addr: std::net::SocketAddr, source: std::io::Error },
}

/// Which I/O driver a worker ended up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Legacy { reason: String },
}

/// Reloads the table on SIGHUP: returns the new table or the errors to log.
pub type Reload = Box<dyn FnMut() -> Result<LoadedTable, Vec<String>>>;

pub fn worker_count(table: &LoadedTable) -> usize {
    table.table.settings.workers.count.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs the gateway until SIGTERM or SIGINT; returns after draining.
pub fn serve(table: LoadedTable, mut reload: Reload) -> Result<(), RuntimeError> {
    raise_fd_limit();
    let workers = worker_count(&table);
    let settings = table.table.settings.clone();
    let addrs: Vec<_> = table.table.listeners.iter().map(|l| l.addr).collect();
    let shown: Vec<String> = table
        .table
        .listeners
        .iter()
        .map(|l| if l.tls { format!("{} (TLS)", l.addr) } else { l.addr.to_string() })
        .collect();
    let mut sockets = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut per_worker = Vec::new();
        for &addr in &addrs {
            per_worker
                .push(listener::bind(addr, settings.backlog).map_err(|source| RuntimeError::Bind { addr, source })?);
        }
        sockets.push(per_worker);
    }
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1]).map_err(RuntimeError::Signals)?;
    let routes = table.route_count();
    let apis = table.table.apis.len();
    let admin = settings.admin.clone();
    let control = Control::new(table, workers);
    let (logs, writer) = sink::start(workers, control.metrics.clone()).map_err(RuntimeError::LogWriter)?;
    if let Some(admin) = &admin {
        crate::admin::start(admin.addr, control.clone())
            .map_err(|source| RuntimeError::Admin { addr: admin.addr, source })?;
    }
    let force_legacy = std::env::var("MONOIO_FORCE_LEGACY_DRIVER").is_ok_and(|v| v == "1");

    let (report_tx, report_rx) = mpsc::channel();
    let mut handles = Vec::with_capacity(workers);
    for (index, (listeners, log)) in sockets.into_iter().zip(logs).enumerate() {
        let control = control.clone();
        let report = report_tx.clone();
        let cpu = settings.workers.pin.then(|| settings.workers.cpus.get(index).copied().unwrap_or(index));
        let ring = settings.workers.ring_entries;
        let handle = std::thread::Builder::new()
            .name(format!("portico-w{index}"))
            .spawn(move || run_worker(index, control, listeners, log, cpu, ring, force_legacy, report))
            .map_err(|source| RuntimeError::Spawn { index, source })?;
        handles.push(handle);
    }
    drop(report_tx);
    let mut drivers = Vec::new();
    for _ in 0..workers {
        match report_rx.recv() {
            Ok(Ok(driver)) => drivers.push(driver),
            Ok(Err(e)) => return Err(RuntimeError::Runtime(drivers.len(), e)),
            Err(_) => {
                return Err(RuntimeError::Runtime(drivers.len(), "worker exited during start".into()));
            }
        }
    }
    let mut listen = shown;
    if let Some(admin) = &admin {
        listen.push(format!("admin {}", admin.addr));
    }
    let uring = drivers.iter().filter(|d| **d == Driver::IoUring).count();
    if uring == workers {
        log::info!(
            "portico {} serving: {workers} workers, driver io_uring (COOP_TASKRUN), listeners {}, {routes} routes in {apis} APIs",
            env!("CARGO_PKG_VERSION"),
            listen.join(", ")
        );
    } else {
        let reason = drivers.iter().find_map(|d| match d {
            Driver::Legacy { reason } => Some(reason.clone()),
            Driver::IoUring => None,
        });
        log::warn!(
            "portico {} serving: {workers} workers, driver EPOLL (legacy fallback on {} of {workers} workers: {}), listeners {}, {routes} routes in {apis} APIs — expect lower throughput than io_uring",
            env!("CARGO_PKG_VERSION"),
            workers - uring,
            reason.unwrap_or_default(),
            listen.join(", ")
        );
    }

    for signal in signals.forever() {
        match signal {
            SIGHUP => reload_table(&control, &mut reload, &addrs, &admin),
            SIGUSR1 => writer.reopen(),
            _ => {
                log::info!(
                    "signal {signal}: draining (at most {} ms; send it again to exit now)",
                    settings.drain_timeout_ms
                );
                control.shutdown.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
        }
    }
    // A second SIGTERM/SIGINT while draining means "now".
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal != SIGHUP && signal != SIGUSR1 {
                log::warn!("signal {signal} again: exiting without waiting for the drain");
                std::process::exit(1);
            }
        }
    });
    for h in handles {
        let _ = h.join();
    }
    // Other nodes answer 410 for this node's WebSocket connections from now on.
    control.websocket_hub.leave(Duration::from_secs(1));
    // The workers are done: nothing invokes the local functions any more.
    control.functions.stop_all();
    writer.finish(Duration::from_secs(2));
    if let Err(e) = control.quotas.save() {
        log::error!("quota state cannot be saved at exit: {e}");
    }
    log::info!("stopped");
    Ok(())
}

fn reload_table(
    control: &Control,
    reload: &mut Reload,
    addrs: &[std::net::SocketAddr],
    admin: &Option<crate::table::Admin>,
) {
    let failed = &control.metrics.gateway.reloads_failed;
    match reload() {
        Ok(table) => {
            let new_addrs: Vec<_> = table.table.listeners.iter().map(|l| l.addr).collect();
            if new_addrs != addrs {
                log::error!(
                    "reload rejected: listener addresses changed ({addrs:?} → {new_addrs:?}); restart to apply them; keeping the current table"
                );
                failed.inc();
                return;
            }
            // The token may change on reload (the admin thread reads it from the current table).
            if table.table.settings.admin.as_ref().map(|a| a.addr) != admin.as_ref().map(|a| a.addr) {
                log::error!("reload rejected: [admin] changed; restart to apply it; keeping the current table");
                failed.inc();
                return;
            }
            if table.table.settings.cluster != control.table.load().table.settings.cluster {
                log::error!("reload rejected: [cluster] changed; restart to apply it; keeping the current table");
                failed.inc();
                return;
            }
            control.metrics.gateway.reloads_ok.inc();
            let routes = table.route_count();
            let generation = control.swap(table);
            log::info!("reloaded: table generation {generation}, {routes} routes");
        }
        Err(errors) => {
            for e in &errors {
                log::error!("reload: {e}");
            }
            log::error!("reload rejected ({} errors); keeping the current table", errors.len());
            failed.inc();
        }
    }
}

type Report = mpsc::Sender<Result<Driver, String>>;

#[allow(clippy::too_many_arguments)]
fn run_worker(
    index: usize,
    control: Arc<Control>,
    listeners: Vec<std::net::TcpListener>,
    log: WorkerLog,
    cpu: Option<usize>,
    ring: u32,
    force_legacy: bool,
    report: Report,
) {
    if let Some(cpu) = cpu
        && let Err(e) = pin_to_cpu(cpu)
    {
        log::warn!("worker {index}: cannot pin to CPU {cpu}: {e}");
    }
    let main = worker_main(index, control, listeners, log);
    let mut reason = "MONOIO_FORCE_LEGACY_DRIVER=1".to_owned();
    if !force_legacy {
        let mut urb = io_uring::IoUring::builder();
        // Measured: COOP_TASKRUN makes the ring 22–35% faster than monoio's default on this workload.
        urb.setup_coop_taskrun();
        match RuntimeBuilder::<IoUringDriver>::new().uring_builder(urb).with_entries(ring).enable_timer().build() {
            Ok(mut rt) => {
                let _ = report.send(Ok(Driver::IoUring));
                rt.block_on(main);
                return;
            }
            Err(e) => reason = format!("io_uring unavailable: {e}"),
        }
    }
    match RuntimeBuilder::<LegacyDriver>::new().enable_timer().build() {
        Ok(mut rt) => {
            let _ = report.send(Ok(Driver::Legacy { reason }));
            rt.block_on(main);
        }
        Err(e) => {
            let _ = report.send(Err(e.to_string()));
        }
    }
}

async fn worker_main(index: usize, control: Arc<Control>, listeners: Vec<std::net::TcpListener>, log: WorkerLog) {
    let worker = Rc::new(Worker::new(index, control, log));
    for (i, std_listener) in listeners.into_iter().enumerate() {
        match monoio::net::TcpListener::from_std(std_listener) {
            Ok(l) => {
                monoio::spawn(listener::accept_loop(worker.clone(), i as u32, l));
            }
            Err(e) => log::error!("worker {index}: cannot register listener {i}: {e}"),
        }
    }
    monoio::spawn(crate::connections::serve_inbox(
        worker.control().websocket_hub.clone(),
        worker.websockets.clone(),
        index,
    ));
    worker.control().workers_running.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    // The worker's tick: hand access log lines to the writer, refresh gauges, watch for shutdown.
    while !worker.control().is_shutting_down() {
        monoio::time::sleep(Duration::from_millis(TICK_MS)).await;
        worker.log.flush();
        worker.metrics.worker.upstream_idle.set(worker.pool.idle_count() as u64);
        worker.control().cache_commands.drain(index, |command| worker.cache.apply(command));
    }
    worker.draining.set(true);
    worker.drain.notify();
    worker.conns.shutdown_idle();
    let drain_ms = worker.refresh().table.settings.drain_timeout_ms;
    let deadline = Instant::now() + Duration::from_millis(drain_ms);
    while !worker.conns.is_empty() && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
    if !worker.conns.is_empty() {
        log::warn!("worker {index}: drain timeout with {} connections still open", worker.conns.len());
    }
    worker.log.flush();
    worker.control().workers_running.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
}

/// How often a worker hands its access log buffers to the writer and refreshes its gauges: a log
/// line reaches its file at most this much (plus the writer's write) after its request ended.
const TICK_MS: u64 = 50;

/// Raises the soft open-files limit to the hard limit: every client and upstream connection is a
/// descriptor, and the usual soft default (1024) would cap a gateway far below its capacity.
fn raise_fd_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write exactly one `rlimit` we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                log::warn!("cannot raise the open-files limit: {}", std::io::Error::last_os_error());
            }
        }
    }
}

fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write within it, and sched_setaffinity reads
    // exactly size_of::<cpu_set_t>() bytes from it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::other("CPU index out of range"));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
