//! The Redis side of fleet mode: one blocking connection with timeouts, the key names, and the
//! Lua scripts that lease quota, report what a node counted alone, and take tokens from a global
//! limit's bucket. A fleet-thread round sends all its calls in one pipeline.
//!
//! Each script runs atomically in Redis, so two nodes leasing at once cannot both take the last
//! requests of a quota: a grant never goes beyond the limit.

use std::time::Duration;

use redis::Script;

use crate::table::{Cluster, QuotaPeriod};
use crate::throttle::quota::QuotaCell;

/// KEYS: period count, day count, first-use marker. ARGV: limit, want, offset, period, count TTL,
/// day TTL. Returns {granted, the period's count after the grant}. The offset (AWS: requests
/// already used in the first period) is added once, on the fleet's first lease of the key.
const LEASE: &str = r"
local offset = tonumber(ARGV[3])
if offset > 0 and redis.call('SET', KEYS[3], ARGV[4], 'NX') then
  redis.call('INCRBY', KEYS[1], offset)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if n <= 0 then return {0, used} end
used = redis.call('INCRBY', KEYS[1], n)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('INCRBY', KEYS[2], n)
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {n, used}
";

/// KEYS: period count, day count. ARGV: requests, count TTL, day TTL. Adds what a node admitted
/// while Redis was unreachable; returns the period's count.
const REPORT: &str = r"
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return used
";

/// KEYS: the limit's arrival time (µs on Redis's clock). ARGV: µs per token (may be fractional),
/// the burst's span in µs, tokens wanted. GCRA, as [`crate::throttle::limit`] does locally:
/// returns {granted, µs until the next token when none is}.
const RATE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local base = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local n = math.min(math.floor((now + tolerance - base) / emission), tonumber(ARGV[3]))
if n <= 0 then return {0, math.ceil(base + emission - (now + tolerance))} end
local tat = math.ceil(base + n * emission)
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {n, 0}
";

/// Per-day counts outlive AWS's 90-day usage window a little.
const DAY_TTL_S: u64 = 100 * 86_400;

pub struct Conn {
    con: redis::Connection,
    lease: Script,
    report: Script,
    rate: Script,
    prefix: String,
}

