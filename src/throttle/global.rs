//! A global rate limit's node side (fleet mode, `global = true`): a reservoir of tokens that Redis
//! granted to this node, refilled by the fleet thread before it runs dry, from which workers lease
//! their batches as they would from a local [`super::limit::Limit`].
//!
//! Redis keeps the one bucket of the fleet (GCRA, on Redis's clock), so grants never exceed
//! `rate × time + burst`; a node spends a grant within [`TOKEN_TTL_NS`] or drops it (a worker's
//! batch expires with its grant; a refill extends only the few tokens left, at most 1.5 blocks), so
//! what the fleet admits in any window `T` stays under `rate × (T + TTL) + burst` plus 1.5 blocks
//! per node. While Redis is unreachable the limit falls back to this node's own bucket at the
//! full rate, or, for a fail-closed usage plan, answers 503.
//!
//! Plain data with time and Redis's state passed in.

use std::sync::Mutex;

use super::fleet::Ask;
use crate::table::FailureMode;

/// How long granted tokens stay spendable on a node.
pub const TOKEN_TTL_NS: u64 = 100_000_000;

#[derive(Debug)]
pub struct Global {
    /// The limit's name in Redis: the same on every node for the same config entry.
    pub name: String,
    /// A usage plan's failure mode; `None` (stage and gateway limits): the node's own bucket.
    pub on_failure: Option<FailureMode>,
    /// Tokens asked of Redis at once: 10 ms of rate, at least 1, at most half the burst.
    pub block: u32,
    /// Nanoseconds per token.
    emission_ns: u64,
    state: Mutex<Reservoir>,
}

#[derive(Debug, Default)]
struct Reservoir {
    tokens: u64,
    expires_ns: u64,
    /// A refill queued for the fleet thread (nanoseconds).
    asked: Ask,
    denied_until_ns: u64,
    /// Redis granted less than asked last time: the fleet's bucket is empty, so an empty
    /// reservoir answers 429 at once (as a local bucket would) instead of waiting for Redis.
    starved: bool,
}

/// How long a refill may go unanswered before it is asked for again (nanoseconds).
pub const ASK_AGAIN_NS: u64 = 1_000_000_000;

/// The answer to a worker's draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    /// Tokens, spendable until the time given (the reservoir's own expiry: a worker's batch lives
    /// no longer than the grant it came from).
    Granted(u32, u64),
    /// Empty; a refill is on its way.
    Wait,
    /// Redis said the fleet's bucket is empty: retry after this many nanoseconds.
    Denied(u64),
    /// Redis is unreachable and the reservoir is empty.
    Down,
}

