//! The handler processes: started with Lambda's environment, restarted when they die, killed when
//! they run past the function's timeout.
//!
//! A process that dies fails the invocation it held (`Runtime.ExitError`, as Lambda reports it);
//! one that dies before it ever asked for an invocation also fails the oldest queued one, so a
//! handler that cannot start answers with errors instead of leaving requests to time out. Restarts
//! back off (100 ms doubling to 5 s) while processes keep dying within a second of starting.
//! Every process dies with the gateway (`PR_SET_PDEATHSIG`) and runs in a process group of its
//! own, which is what is killed.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Host, Outcome, error_object};

/// Keeps process `slot` of `host` running, talking to the Runtime API at `runtime_api`.
pub(super) fn keep(host: Arc<Host>, slot: usize, runtime_api: SocketAddr) {
    let name = format!("fn-{}-{slot}", host.definition.name);
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let mut backoff = Duration::from_millis(100);
        while !host.stopping() {
            let started = Instant::now();
            match spawn(&host, slot, runtime_api) {
                Ok(mut child) => {
                    host.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
                    host.lock().slots[slot].pid = Some(child.id());
                    if host.stopping() {
                        kill(child.id());
                    }
                    let status = child.wait();
                    exited(&host, slot, &status.map_or_else(|e| e.to_string(), |s| s.to_string()));
                }
                Err(e) => {
                    log::error!("function `{}`: cannot start {:?}: {e}", host.definition.name, host.definition.command);
                    fail_oldest(&host, "Runtime.InvalidEntrypoint", &format!("cannot start the handler: {e}"));
                }
            }
            if host.stopping() {
                break;
            }
            if started.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            } else {
                backoff = Duration::from_millis(100);
            }
        }
    });
    if let Err(e) = spawned {
        log::error!("function host: cannot start a keeper thread: {e}");
    }
}

fn spawn(host: &Host, slot: usize, runtime_api: SocketAddr) -> std::io::Result<std::process::Child> {
    let d = &host.definition;
    let (program, args) = d.command.split_first().ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(&d.working_dir).env_clear().stdin(Stdio::null());
    // What a handler needs of the node's environment to start at all; nothing else leaks in
    // (the gateway's own secrets stay out).
    for key in ["PATH", "HOME", "LANG", "PYENV_ROOT"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    let memory = d.memory_mb.to_string();
    let stream = format!("portico/{slot}");
    let group = format!("/aws/lambda/{}", d.name);
    let lambda_env: [(&str, &str); 13] = [
        ("AWS_LAMBDA_RUNTIME_API", &runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", &d.name),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &memory),
        ("AWS_LAMBDA_LOG_GROUP_NAME", &group),
        ("AWS_LAMBDA_LOG_STREAM_NAME", &stream),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_REGION", &d.region),
        ("AWS_DEFAULT_REGION", &d.region),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_portico"),
        ("LAMBDA_TASK_ROOT", &d.working_dir),
        ("LAMBDA_RUNTIME_DIR", &d.working_dir),
        ("TZ", ":UTC"),
    ];
    for (k, v) in lambda_env {
        cmd.env(k, v);
    }
    for (k, v) in &d.env {
        cmd.env(k, v);
    }
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, setpgid), and
    // nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            // Dies when the thread that started it (its keeper, which waits on it) goes away.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    cmd.spawn()
}

/// Process `slot` exited: the invocation it held fails; if it never asked for one, so does the
/// oldest queued one.
fn exited(host: &Host, slot: usize, status: &str) {
    let mut state = host.lock();
    let s = &mut state.slots[slot];
    s.pid = None;
    let initialised = std::mem::take(&mut s.initialised);
    let running = s.running.take();
    drop(state);
    if host.stopping() {
        return;
    }
    host.counters.crashes.fetch_add(1, Ordering::Relaxed);
    log::warn!("function `{}`: handler process {slot} exited ({status})", host.definition.name);
    let message = format!("Runtime exited with error: {status}");
    if let Some(r) = running {
        let _ = r
            .reply
            .send(Outcome::Failed(error_object("Runtime.ExitError", &format!("RequestId: {} Error: {message}", r.id))));
    } else if !initialised {
        fail_oldest(host, "Runtime.ExitError", &message);
    }
}

/// Fails the oldest queued invocation (a handler that cannot start must not leave it waiting).
pub(super) fn fail_oldest(host: &Host, error_type: &str, message: &str) {
    let oldest = host.lock().queue.pop_front();
    if let Some(p) = oldest {
        let _ =
            p.reply.send(Outcome::Failed(error_object(error_type, &format!("RequestId: {} Error: {message}", p.id))));
    }
}

/// Kills what runs past the timeout: its invocation fails as Lambda's does (`Sandbox.Timedout`),
/// its process is killed and its keeper starts another.
pub(super) fn watch(host: Arc<Host>) {
    let spawned = std::thread::Builder::new().name(format!("fn-{}-watch", host.definition.name)).spawn(move || {
        while !host.stopping() {
            let now = Instant::now();
            let mut next = now + Duration::from_millis(100);
            let mut state = host.lock();
            for slot in &mut state.slots {
                match &slot.running {
                    Some(r) if r.deadline <= now => {
                        let r = slot.running.take().expect("matched");
                        host.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                        let seconds = host.definition.timeout.as_secs_f64();
                        let message = format!("RequestId: {} Error: Task timed out after {seconds:.2} seconds", r.id);
                        let _ = r.reply.send(Outcome::Failed(error_object("Sandbox.Timedout", &message)));
                        if let Some(pid) = slot.pid {
                            kill(pid);
                        }
                    }
                    Some(r) => next = next.min(r.deadline),
                    None => {}
                }
            }
            drop(state);
            std::thread::sleep(next.saturating_duration_since(Instant::now()).max(Duration::from_millis(5)));
        }
    });
    if let Err(e) = spawned {
        log::error!("function host: cannot start its watchdog: {e}");
    }
}

/// Kills a handler process and its group.
pub(super) fn kill(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a process group id we created (setpgid in the child) and, should the
    // group not exist yet, the process itself; no memory is touched.
    unsafe {
        if libc::kill(-pid, libc::SIGKILL) != 0 {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}
