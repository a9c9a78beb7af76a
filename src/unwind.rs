//! A future whose panics are caught: a bug in one connection's task ends that task's work, not
//! the worker and every other connection on it. A leaf.
//!
//! Cost: `catch_unwind` around each poll (free unless a panic happens).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// `inner`, polled until it finishes or panics (`Err(())`; it is never polled again).
pub struct Caught<F> {
    inner: F,
    panicked: bool,
}

pub fn caught<F: Future>(inner: F) -> Caught<F> {
    Caught { inner, panicked: false }
}

impl<F: Future> Future for Caught<F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`.
        let this = unsafe { self.get_unchecked_mut() };
        if this.panicked {
            return Poll::Ready(Err(()));
        }
        // SAFETY: as above; the pin projection does not outlive this call.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => {
                this.panicked = true;
                Poll::Ready(Err(()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("the test future never waits"),
        }
    }

    #[test]
    fn a_panic_is_an_error_and_a_value_passes() {
        assert_eq!(run(caught(async { 7 })), Ok(7));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let panicked = run(caught(async { panic!("a bug") }));
        std::panic::set_hook(hook);
        assert_eq!(panicked, Err::<(), ()>(()));
    }
}
