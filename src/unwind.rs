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

/// `inner` run as a task of its own: its panic is caught and `on_panic` called. A future written
/// by hand, not an `async` block: a block that captures a future and awaits it holds it twice
/// (the capture and the awaited copy), and a connection task is held as long as its connection.
pub fn or_else<F: Future<Output = ()>, H: FnOnce()>(inner: F, on_panic: H) -> OrElse<F, H> {
    OrElse { inner: caught(inner), on_panic: Some(on_panic) }
}

pub struct OrElse<F, H> {
    inner: Caught<F>,
    on_panic: Option<H>,
}

impl<F: Future<Output = ()>, H: FnOnce()> Future for OrElse<F, H> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `inner` is structurally pinned (never moved out of `self`); `on_panic` is not
        // pinned (it is only taken by value, never pinned).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above; the pin projection does not outlive this call.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        match inner.poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(())) => {
                if let Some(h) = this.on_panic.take() {
                    h();
                }
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
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

    #[test]
    fn or_else_calls_its_hook_on_a_panic_only_and_holds_the_future_once() {
        let called = std::cell::Cell::new(0);
        run(or_else(async {}, || called.set(called.get() + 1)));
        assert_eq!(called.get(), 0);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        run(or_else(async { panic!("a bug") }, || called.set(called.get() + 1)));
        std::panic::set_hook(hook);
        assert_eq!(called.get(), 1);
        // What an `async move { inner.await }` wrapper would double.
        let big = async {
            let buf = [0u8; 4096];
            std::future::ready(()).await;
            std::hint::black_box(&buf);
        };
        let inner = std::mem::size_of_val(&big);
        assert!(std::mem::size_of_val(&or_else(big, || {})) < inner + 64);
    }
}
