//! A worker-local event: tasks wait until it is notified. Single-threaded (no atomics, no locks);
//! the waiter list is deduplicated, so a task that waits in a loop does not grow it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct LocalEvent {
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl LocalEvent {
    pub fn notify(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Resolves at the next [`notify`](Self::notify) after this call.
    pub fn wait(&self) -> Wait<'_> {
        Wait { event: self, seen: self.generation.get() }
    }
}

pub struct Wait<'a> {
    event: &'a LocalEvent,
    seen: u64,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.event.generation.get() != self.seen {
            return Poll::Ready(());
        }
        let mut waiters = self.event.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
