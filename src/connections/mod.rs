//! WebSocket connections across workers: who holds which connection, and how a command for a
//! connection reaches the worker that holds it. A connection lives on one worker ([`Local`], a
//! plain map on that worker's thread); its id names that worker (`websocket::id`). A command
//! arriving on another worker crosses in a bounded per-worker queue
//! (`std::sync::mpsc::sync_channel`: a lock-free array) and rings the owner's
//! doorbell (one byte on a socket pair, read by the worker's inbox task); the answer comes back
//! the same way, to the ticket the asker waits on.
//!
//! In fleet mode a command for a connection on another node goes through Redis ([`fleet`]).
//!
//! Must not: touch sockets of connections (the session does, when its mailbox wakes it). Cost:
//! a command for a connection on the same worker is a map lookup; on another, two queue hops and
//! two doorbell writes; on another node, a Redis round trip each way as well.

mod fleet;
pub mod wire;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::event::LocalEvent;

/// Commands waiting for a worker, at most (a full queue answers the caller 429).
const QUEUE: usize = 4096;
/// How long a caller waits for another worker's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A node's tag: 4 random bytes chosen at start, named by its connections' ids.
pub type Node = [u8; 4];

/// What the `@connections` API asks of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Who waits for an answer: a worker of this node, or a worker of another node.
enum Asker {
    Worker(usize),
    Node(Node, u8),
}

enum Envelope {
    Ask { id: String, command: Command, from: Asker, ticket: u64 },
    Reply { ticket: u64, answer: Answer },
}

struct Inbox {
    sender: SyncSender<Envelope>,
    receiver: Mutex<Option<Receiver<Envelope>>>,
    bell: UnixStream,
    bell_reader: Mutex<Option<UnixStream>>,
}

/// Every worker's inbox (shared by the workers), and in fleet mode the way to other nodes.
pub struct Hub {
    inboxes: Vec<Inbox>,
    /// This node's tag.
    pub node: Node,
    relay: Option<fleet::Relay>,
}

impl Hub {
    /// The inboxes of `workers` workers, and with `cluster` the relay to other nodes (its threads
    /// started). Without the sockets for their doorbells (descriptors exhausted at start), there
    /// are no inboxes, and commands for another worker's connections get `Busy`.
    pub fn new(workers: usize, cluster: Option<&crate::table::Cluster>) -> Arc<Hub> {
        let inboxes = Self::inboxes(workers).unwrap_or_else(|e| {
            log::error!("WebSocket pushes across workers are off: no doorbell sockets: {e}");
            Vec::new()
        });
        let node = (crate::random::random_u64() as u32).to_le_bytes();
        let Some(cluster) = cluster else { return Arc::new(Hub { inboxes, node, relay: None }) };
        let (relay, receiver) = fleet::relay();
        let hub = Arc::new(Hub { inboxes, node, relay: Some(relay) });
        fleet::start(&hub, receiver, cluster.clone());
        hub
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

    /// Hands `answer` to the ask `ticket` of worker `worker` (dropped if its queue is full: the
    /// asker times out).
    fn reply(&self, worker: usize, ticket: u64, answer: Answer) {
        let _ = self.send(worker, Envelope::Reply { ticket, answer });
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

    /// Carries out `command` on connection `id` held by worker `owner` of node `node`: this
    /// worker (`me`), another of this node, or one of another node.
    pub async fn ask(&self, hub: &Hub, me: usize, (node, owner): (Node, usize), id: &str, command: Command) -> Answer {
        let here = node == hub.node;
        if here && owner == me {
            return self.apply(id, command);
        }
        if here && owner >= hub.workers() {
            return if hub.workers() == 0 { Answer::Busy } else { Answer::Gone };
        }
        let relay = match (here, &hub.relay) {
            (true, _) => None,
            (false, Some(relay)) => Some(relay),
            // Without fleet mode, another node's id is one this node never gave out.
            (false, None) => return Answer::Gone,
        };
        let Ok(owner_byte) = u8::try_from(owner) else { return Answer::Gone };
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        let waiter = Rc::new(Waiter::default());
        self.waiting.borrow_mut().insert(ticket, waiter.clone());
        let wait = waiter.ready.wait();
        let id = id.to_owned();
        let sent = match relay {
            None => hub.send(owner, Envelope::Ask { id, command, from: Asker::Worker(me), ticket }),
            Some(relay) => {
                let from_worker = me as u8;
                let message = wire::Wire::Ask { from: hub.node, from_worker, ticket, worker: owner_byte, id, command };
                let deadline = std::time::Instant::now() + ANSWER_WITHIN - Duration::from_millis(250);
                relay.send(fleet::Outgoing::Ask { node, message, from_worker: me, ticket, deadline })
            }
        };
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
                match (from, &hub.relay) {
                    (Asker::Worker(w), _) => hub.reply(w, ticket, answer),
                    (Asker::Node(node, worker), Some(relay)) => {
                        let message = wire::Wire::Reply { worker, ticket, answer };
                        let _ = relay.send(fleet::Outgoing::Reply { node, message });
                    }
                    (Asker::Node(..), None) => {}
                }
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