/// One call of a fleet-thread round; a round's calls go to Redis in one pipeline.
pub enum Op<'a> {
    /// Lease up to `want` requests of `cell`'s quota in `period`.
    Lease { cell: &'a QuotaCell, period: u64, unix_s: u64, want: u64 },
    /// Add `n` requests a node admitted alone to `cell`'s count in `period`.
    Report { cell: &'a QuotaCell, period: u64, unix_s: u64, n: u64 },
    /// Take up to `want` tokens from the fleet's bucket `name` (a token every `emission_ns`, a
    /// burst spanning `tolerance_ns`).
    Rate { name: &'a str, emission_ns: u64, tolerance_ns: u64, want: u32 },
}

/// Redis's answer to an [`Op`], in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Granted, and the fleet's count of the period after the grant.
    Lease { granted: u64, used: u64 },
    /// The fleet's count of the period after the report.
    Report { used: u64 },
    /// Granted, and when none was, nanoseconds until the next token.
    Rate { granted: u32, retry_after_ns: u64 },
}

impl Conn {
    /// Connects and loads the scripts (so a round's pipeline can name them by hash).
    pub fn connect(settings: &Cluster) -> redis::RedisResult<Conn> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let mut con = redis::Client::open(settings.redis.as_str())?.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        let (lease, report, rate) = (Script::new(LEASE), Script::new(REPORT), Script::new(RATE));
        for script in [&lease, &report, &rate] {
            script.prepare_invoke().load(&mut con)?;
        }
        Ok(Conn { con, lease, report, rate, prefix: settings.prefix.clone() })
    }

    /// Sends `ops` in one pipeline (one round trip) and returns the replies in order.
    pub fn batch(&mut self, ops: &[Op<'_>]) -> redis::RedisResult<Vec<Reply>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for op in ops {
            pipe.add_command(self.command(op));
        }
        let values: Vec<redis::Value> = pipe.query(&mut self.con)?;
        ops.iter()
            .zip(values)
            .map(|(op, value)| {
                Ok(match op {
                    Op::Lease { .. } => {
                        let (granted, used) = redis::from_redis_value(value)?;
                        Reply::Lease { granted, used }
                    }
                    Op::Report { .. } => Reply::Report { used: redis::from_redis_value(value)? },
                    Op::Rate { .. } => {
                        let (granted, retry_us): (u32, u64) = redis::from_redis_value(value)?;
                        Reply::Rate { granted, retry_after_ns: retry_us * 1000 }
                    }
                })
            })
            .collect()
    }

    fn command(&self, op: &Op<'_>) -> redis::Cmd {
        let evalsha = |script: &Script, keys: &[&str]| {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(script.get_hash()).arg(keys.len()).arg(keys);
            cmd
        };
        match *op {
            Op::Lease { cell, period, unix_s, want } => {
                let names = keys(&self.prefix, cell, period, unix_s / 86_400);
                let mut cmd = evalsha(&self.lease, &[&names.count, &names.day, &names.start]);
                cmd.arg(cell.limit).arg(want).arg(cell.offset).arg(period);
                cmd.arg(count_ttl_s(cell.period)).arg(DAY_TTL_S);
                cmd
            }
            Op::Report { cell, period, unix_s, n } => {
                let names = keys(&self.prefix, cell, period, unix_s / 86_400);
                let mut cmd = evalsha(&self.report, &[&names.count, &names.day]);
                cmd.arg(n).arg(count_ttl_s(cell.period)).arg(DAY_TTL_S);
                cmd
            }
            Op::Rate { name, emission_ns, tolerance_ns, want } => {
                let key = format!("{}:rate:{{{}}}", self.prefix, escape(name));
                let mut cmd = evalsha(&self.rate, &[&key]);
                cmd.arg(emission_ns as f64 / 1000.0).arg(tolerance_ns / 1000).arg(want);
                cmd
            }
        }
    }

    /// The fleet's per-day counts of `cell` for `days` (days since the epoch).
    pub fn days(&mut self, cell: &QuotaCell, days: std::ops::RangeInclusive<u64>) -> redis::RedisResult<Vec<u64>> {
        let names: Vec<String> = days.map(|d| keys(&self.prefix, cell, 0, d).day).collect();
        let values: Vec<Option<u64>> = redis::cmd("MGET").arg(&names).query(&mut self.con)?;
        Ok(values.into_iter().map(Option::unwrap_or_default).collect())
    }
}

struct Keys {
    count: String,
    day: String,
    start: String,
}

/// `{prefix}:quota:{plan:key}:D20417`. The braces are a Redis Cluster hash tag, so one script's
/// keys live on one shard; `:`, `{`, `}` and `%` in names are percent-encoded so two (plan, key)
/// pairs never share a key.
fn keys(prefix: &str, cell: &QuotaCell, period: u64, day: u64) -> Keys {
    let tag = format!("{{{}:{}}}", escape(&cell.plan), escape(&cell.key));
    let kind = match cell.period {
        QuotaPeriod::Day => 'D',
        QuotaPeriod::Week => 'W',
        QuotaPeriod::Month => 'M',
    };
    Keys {
        count: format!("{prefix}:quota:{tag}:{kind}{period}"),
        day: format!("{prefix}:quota-day:{tag}:{day}"),
        start: format!("{prefix}:quota-start:{tag}"),
    }
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ':' => out.push_str("%3A"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// A period's count lives a week past the longest period it can be.
fn count_ttl_s(period: QuotaPeriod) -> u64 {
    let days = match period {
        QuotaPeriod::Day => 1,
        QuotaPeriod::Week => 7,
        QuotaPeriod::Month => 31,
    };
    (days + 7) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(crate::table::redact_url("redis://:s3cret@h:1/0"), "redis://:<redacted>@h:1/0");
        assert_eq!(crate::table::redact_url("redis://u:s3cret@h:1"), "redis://u:<redacted>@h:1");
        assert_eq!(crate::table::redact_url("redis://h:1"), "redis://h:1");
    }

    #[test]
    fn names_cannot_collide() {
        let quota = crate::table::Quota { limit: 1, period: QuotaPeriod::Day, offset: 0 };
        let a = QuotaCell::new(("a:b".into(), "c".into()), &quota, None, None, 1);
        let b = QuotaCell::new(("a".into(), "b:c".into()), &quota, None, None, 1);
        assert_ne!(keys("p", &a, 1, 1).count, keys("p", &b, 1, 1).count);
        assert_eq!(keys("p", &a, 7, 9).count, "p:quota:{a%3Ab:c}:D7");
    }
}
