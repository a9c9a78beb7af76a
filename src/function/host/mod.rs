//! Local handler processes: a function with a `command` runs unchanged on this node, the way
//! Lambda runs it — Portico serves the Lambda Runtime API (`/2018-06-01/runtime/...`) to
//! `concurrency` warm processes of the command and hands each one invocation at a time.
//!
//! One [`Host`] per such function, kept across reloads while its definition is unchanged. It has:
//! - an invoke listener on loopback for the workers, speaking the Lambda Invoke API's shape
//!   (`POST /2015-03-31/functions/{name}/invocations`, the payload back as the body, with
//!   `X-Amz-Function-Error` when the function failed) — so workers reach a local function as they
//!   reach any HTTP target, over their keep-alive pools ([`invoke_api`]);
//! - per process a Runtime API listener of its own on loopback (its `AWS_LAMBDA_RUNTIME_API`), so
//!   the host always knows which process holds which invocation ([`runtime_api`]);
//! - per process a keeper thread that starts it with Lambda's environment, restarts it when it
//!   dies (failing the invocation it held, backing off when it dies at start), and a watchdog
//!   that kills one running past the function's timeout ([`process`]).
//!
//! Invocations wait in one queue per function until a process asks for the next. The workers'
//! concurrency limit ([`super::limit`]) keeps that queue short; the queue is there for processes
//! that are restarting.
//!
//! Why threads and blocking sockets, not the workers' io_uring: the host is off the request path
//! of every other route, its cost is dominated by the handler processes themselves, and process
//! supervision (spawn, wait, kill) is blocking by nature. Its lock guards the queue and the
//! process table of one function, taken for a few stores per invocation.
//!
//! Must not: touch the workers' state; run anything but the configured command.

mod invoke_api;
mod process;
mod runtime_api;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::table::{Function, FunctionTarget};

/// What a function's host needs to know, from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: String,
    pub processes: u32,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub region: String,
    /// The largest payload accepted either way: an event of the largest body, or an answer.
    pub max_payload: u64,
}

impl Definition {
    /// `max_body` is the gateway's request body limit ([`super::max_payload`]).
    pub fn of(function: &Function, max_body: u64) -> Option<Definition> {
        let max_payload = super::max_payload(max_body);
        match &function.target {
            FunctionTarget::Local { command, env, working_dir, timeout_ms, memory_mb, region } => Some(Definition {
                name: function.name.clone(),
                command: command.clone(),
                env: env.clone(),
                working_dir: working_dir.clone(),
                processes: function.concurrency.max(1),
                timeout: Duration::from_millis(*timeout_ms),
                memory_mb: *memory_mb,
                region: region.clone(),
                max_payload,
            }),
            FunctionTarget::Url { .. } | FunctionTarget::Lambda { .. } => None,
        }
    }
}

/// How one invocation ended, for the invoker.
#[derive(Debug)]
pub enum Outcome {
    Answered(Vec<u8>),
    /// The function failed: its error object (`errorMessage`, `errorType`).
    Failed(Vec<u8>),
}

/// Counters of one host, for the metrics.
#[derive(Debug, Default)]
pub struct HostCounters {
    /// Processes started (each start is a cold start).
    pub cold_starts: AtomicU64,
    /// Processes that exited without being asked to.
    pub crashes: AtomicU64,
    /// Invocations that ran past the timeout (their process was killed).
    pub timeouts: AtomicU64,
}

struct Pending {
    id: String,
    payload: Vec<u8>,
    reply: mpsc::SyncSender<Outcome>,
}

struct Running {
    id: String,
    reply: mpsc::SyncSender<Outcome>,
    deadline: Instant,
}

#[derive(Default)]
struct Slot {
    /// The process's id while it runs.
    pid: Option<u32>,
    /// It has asked for an invocation since it started (its init is done).
    initialised: bool,
    running: Option<Running>,
}

struct State {
    queue: VecDeque<Pending>,
    slots: Vec<Slot>,
}

/// One function's host.
pub struct Host {
    definition: Definition,
    state: Mutex<State>,
    /// Signalled when an invocation is queued, and when the host stops.
    work: Condvar,
    stopping: AtomicBool,
    invoke_addr: SocketAddr,
    /// The processes' Runtime API listeners, same index as the slots.
    runtime_addrs: Vec<SocketAddr>,
    pub counters: HostCounters,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("function", &self.definition.name).field("invoke", &self.invoke_addr).finish()
    }
}

