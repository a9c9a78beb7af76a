//! WebSocket connections across workers: who holds which connection, and how a command for a
//! connection reaches the worker that holds it. A connection lives on one worker ([`Local`], a
//! plain map on that worker's thread); its id names that worker (`websocket::id`). A command
//! arriving on another worker crosses in a bounded per-worker queue
//! (`std::sync::mpsc::sync_channel`: a lock-free array) and rings the owner's
//! doorbell (one byte on a socket pair, read by the worker's inbox task); the answer comes back
//! the same way, to the ticket the asker waits on.
//!
//! Must not: touch sockets of connections (the session does, when its mailbox wakes it). Cost:
//! a command for a connection on the same worker is a map lookup; on another, two queue hops and
//! two doorbell writes.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use bytes::Bytes;

use crate::event::LocalEvent;

/// Commands waiting for a worker, at most (a full queue answers the caller 429).
const QUEUE: usize = 4096;
/// How long a caller waits for another worker's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What the `@connections` API asks of a connection.
#[derive(Debug, Clone)]
pub enum Command {
    /// `POST`: send the data (text when it is UTF-8).
    Post(Bytes),
    /// `GET`: its details.
    Get,
    /// `DELETE`: close it.
    Delete,
}

/// What the holder answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Done,
    /// No such connection (closed, or never was): AWS's 410 GoneException.
    Gone,
    Info(Info),
    /// The owner's queue is full, or it did not answer in time.
    Busy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub connected_at_ms: u64,
    pub last_active_ms: u64,
    pub source_ip: IpAddr,
    pub user_agent: Option<String>,
}

enum Envelope {
    Ask { id: String, command: Command, from: usize, ticket: u64 },
    Reply { ticket: u64, answer: Answer },
}

struct Inbox {
    sender: SyncSender<Envelope>,
    receiver: Mutex<Option<Receiver<Envelope>>>,
    bell: UnixStream,
    bell_reader: Mutex<Option<UnixStream>>,
}

/// Every worker's inbox (shared by the workers).
pub struct Hub {
    inboxes: Vec<Inbox>,
}

impl Hub {
    /// The inboxes of `workers` workers. Without the sockets for their doorbells (descriptors
    /// exhausted at start), there are none, and commands for another worker's connections get
    /// `Busy`.
    pub fn new(workers: usize) -> Hub {
        match Self::inboxes(workers) {
            Ok(inboxes) => Hub { inboxes },
            Err(e) => {
                log::error!("WebSocket pushes across workers are off: no doorbell sockets: {e}");
                Hub { inboxes: Vec::new() }
            }
        }
    }

