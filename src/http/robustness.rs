//! Deterministic mutation tests for the parsers, run with the unit tests (the `fuzz/` targets go
//! deeper): thousands of mutated requests, responses and chunked bodies must never panic, and
//! whatever is accepted must be self-consistent.

use bytes::Bytes;

use super::body::ChunkedDecoder;
use super::head::{self, HeadLimits};
use super::response_head;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[&[u8]] = &[
    b"GET /pets/7?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
];

const INTERESTING: &[u8] = b"\r\n\0 :;,#\t\x7f\x80\xff0aF-";

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            1 => v.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < v.len() => {
                v.remove(at);
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn mutated_inputs_never_panic() {
    let limits = HeadLimits { max_header_bytes: 4096, max_header_count: 16, max_uri_bytes: 512 };
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..20_000 {
        let input = mutate(&mut rng, SEEDS[round % SEEDS.len()]);
        if let Ok(Some(index)) = head::parse(&input, &limits) {
            let len = index.len;
            assert!(len <= input.len());
            let h = index.into_head(Bytes::copy_from_slice(&input[..len]));
            assert!(h.path().starts_with(b"/"));
            assert!(!h.path().contains(&b'#'));
            let _ = (h.query(), h.host_name(), h.headers().count());
        }
        let _ = response_head::parse(&input, round % 3 == 0, 2048);
        let mut decoder = ChunkedDecoder::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            match decoder.step(rest) {
                Ok(step) if step.consumed > 0 && !step.done => rest = &rest[step.consumed..],
                _ => break,
            }
        }
    }
}

const PATH_SEEDS: &[&[u8]] =
    &[b"/prod/public/../admin", b"/a/%2e%2E/b//c/./d%2Fe%5c;f", b"/files/x%41%zz/..%2F../y/", b"//a///b/../../c"];

const PATH_BYTES: &[u8] = b"/.%2eEfF5cC;\\a0";

#[test]
fn mutated_paths_normalise_to_a_fixed_point() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    for round in 0..20_000 {
        let mut v = PATH_SEEDS[round % PATH_SEEDS.len()].to_vec();
        for _ in 0..1 + rng.below(6) {
            let at = 1 + rng.below(v.len());
            match rng.below(3) {
                0 if at < v.len() => v[at] = PATH_BYTES[rng.below(PATH_BYTES.len())],
                1 => v.insert(at.min(v.len()), PATH_BYTES[rng.below(PATH_BYTES.len())]),
                _ if at < v.len() => {
                    v.remove(at);
                }
                _ => {}
            }
        }
        super::path::assert_normal_form(&v);
    }
}
