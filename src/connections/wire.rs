//! The messages nodes exchange over Redis pub/sub in fleet mode: a command for a connection on
//! another node, the answer to it, and the heartbeat a node sends itself. A compact binary
//! encoding, since a push's data travels in it as it is (no base64 of a 128 KB message).
//!
//! Must not: trust what it reads: another node, or anything else that can publish on the channel,
//! wrote it; [`decode`] refuses any message that is not exactly one of these shapes. Cost: one
//! allocation per message (the buffer given to Redis) each way.

use std::net::IpAddr;

use bytes::Bytes;

use super::{Answer, Command, Info, Node};

/// One message on a node's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// Worker `worker` of this node: carry out `command` on connection `id`, answer to
    /// `(from, from_worker)` with `ticket`.
    Ask { from: Node, from_worker: u8, ticket: u64, worker: u8, id: String, command: Command },
    /// The answer to the ask `ticket` of this node's worker `worker`.
    Reply { worker: u8, ticket: u64, answer: Answer },
    /// A node's note to itself: its subscription still carries messages.
    Heartbeat,
}

const ASK: u8 = b'A';
const REPLY: u8 = b'R';
const HEARTBEAT: u8 = b'H';

pub fn encode(message: &Wire) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match message {
        Wire::Ask { from, from_worker, ticket, worker, id, command } => {
            out.push(ASK);
            out.extend_from_slice(from);
            out.push(*from_worker);
            out.extend_from_slice(&ticket.to_le_bytes());
            out.push(*worker);
            // Ids are 16 characters; anything longer is not an id a node would hold.
            let id = &id.as_bytes()[..id.len().min(255)];
            out.push(id.len() as u8);
            out.extend_from_slice(id);
            match command {
                Command::Post(data) => {
                    out.push(b'P');
                    out.extend_from_slice(data);
                }
                Command::Get => out.push(b'G'),
                Command::Delete => out.push(b'D'),
            }
        }
        Wire::Reply { worker, ticket, answer } => {
            out.push(REPLY);
            out.push(*worker);
            out.extend_from_slice(&ticket.to_le_bytes());
            match answer {
                Answer::Done => out.push(b'D'),
                Answer::Gone => out.push(b'G'),
                Answer::Busy => out.push(b'B'),
                Answer::Info(info) => {
                    out.push(b'I');
                    out.extend_from_slice(&info.connected_at_ms.to_le_bytes());
                    out.extend_from_slice(&info.last_active_ms.to_le_bytes());
                    let ip = info.source_ip.to_string();
                    out.push(ip.len() as u8);
                    out.extend_from_slice(ip.as_bytes());
                    if let Some(ua) = &info.user_agent {
                        out.extend_from_slice(ua.as_bytes());
                    }
                }
            }
        }
        Wire::Heartbeat => out.push(HEARTBEAT),
    }
    out
}

/// A reader over a message that fails (None) on the first byte it lacks.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

pub fn decode(message: &[u8]) -> Option<Wire> {
    let mut r = Reader(message);
    match r.byte()? {
        ASK => {
            let from: Node = r.take(4)?.try_into().ok()?;
            let from_worker = r.byte()?;
            let ticket = r.u64()?;
            let worker = r.byte()?;
            let len = usize::from(r.byte()?);
            let id = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
            let command = match r.byte()? {
                b'P' => Command::Post(Bytes::copy_from_slice(r.rest())),
                b'G' => Command::Get,
                b'D' => Command::Delete,
                _ => return None,
            };
            r.0.is_empty().then_some(Wire::Ask { from, from_worker, ticket, worker, id, command })
        }
        REPLY => {
            let worker = r.byte()?;
            let ticket = r.u64()?;
            let answer = match r.byte()? {
                b'D' => Answer::Done,
                b'G' => Answer::Gone,
                b'B' => Answer::Busy,
                b'I' => {
                    let connected_at_ms = r.u64()?;
                    let last_active_ms = r.u64()?;
                    let len = usize::from(r.byte()?);
                    let text = std::str::from_utf8(r.take(len)?).ok()?;
                    let source_ip: IpAddr = text.parse().ok()?;
                    // As an encoder writes it, or it is not from a node.
                    if source_ip.to_string() != text {
                        return None;
                    }
                    let ua = r.rest();
                    let user_agent = match ua.is_empty() {
                        true => None,
                        false => Some(std::str::from_utf8(ua).ok()?.to_owned()),
                    };
                    Answer::Info(Info { connected_at_ms, last_active_ms, source_ip, user_agent })
                }
                _ => return None,
            };
            r.0.is_empty().then_some(Wire::Reply { worker, ticket, answer })
        }
        HEARTBEAT => r.0.is_empty().then_some(Wire::Heartbeat),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_comes_back_as_it_went() {
        let info = Info {
            connected_at_ms: 1_705_751_697_419,
            last_active_ms: 1_705_751_698_000,
            source_ip: "::1".parse().unwrap(),
            user_agent: Some("Python/3.11 websockets/14".into()),
        };
        let messages = [
            Wire::Ask {
                from: *b"abcd",
                from_worker: 1,
                ticket: u64::MAX,
                worker: 0,
                id: "L0SM9cOFvHcCIhw=".into(),
                command: Command::Post(Bytes::from_static(b"\x00binary\xff")),
            },
            Wire::Ask { from: [0; 4], from_worker: 0, ticket: 7, worker: 3, id: String::new(), command: Command::Get },
            Wire::Ask { from: [9; 4], from_worker: 2, ticket: 8, worker: 1, id: "x".into(), command: Command::Delete },
            Wire::Reply { worker: 1, ticket: 2, answer: Answer::Info(info.clone()) },
            Wire::Reply { worker: 1, ticket: 2, answer: Answer::Info(Info { user_agent: None, ..info }) },
            Wire::Reply { worker: 0, ticket: 3, answer: Answer::Done },
            Wire::Reply { worker: 0, ticket: 4, answer: Answer::Gone },
            Wire::Reply { worker: 0, ticket: 5, answer: Answer::Busy },
            Wire::Heartbeat,
        ];
        for m in messages {
            assert_eq!(decode(&encode(&m)), Some(m.clone()), "{m:?}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let ask = encode(&Wire::Ask {
            from: *b"abcd",
            from_worker: 1,
            ticket: 1,
            worker: 0,
            id: "id".into(),
            command: Command::Get,
        });
        for cut in 0..ask.len() {
            assert_eq!(decode(&ask[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode(&[ask.as_slice(), b"x"].concat()), None, "a GET carries nothing after it");
        assert_eq!(decode(b"H "), None);
        let info = Info { connected_at_ms: 1, last_active_ms: 2, source_ip: "::1".parse().unwrap(), user_agent: None };
        let canonical = encode(&Wire::Reply { worker: 0, ticket: 1, answer: Answer::Info(info) });
        let spelled = [&canonical[..canonical.len() - 4], b"\x06::0001"].concat();
        assert_eq!(decode(&spelled), None, "an address spelled as no node spells it");
        assert_eq!(decode(b"Z"), None);
        let mut reply = encode(&Wire::Reply { worker: 0, ticket: 1, answer: Answer::Done });
        *reply.last_mut().unwrap() = b'?';
        assert_eq!(decode(&reply), None);
    }
}
