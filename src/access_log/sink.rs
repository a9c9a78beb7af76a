//! Where log lines go: a bounded buffer per worker and destination, and one writer thread that does
//! the blocking file I/O.
//!
//! A worker appends a line to its buffer for the stage's destination. A buffer past
//! [`HANDOFF_BYTES`] or half its bound (or any non-empty buffer, on the worker's periodic tick) is handed to the writer
//! with `try_send` on a bounded channel; if the channel is full the worker keeps appending until its
//! buffer reaches `buffer_bytes`, then drops lines and counts them. The writer returns emptied
//! buffers to their worker, so steady state allocates nothing. Memory is bounded by
//! `workers × destinations × buffer_bytes` plus [`QUEUE_BATCHES`] batches in flight.
//!
//! The writer thread runs at nice 10: on a saturated box it yields to the workers, and its backlog
//! is absorbed by the buffers (or dropped and counted) rather than taken out of request time.
//!
//! The writer opens files in append mode on first use and reopens them all after SIGUSR1 (log
//! rotation: rename the file, send SIGUSR1, the next batch goes to a new file). Destination `stdout`
//! writes to standard output.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// A worker hands its buffer over once it holds this much.
pub const HANDOFF_BYTES: usize = 64 * 1024;
/// The writer looks for batches this often when it has none.
const POLL_MS: u64 = 10;
/// Batches queued for the writer at most.
pub const QUEUE_BATCHES: usize = 64;

enum Message {
    Batch(Batch),
    /// Every worker has stopped and flushed: write what is queued, then exit.
    Stop,
}

struct Batch {
    worker: usize,
    destination: Arc<str>,
    bytes: Vec<u8>,
    lines: u64,
}

struct Buffer {
    destination: Arc<str>,
    bytes: Vec<u8>,
    lines: u64,
}

/// One worker's side: its buffers and its ends of the channels. Used by that worker only.
pub struct WorkerLog {
    index: usize,
    to_writer: SyncSender<Message>,
    returned: Receiver<Vec<u8>>,
    buffers: RefCell<Vec<Buffer>>,
}

/// Whether a line was buffered or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Buffered,
    Dropped,
}

impl WorkerLog {
    /// Appends one line rendered by `render`, unless the buffer is full.
    pub fn append(&self, destination: &Arc<str>, max_bytes: usize, render: impl FnOnce(&mut Vec<u8>)) -> Appended {
        let mut buffers = self.buffers.borrow_mut();
        let i = match buffers.iter().position(|b| Arc::ptr_eq(&b.destination, destination)) {
            Some(i) => i,
            None => match buffers.iter().position(|b| b.destination == *destination) {
                Some(i) => {
                    // Same destination under a reloaded table.
                    buffers[i].destination = destination.clone();
                    i
                }
                None => {
                    buffers.push(Buffer { destination: destination.clone(), bytes: Vec::new(), lines: 0 });
                    buffers.len() - 1
                }
            },
        };
        let buffer = &mut buffers[i];
        if buffer.bytes.len() >= HANDOFF_BYTES.min(max_bytes / 2) {
            self.hand_off(buffer);
        }
        let before = buffer.bytes.len();
        render(&mut buffer.bytes);
        if buffer.bytes.len() > max_bytes && before > 0 {
            buffer.bytes.truncate(before);
            return Appended::Dropped;
        }
        buffer.lines += 1;
        Appended::Buffered
    }

    /// Hands every non-empty buffer to the writer (the worker's periodic tick, and shutdown).
    pub fn flush(&self) {
        for buffer in self.buffers.borrow_mut().iter_mut() {
            if !buffer.bytes.is_empty() {
                self.hand_off(buffer);
            }
        }
    }

    fn hand_off(&self, buffer: &mut Buffer) {
        let bytes = std::mem::take(&mut buffer.bytes);
        let batch = Batch { worker: self.index, destination: buffer.destination.clone(), bytes, lines: buffer.lines };
        match self.to_writer.try_send(Message::Batch(batch)) {
            Ok(()) => {
                buffer.lines = 0;
                buffer.bytes = self.returned.try_recv().unwrap_or_default();
            }
            // The writer is behind: keep the lines; new ones are dropped once the buffer is full.
            Err(TrySendError::Full(Message::Batch(batch))) => buffer.bytes = batch.bytes,
            Err(TrySendError::Full(Message::Stop)) => {}
            Err(TrySendError::Disconnected(_)) => buffer.lines = 0,
        }
    }
}

