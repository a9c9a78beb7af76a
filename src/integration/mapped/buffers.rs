//! Output buffers for template renders, reused on the worker thread: a render takes one
//! ([`take`]) and the body it became gives it back when dropped ([`give`], from
//! `request::Payload`), so a mapped route's two renders per request allocate nothing once the
//! worker is warm.
//!
//! Must not: hold much — at most [`KEEP`] buffers of at most [`MAX_CAPACITY`] bytes each per
//! thread (a larger one is freed, so one huge render does not pin its memory). Cost: a
//! thread-local access per take and per give; no lock (each worker thread has its own list).

use std::cell::RefCell;

/// Buffers kept per thread: more than one request's renders at once on a worker (its
/// connections interleave at every await).
const KEEP: usize = 16;
/// A buffer grown beyond this is freed rather than kept.
const MAX_CAPACITY: usize = 64 * 1024;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer: a kept one, else a new one of `capacity`.
pub fn take(capacity: usize) -> Vec<u8> {
    FREE.with_borrow_mut(Vec::pop).unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Keeps `buffer` for a later [`take`] (emptied), unless it is empty or too large, or enough are kept.
pub fn give(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_CAPACITY {
        return;
    }
    buffer.clear();
    FREE.with_borrow_mut(|free| {
        if free.len() < KEEP {
            free.push(buffer);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_empty_with_its_capacity() {
        let mut b = take(512);
        b.extend_from_slice(b"rendered");
        let capacity = b.capacity();
        let at = b.as_ptr();
        give(b);
        let again = take(512);
        assert!(again.is_empty());
        assert_eq!((again.as_ptr(), again.capacity()), (at, capacity));
    }

    #[test]
    fn large_and_surplus_buffers_are_not_kept() {
        // Drain what earlier tests on this thread left.
        while FREE.with_borrow(|f| !f.is_empty()) {
            drop(take(0));
        }
        give(Vec::with_capacity(MAX_CAPACITY + 1));
        assert_eq!(FREE.with_borrow(Vec::len), 0);
        for _ in 0..KEEP + 3 {
            give(Vec::with_capacity(16));
        }
        assert_eq!(FREE.with_borrow(Vec::len), KEEP);
    }
}
