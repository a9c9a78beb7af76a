//! Connections across a fleet (`[cluster] redis`): a command for a connection held by another node
//! reaches it over Redis pub/sub, and its answer comes back the same way.
//!
//! Each node has a tag (4 random bytes, chosen at start; a connection id names its node and its
//! worker, see `websocket::id`), a channel `{prefix}:ws:{tag}` it subscribes to, and a registry
//! key `{prefix}:ws:node:{tag}` that says it holds connections. The owner refreshes the key every
//! [`HEARTBEAT`] with a TTL of [`NODE_TTL`]; a clean exit deletes it. A command is published by
//! one script that first looks the key up, so:
//! - a node that exited, or whose key expired (it died, or lost Redis), answers 410 at once;
//! - a node that is registered but not subscribed (its process was killed a moment ago, or its
//!   subscription is reconnecting) is asked again every [`RETRY`] until the asker's deadline, so a
//!   dead node's connections are gone within [`NODE_TTL`], and a flapping one's are not reported
//!   gone spuriously.
//!
//! Two threads per node, blocking I/O with timeouts, never a worker: the relay (publishes asks,
//! answers, heartbeats) and the listener (subscribed; hands what arrives to the workers' inboxes).
//! The registry is per node, not per connection: a connection's id says where it lives, so a
//! `$connect` writes nothing to Redis and a push right after it cannot race a registration.
//!
//! Must not: block a worker, or touch a connection (its worker does). Cost: per command to another
//! node, one script call and one publish each way; per node, one `SET` and one publish a second.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::Script;

use super::wire::{Wire, decode, encode};
use super::{Answer, Asker, Envelope, Hub, Node};
use crate::table::Cluster;

/// How often a node refreshes its registry key.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a node's key outlives its last refresh: the bound on reporting a dead node's
/// connections gone.
pub const NODE_TTL: Duration = Duration::from_secs(4);
/// How soon a command for a registered node that nobody received is published again.
const RETRY: Duration = Duration::from_millis(100);
/// How long the listener waits for a message (it gets its own heartbeat every second) before it
/// takes the subscription for dead and makes a new one.
const SILENCE: Duration = Duration::from_secs(5);
/// Messages waiting for the relay, at most.
const QUEUE: usize = 4096;

/// KEYS: the owner's registry key. ARGV: its channel, the message. -1 when the owner is not
/// registered; otherwise how many subscribers received the message.
const DELIVER: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('PUBLISH', ARGV[1], ARGV[2])
";

/// What a worker (or the listener) hands the relay.
pub(super) enum Outgoing {
    /// A command for a connection on node `node`; the answer goes to this node's `from_worker`.
    Ask { node: Node, message: Wire, from_worker: usize, ticket: u64, deadline: Instant },
    /// An answer for node `node`.
    Reply { node: Node, message: Wire },
    /// The node is leaving: delete its registry key.
    Leave(SyncSender<()>),
}

/// The workers' side of the relay.
pub(super) struct Relay {
    sender: SyncSender<Outgoing>,
    thread: OnceLock<std::thread::Thread>,
}

