//! Hostile input, class by class: each case is sent over a raw socket and the assertion is about
//! what the upstream received (exactly that target, or nothing at all), not only the status the
//! client got. Regression tests for the defects of issue 11.

mod admin;
mod bodies;
mod cache_node;
mod desync;
mod paths;
mod poison;
mod protocol;
mod text;

use crate::support::*;

/// What a case must lead to.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// This status, and the upstream saw nothing.
    Refused(u16),
    /// 200, and the upstream saw exactly this request target.
    Forwarded(&'static str),
}

/// Sends each raw request on a new connection and checks the status and what `up` received.
pub fn run_cases(gw: &Gateway, up: &Upstream, cases: &[(impl AsRef<[u8]>, Expect)], driver: Driver) {
    for (raw, expect) in cases {
        let (raw, expect) = (raw.as_ref(), *expect);
        let before = up.seen().len();
        let shown = String::from_utf8_lossy(raw).into_owned();
        let mut c = gw.connect();
        c.send(raw);
        let r = c.read_response().unwrap_or_else(|| panic!("no response to {shown:?} ({driver:?})"));
        let seen = up.seen();
        match expect {
            Expect::Refused(status) => {
                assert_eq!(r.status, status, "{shown:?} ({driver:?}): {}", r.text());
                assert_eq!(seen.len(), before, "{shown:?} must not reach the upstream ({driver:?}): {:?}", seen.last());
            }
            Expect::Forwarded(target) => {
                assert_eq!(r.status, 200, "{shown:?} ({driver:?}): {}", r.text());
                assert_eq!(seen.len(), before + 1, "{shown:?} ({driver:?})");
                assert_eq!(seen[before].target, target, "{shown:?} ({driver:?})");
            }
        }
    }
}

/// Runs `cases` on both drivers, each against a gateway on `config(upstream)` and an upstream that
/// answers 200.
pub fn run_on_both_drivers(config: impl Fn(std::net::SocketAddr) -> String, cases: &[(impl AsRef<[u8]>, Expect)]) {
    for driver in DRIVERS {
        let up = Upstream::start(|_| ok_json("{}"));
        let gw = Gateway::start(&config(up.addr), driver);
        run_cases(&gw, &up, cases, driver);
    }
}

/// `GET target` with a Host header, as raw bytes.
pub fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}