impl Host {
    /// Starts the host: its invoke listener, and its processes (warm before the first request).
    pub fn start(definition: Definition) -> std::io::Result<Arc<Host>> {
        let invoke = std::net::TcpListener::bind("127.0.0.1:0")?;
        let processes = definition.processes as usize;
        let listeners =
            (0..processes).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<Vec<_>, _>>()?;
        let runtime_addrs = listeners.iter().map(|l| l.local_addr()).collect::<Result<Vec<_>, _>>()?;
        let host = Arc::new(Host {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                slots: (0..processes).map(|_| Slot::default()).collect(),
            }),
            work: Condvar::new(),
            stopping: AtomicBool::new(false),
            invoke_addr: invoke.local_addr()?,
            runtime_addrs,
            counters: HostCounters::default(),
            definition,
        });
        for (slot, listener) in listeners.into_iter().enumerate() {
            let addr = host.runtime_addrs[slot];
            runtime_api::serve(host.clone(), slot, listener);
            process::keep(host.clone(), slot, addr);
        }
        invoke_api::serve(host.clone(), invoke);
        process::watch(host.clone());
        Ok(host)
    }

    /// Where workers send this function's invocations.
    pub fn invoke_addr(&self) -> SocketAddr {
        self.invoke_addr
    }

    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left plain data behind: go on with it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Queues an invocation; its outcome arrives on the returned channel (closed if the host
    /// stops first). The id lets a caller that gives up take it back out ([`Host::cancel`]).
    fn enqueue(&self, payload: Vec<u8>) -> (String, mpsc::Receiver<Outcome>) {
        let (reply, outcome) = mpsc::sync_channel(1);
        let id = uuid();
        self.lock().queue.push_back(Pending { id: id.clone(), payload, reply });
        self.work.notify_one();
        (id, outcome)
    }

    /// Invocations waiting for a process (for the metrics).
    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Drops invocation `id` if it is still queued (its caller went away); one already running
    /// runs to its end.
    fn cancel(&self, id: &str) {
        self.lock().queue.retain(|p| p.id != id);
    }

    /// Stops the host: processes are killed, queued and running invocations fail.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        let mut state = self.lock();
        state.queue.clear();
        for slot in &mut state.slots {
            slot.running = None;
            if let Some(pid) = slot.pid {
                process::kill(pid);
            }
        }
        drop(state);
        self.work.notify_all();
        // Wake the listeners' accept loops, which then see the host stopping and end.
        for addr in self.runtime_addrs.iter().chain([&self.invoke_addr]) {
            let _ = std::net::TcpStream::connect_timeout(addr, Duration::from_millis(100));
        }
    }
}

/// The hosts of the loaded table's local functions, by name; kept across reloads.
#[derive(Default)]
pub struct Hosts {
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

impl Hosts {
    /// The host of each local function of `functions` (same index; `None` for other targets):
    /// the running one when its definition is unchanged, else a new one. Hosts of functions no
    /// longer defined, or defined differently, are stopped.
    pub fn assign(&self, functions: &[Function], max_body: u64) -> Vec<Option<Arc<Host>>> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = HashMap::new();
        let mut assigned = Vec::with_capacity(functions.len());
        for f in functions {
            let Some(definition) = Definition::of(f, max_body) else {
                assigned.push(None);
                continue;
            };
            let host = match hosts.remove(&f.name) {
                Some(h) if h.definition == definition => Some(h),
                old => {
                    if let Some(old) = old {
                        old.stop();
                    }
                    match Host::start(definition) {
                        Ok(h) => Some(h),
                        Err(e) => {
                            log::error!("function `{}`: cannot start its host: {e}", f.name);
                            None
                        }
                    }
                }
            };
            if let Some(h) = &host {
                kept.insert(f.name.clone(), h.clone());
            }
            assigned.push(host);
        }
        for (_, unused) in hosts.drain() {
            unused.stop();
        }
        *hosts = kept;
        assigned
    }

    /// Stops every host (the gateway is shutting down).
    pub fn stop_all(&self) {
        for (_, host) in self.hosts.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            host.stop();
        }
    }
}

/// A request id in Lambda's shape (a UUID).
fn uuid() -> String {
    let (a, b) = (crate::random::random_u64(), crate::random::random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Accepts connections on `listener` in a thread named `name` until the host stops, serving each
/// in a thread of its own (the workers' pools and the runtime clients keep them few).
fn accept_loop(
    host: Arc<Host>,
    name: String,
    listener: std::net::TcpListener,
    serve: impl Fn(&Host, std::net::TcpStream) + Send + Sync + Copy + 'static,
) {
    let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
        for stream in listener.incoming() {
            if host.stopping() {
                return;
            }
            let Ok(stream) = stream else { continue };
            let host = host.clone();
            let _ = std::thread::Builder::new().spawn(move || serve(&host, stream));
        }
    });
    if let Err(e) = spawned {
        log::error!("function host: cannot start the thread {name}: {e}");
    }
}

/// The next request on a connection to the host, or `None` when the connection is done: the peer
/// closed, or sent what cannot be read (answered first, with an error object of `types`: for a
/// payload over the limit, for a broken request).
fn next_request(
    stream: &mut std::net::TcpStream,
    buf: &mut bytes::BytesMut,
    max_payload: u64,
    (too_large, broken): (&str, &str),
) -> Option<wire::Request> {
    let (status, body) = match wire::read_request(stream, buf, max_payload) {
        Ok(r) => return Some(r),
        Err(wire::ReadError::Closed) => return None,
        Err(wire::ReadError::TooLarge) => {
            ("413 Request Entity Too Large", error_object(too_large, "the payload is over the limit"))
        }
        Err(wire::ReadError::Broken(why)) => ("400 Bad Request", error_object(broken, why)),
    };
    let _ = wire::write_response(stream, status, &[], &body);
    None
}

/// An error object in Lambda's shape.
fn error_object(error_type: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"errorMessage\":");
    crate::json::string(&mut out, message.as_bytes());
    out.extend_from_slice(b",\"errorType\":");
    crate::json::string(&mut out, error_type.as_bytes());
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_look_like_uuids() {
        let id = super::uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(id.split('-').map(str::len).eq([8, 4, 4, 4, 12]));
    }

    #[test]
    fn error_objects_are_json() {
        let e: serde_json::Value =
            serde_json::from_slice(&super::error_object("Sandbox.Timedout", "Task \"x\"")).unwrap();
        assert_eq!(e["errorType"], "Sandbox.Timedout");
        assert_eq!(e["errorMessage"], "Task \"x\"");
    }
}