impl Relay {
    /// Queues `outgoing`; false when the queue is full.
    pub(super) fn send(&self, outgoing: Outgoing) -> bool {
        match self.sender.try_send(outgoing) {
            Ok(()) => {
                if let Some(t) = self.thread.get() {
                    t.unpark();
                }
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

fn hex(node: &Node) -> String {
    node.iter().map(|b| format!("{b:02x}")).collect()
}

fn channel(prefix: &str, node: &Node) -> String {
    format!("{prefix}:ws:{}", hex(node))
}

fn registry_key(prefix: &str, node: &Node) -> String {
    format!("{prefix}:ws:node:{}", hex(node))
}

fn connect(settings: &Cluster) -> redis::RedisResult<redis::Connection> {
    let timeout = Duration::from_millis(settings.timeout_ms);
    let con = redis::Client::open(settings.redis.as_str())?.get_connection_with_timeout(timeout)?;
    con.set_read_timeout(Some(timeout))?;
    con.set_write_timeout(Some(timeout))?;
    Ok(con)
}

/// The relay's queue, before its threads run.
pub(super) fn relay() -> (Relay, Receiver<Outgoing>) {
    let (sender, receiver) = sync_channel(QUEUE);
    (Relay { sender, thread: OnceLock::new() }, receiver)
}

/// Starts the relay and the listener of `hub`'s node.
pub(super) fn start(hub: &Arc<Hub>, receiver: Receiver<Outgoing>, settings: Cluster) {
    let Some(relay) = hub.relay.as_ref() else { return };
    let (h, s) = (hub.clone(), settings.clone());
    match std::thread::Builder::new().name("portico-ws-relay".into()).spawn(move || run_relay(&h, &receiver, &s)) {
        Ok(handle) => {
            let _ = relay.thread.set(handle.thread().clone());
        }
        Err(e) => log::error!("WebSocket pushes across the fleet are off: no relay thread: {e}"),
    }
    let h = hub.clone();
    if let Err(e) = std::thread::Builder::new().name("portico-ws-listen".into()).spawn(move || listen(&h, &settings)) {
        log::error!("WebSocket pushes from other nodes are off: no listener thread: {e}");
    }
}

struct Pending {
    node: Node,
    payload: Vec<u8>,
    from_worker: usize,
    ticket: u64,
    deadline: Instant,
    next_try: Instant,
}

fn run_relay(hub: &Hub, receiver: &Receiver<Outgoing>, settings: &Cluster) {
    let url = settings.redacted_url();
    let deliver = Script::new(DELIVER);
    let own_key = registry_key(&settings.prefix, &hub.node);
    let own_channel = channel(&settings.prefix, &hub.node);
    let heartbeat = encode(&Wire::Heartbeat);
    let mut con: Option<redis::Connection> = None;
    let mut connect_at = Instant::now();
    let mut beat_at = Instant::now();
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut down_logged = false;
    loop {
        let mut leaving = None;
        while let Ok(outgoing) = receiver.try_recv() {
            match outgoing {
                Outgoing::Ask { node, message, from_worker, ticket, deadline } => {
                    let payload = encode(&message);
                    pending.push_back(Pending {
                        node,
                        payload,
                        from_worker,
                        ticket,
                        deadline,
                        next_try: Instant::now(),
                    });
                }
                Outgoing::Reply { node, message } => {
                    // An answer lost here is the asker's timeout (429): nothing to retry for.
                    if let Some(c) = con.as_mut() {
                        let published: redis::RedisResult<i64> =
                            redis::cmd("PUBLISH").arg(channel(&settings.prefix, &node)).arg(encode(&message)).query(c);
                        if published.is_err() {
                            con = None;
                        }
                    }
                }
                Outgoing::Leave(done) => leaving = Some(done),
            }
        }
        if con.is_none() && Instant::now() >= connect_at {
            match connect(settings) {
                Ok(c) => {
                    if down_logged {
                        log::warn!("fleet: WebSocket relay reconnected to Redis at {url}");
                    }
                    down_logged = false;
                    con = Some(c);
                    beat_at = Instant::now();
                }
                Err(e) => {
                    if !down_logged {
                        log::error!(
                            "fleet: Redis at {url} is unreachable ({e}): pushes to other nodes' WebSocket connections \
                             answer 429 and this node's connections cannot be reached from others; retrying"
                        );
                        down_logged = true;
                    }
                    connect_at = Instant::now() + Duration::from_millis(250);
                }
            }
        }
        if let Some(done) = leaving {
            if let Some(c) = con.as_mut() {
                let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&own_key).query(c);
            }
            let _ = done.send(());
            return;
        }
        let now = Instant::now();
        if let Some(c) = con.as_mut()
            && now >= beat_at
        {
            let beat: redis::RedisResult<()> = redis::pipe()
                .cmd("SET")
                .arg(&own_key)
                .arg(1)
                .arg("PX")
                .arg(NODE_TTL.as_millis() as u64)
                .ignore()
                .cmd("PUBLISH")
                .arg(&own_channel)
                .arg(&heartbeat)
                .ignore()
                .query(c);
            match beat {
                Ok(()) => beat_at = now + HEARTBEAT,
                Err(_) => con = None,
            }
        }
        let mut keep = VecDeque::with_capacity(pending.len());
        while let Some(p) = pending.pop_front() {
            if now >= p.deadline {
                hub.reply(p.from_worker, p.ticket, Answer::Busy);
                continue;
            }
            let Some(c) = con.as_mut().filter(|_| now >= p.next_try) else {
                keep.push_back(p);
                continue;
            };
            let sent: redis::RedisResult<i64> = deliver
                .key(registry_key(&settings.prefix, &p.node))
                .arg(channel(&settings.prefix, &p.node))
                .arg(&p.payload)
                .invoke(c);
            match sent {
                Ok(-1) => hub.reply(p.from_worker, p.ticket, Answer::Gone),
                Ok(0) => keep.push_back(Pending { next_try: now + RETRY, ..p }),
                Ok(_) => {}
                Err(_) => {
                    con = None;
                    keep.push_back(p);
                }
            }
        }
        pending = keep;
        let wait = if pending.is_empty() { HEARTBEAT } else { RETRY };
        std::thread::park_timeout(wait.min(beat_at.saturating_duration_since(Instant::now()).max(RETRY)));
    }
}

fn listen(hub: &Hub, settings: &Cluster) {
    let url = settings.redacted_url();
    let own_channel = channel(&settings.prefix, &hub.node);
    loop {
        let subscribed = connect(settings).and_then(|mut con| -> redis::RedisResult<()> {
            let mut sub = con.as_pubsub();
            sub.subscribe(&own_channel)?;
            sub.set_read_timeout(Some(SILENCE))?;
            loop {
                let message = sub.get_message()?;
                hub.arrived(message.get_payload_bytes());
            }
        });
        if let Err(e) = subscribed {
            log::debug!("fleet: WebSocket listener on Redis at {url}: {e}; subscribing again");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Hub {
    /// What the listener received: an ask goes to the worker that holds the connection, an
    /// answer to the worker that asked.
    fn arrived(&self, payload: &[u8]) {
        match decode(payload) {
            Some(Wire::Ask { from, from_worker, ticket, worker, id, command }) => {
                let asker = Asker::Node(from, from_worker);
                if !self.send(usize::from(worker), Envelope::Ask { id, command, from: asker, ticket })
                    && let Some(relay) = &self.relay
                {
                    let message = Wire::Reply { worker: from_worker, ticket, answer: Answer::Busy };
                    let _ = relay.send(Outgoing::Reply { node: from, message });
                }
            }
            Some(Wire::Reply { worker, ticket, answer }) => self.reply(usize::from(worker), ticket, answer),
            Some(Wire::Heartbeat) => {}
            None => log::warn!("fleet: a message on this node's WebSocket channel that no node writes; dropped"),
        }
    }

    /// Deletes this node's registry key, so other nodes answer 410 for its connections at once.
    /// Waits up to `within` for Redis.
    pub fn leave(&self, within: Duration) {
        if let Some(relay) = &self.relay {
            let (done, wait) = sync_channel(1);
            if relay.send(Outgoing::Leave(done)) {
                let _ = wait.recv_timeout(within);
            }
        }
    }
}