/// The control thread's handle on the writer.
pub struct Writer {
    to_writer: SyncSender<Message>,
    reopen: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// Starts the writer thread; returns one [`WorkerLog`] per worker.
pub fn start(workers: usize, metrics: Arc<Metrics>) -> std::io::Result<(Vec<WorkerLog>, Writer)> {
    let (to_writer, from_workers) = sync_channel(QUEUE_BATCHES);
    let mut returns = Vec::with_capacity(workers);
    let mut logs = Vec::with_capacity(workers);
    for index in 0..workers {
        // Room for every buffer a worker could have out, so the writer never blocks returning one.
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        returns.push(tx);
        logs.push(WorkerLog { index, to_writer: to_writer.clone(), returned: rx, buffers: RefCell::new(Vec::new()) });
    }
    let reopen = Arc::new(AtomicBool::new(false));
    let flag = reopen.clone();
    let thread = std::thread::Builder::new().name("portico-log".into()).spawn(move || {
        crate::threads::deprioritize_this_thread("access log writer");
        write_loop(from_workers, returns, flag, metrics)
    })?;
    Ok((logs, Writer { to_writer, reopen, thread }))
}

impl Writer {
    /// Reopens every file before the next write (SIGUSR1).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    /// Waits, at most `timeout`, for the writer to write what the workers handed over before they
    /// stopped. A blocked destination (a full pipe) cannot hold the exit up longer than that.
    /// Call it after every worker stopped (their last batches are queued before the stop).
    pub fn finish(self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut stop = Some(Message::Stop);
        while !self.thread.is_finished() && Instant::now() < deadline {
            if let Some(message) = stop.take()
                && let Err(TrySendError::Full(message)) = self.to_writer.try_send(message)
            {
                stop = Some(message);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        } else {
            log::warn!("access log writer still blocked at exit; unwritten lines are lost");
        }
    }
}

enum Output {
    Stdout,
    File(std::fs::File),
}

fn write_loop(
    rx: Receiver<Message>,
    returns: Vec<SyncSender<Vec<u8>>>,
    reopen: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    let mut outputs: HashMap<Arc<str>, Output> = HashMap::new();
    let mut failing: HashSet<Arc<str>> = HashSet::new();
    loop {
        // Polled, not blocked on: a blocked receiver makes every worker's send a futex wake and a
        // context switch onto some worker's core (measured: 3% of a worker at 130k lines/s).
        let batch = match rx.try_recv() {
            Ok(Message::Batch(batch)) => Some(batch),
            Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                std::thread::sleep(Duration::from_millis(POLL_MS));
                None
            }
        };
        if reopen.swap(false, Ordering::Relaxed) {
            log::info!("SIGUSR1: reopening {} access log files", outputs.len());
            outputs.clear();
        }
        let Some(mut batch) = batch else { continue };
        let result = match output(&mut outputs, &batch.destination) {
            Ok(Output::Stdout) => std::io::stdout().lock().write_all(&batch.bytes),
            Ok(Output::File(f)) => f.write_all(&batch.bytes),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                if failing.remove(&batch.destination) {
                    log::info!("access log {}: writing again", batch.destination);
                }
            }
            Err(e) => {
                metrics.gateway.access_log_lines_lost.add(batch.lines);
                outputs.remove(&batch.destination);
                if failing.insert(batch.destination.clone()) {
                    log::error!("access log {}: {e}; lines are lost until it works again", batch.destination);
                }
            }
        }
        batch.bytes.clear();
        if let Some(tx) = returns.get(batch.worker) {
            let _ = tx.try_send(batch.bytes);
        }
    }
}

fn output<'a>(outputs: &'a mut HashMap<Arc<str>, Output>, destination: &Arc<str>) -> std::io::Result<&'a mut Output> {
    if !outputs.contains_key(destination) {
        let out = if &**destination == "stdout" {
            Output::Stdout
        } else {
            Output::File(std::fs::OpenOptions::new().create(true).append(true).open(&**destination)?)
        };
        outputs.insert(destination.clone(), out);
    }
    outputs.get_mut(destination).ok_or_else(|| std::io::Error::other("output vanished"))
}