impl Global {
    /// A token every `emission_ns` (as its [`super::limit::Limit`]), `burst` at most.
    pub fn new(name: String, on_failure: Option<FailureMode>, emission_ns: u64, burst: u32) -> Global {
        let ten_ms = 10_000_000 / emission_ns.max(1);
        let block = ten_ms.clamp(1, u64::from((burst / 2).max(1))) as u32;
        Global { name, on_failure, block, emission_ns, state: Mutex::new(Reservoir::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Reservoir> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes up to `want` tokens at `now_ns`. The flag asks the caller to queue a refill.
    pub fn draw(&self, now_ns: u64, want: u32, redis_up: bool) -> (Drawn, bool) {
        let mut s = self.state();
        if now_ns >= s.expires_ns {
            s.tokens = 0;
        }
        if s.tokens > 0 {
            let n = s.tokens.min(u64::from(want.max(1)));
            s.tokens -= n;
            let ask = redis_up && s.tokens * 2 <= u64::from(self.block) && s.asked.due(now_ns, ASK_AGAIN_NS);
            return (Drawn::Granted(n as u32, s.expires_ns), ask);
        }
        if !redis_up {
            return (Drawn::Down, false);
        }
        if now_ns < s.denied_until_ns {
            return (Drawn::Denied(s.denied_until_ns - now_ns), false);
        }
        let ask = s.asked.due(now_ns, ASK_AGAIN_NS);
        if s.starved {
            // Ask in the background; this request is refused like a local empty bucket would.
            return (Drawn::Denied(self.emission_ns), ask);
        }
        (Drawn::Wait, ask)
    }

    /// The refill to ask Redis for, if one was asked.
    pub fn refill_request(&self) -> Option<u32> {
        self.state().asked.pending().then_some(self.block)
    }

    /// Redis granted `granted` of the `wanted` tokens at `now_ns` (none: its bucket is empty for
    /// `retry_after_ns`). Less than asked means the fleet's bucket is empty: the next ask waits
    /// until half a block has had time to drip in, so a starved node does not hammer Redis.
    pub fn refilled(&self, now_ns: u64, wanted: u32, granted: u32, retry_after_ns: u64) {
        let mut s = self.state();
        s.asked.answered();
        s.starved = granted < wanted;
        if s.starved {
            let drip_ns = self.emission_ns.saturating_mul(u64::from(self.block.div_ceil(2)));
            s.denied_until_ns = now_ns + retry_after_ns.max(drip_ns).max(1);
        }
        if granted == 0 {
            return;
        }
        if now_ns >= s.expires_ns {
            s.tokens = 0;
        }
        s.tokens += u64::from(granted);
        s.expires_ns = now_ns + TOKEN_TTL_NS;
    }

    /// The refill could not be made; waiting workers look again.
    pub fn refill_failed(&self) {
        self.state().asked.answered();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn draws_wait_for_refills_and_ask_ahead() {
        let g = Global::new("x".into(), None, 100_000, 1000); // 10,000/s
        assert_eq!(g.block, 100);
        let t = 1_000 * MS;
        assert_eq!(g.draw(t, 10, true), (Drawn::Wait, true));
        assert_eq!(g.draw(t, 10, true), (Drawn::Wait, false), "asked already");
        assert_eq!(g.draw(t + ASK_AGAIN_NS, 10, true), (Drawn::Wait, true), "an ask left unanswered is made again");
        assert_eq!(g.refill_request(), Some(100));
        g.refilled(t, 100, 100, 0);
        assert_eq!(g.draw(t, 10, true), (Drawn::Granted(10, t + TOKEN_TTL_NS), false));
        for _ in 0..3 {
            g.draw(t, 10, true);
        }
        assert_eq!(g.draw(t, 10, true), (Drawn::Granted(10, t + TOKEN_TTL_NS), true), "half spent: ask ahead");
        assert_eq!(g.draw(t + TOKEN_TTL_NS, 10, true), (Drawn::Wait, false), "old tokens are dropped");
    }

    #[test]
    fn redis_says_empty_or_is_down() {
        let g = Global::new("x".into(), Some(FailureMode::Closed), 1_000_000_000, 1); // 1/s
        assert_eq!(g.block, 1);
        let t = 1_000 * MS;
        g.draw(t, 1, true);
        g.refilled(t, 1, 0, 500 * MS);
        // Redis said 500 ms, but a starved node waits for half a block to drip in (1 s here).
        assert_eq!(g.draw(t + MS, 1, true), (Drawn::Denied(999 * MS), false));
        let (drawn, ask) = g.draw(t + 2000 * MS, 1, true);
        assert_eq!((drawn, ask), (Drawn::Denied(1000 * MS), true), "starved: refused at once, Redis asked again");
        let t = t + 3000 * MS;
        assert_eq!(g.draw(t, 1, false), (Drawn::Down, false));
        g.refilled(t, 1, 1, 0);
        assert_eq!(
            g.draw(t, 1, false),
            (Drawn::Granted(1, t + TOKEN_TTL_NS), false),
            "granted tokens outlive an outage"
        );
        assert_eq!(g.draw(t, 1, true), (Drawn::Wait, true), "fully granted again: not starved");
    }
}