    fn inboxes(workers: usize) -> std::io::Result<Vec<Inbox>> {
        let mut inboxes = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (sender, receiver) = sync_channel(QUEUE);
            let (bell, reader) = UnixStream::pair()?;
            bell.set_nonblocking(true)?;
            inboxes.push(Inbox {
                sender,
                receiver: Mutex::new(Some(receiver)),
                bell,
                bell_reader: Mutex::new(Some(reader)),
            });
        }
        Ok(inboxes)
    }

    pub fn workers(&self) -> usize {
        self.inboxes.len()
    }

    fn send(&self, worker: usize, envelope: Envelope) -> bool {
        let Some(inbox) = self.inboxes.get(worker) else { return false };
        match inbox.sender.try_send(envelope) {
            Ok(()) => {
                // A full socket buffer means the bell is already ringing.
                let _ = (&inbox.bell).write(&[1]);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// One open connection's side: what the session is asked to do, and what GET reports.
pub struct Mailbox {
    pub queue: RefCell<VecDeque<Command>>,
    pub wake: LocalEvent,
    pub info: RefCell<Info>,
}

/// A worker's connections and the answers it waits for.
#[derive(Default)]
pub struct Local {
    conns: RefCell<HashMap<String, Rc<Mailbox>>>,
    waiting: RefCell<HashMap<u64, Rc<Waiter>>>,
    next_ticket: Cell<u64>,
}

#[derive(Default)]
struct Waiter {
    answer: RefCell<Option<Answer>>,
    ready: LocalEvent,
}

impl Local {
    /// Registers a new connection; the session holds the mailbox until it ends.
    pub fn open(&self, id: &str, info: Info) -> Rc<Mailbox> {
        let mailbox =
            Rc::new(Mailbox { queue: RefCell::default(), wake: LocalEvent::default(), info: RefCell::new(info) });
        self.conns.borrow_mut().insert(id.to_owned(), mailbox.clone());
        mailbox
    }

    pub fn close(&self, id: &str) {
        self.conns.borrow_mut().remove(id);
    }

    /// Carries out `command` on a connection of this worker.
    pub fn apply(&self, id: &str, command: Command) -> Answer {
        let Some(mailbox) = self.conns.borrow().get(id).cloned() else { return Answer::Gone };
        match command {
            Command::Get => Answer::Info(mailbox.info.borrow().clone()),
            command => {
                mailbox.queue.borrow_mut().push_back(command);
                mailbox.wake.notify();
                Answer::Done
            }
        }
    }

    /// Carries out `command` on connection `id` held by worker `owner`, this one (`me`) or another.
    pub async fn ask(&self, hub: &Hub, me: usize, owner: usize, id: &str, command: Command) -> Answer {
        if owner == me {
            return self.apply(id, command);
        }
        if owner >= hub.workers() {
            return if hub.workers() == 0 { Answer::Busy } else { Answer::Gone };
        }
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        let waiter = Rc::new(Waiter::default());
        self.waiting.borrow_mut().insert(ticket, waiter.clone());
        let wait = waiter.ready.wait();
        let sent = hub.send(owner, Envelope::Ask { id: id.to_owned(), command, from: me, ticket });
        let answer = match sent {
            true => match monoio::time::timeout(ANSWER_WITHIN, wait).await {
                Ok(()) => waiter.answer.borrow_mut().take().unwrap_or(Answer::Busy),
                Err(_) => Answer::Busy,
            },
            false => Answer::Busy,
        };
        self.waiting.borrow_mut().remove(&ticket);
        answer
    }

    /// Handles what arrived in this worker's inbox.
    fn deliver(&self, hub: &Hub, envelope: Envelope) {
        match envelope {
            Envelope::Ask { id, command, from, ticket } => {
                let answer = self.apply(&id, command);
                // An asker whose queue is full times out waiting: nothing else to do.
                let _ = hub.send(from, Envelope::Reply { ticket, answer });
            }
            Envelope::Reply { ticket, answer } => {
                if let Some(waiter) = self.waiting.borrow_mut().remove(&ticket) {
                    *waiter.answer.borrow_mut() = Some(answer);
                    waiter.ready.notify();
                }
            }
        }
    }
}

/// The worker's inbox task: waits for its doorbell, then handles every envelope queued. Runs
/// until the worker's runtime stops.
pub async fn serve_inbox(hub: std::sync::Arc<Hub>, local: Rc<Local>, me: usize) {
    let Some(inbox) = hub.inboxes.get(me) else { return };
    let receiver = inbox.receiver.lock().ok().and_then(|mut r| r.take());
    let reader = inbox.bell_reader.lock().ok().and_then(|mut r| r.take());
    let (Some(receiver), Some(reader)) = (receiver, reader) else { return };
    if reader.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(mut bell) = monoio::net::UnixStream::from_std(reader) else { return };
    let mut buf = vec![0u8; 256];
    loop {
        while let Ok(envelope) = receiver.try_recv() {
            local.deliver(&hub, envelope);
        }
        let (read, back) = monoio::io::AsyncReadRent::read(&mut bell, buf).await;
        buf = back;
        if !matches!(read, Ok(1..)) {
            return;
        }
    }
}
