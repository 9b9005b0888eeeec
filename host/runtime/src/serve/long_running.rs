//! Guests that keep the CPU busy move to threads of their own, at a lower
//! priority, so that accepting connections, HTTP I/O and every short
//! request are never queued behind them.
//!
//! A request's guest starts where the request is handled, which costs no
//! hand-off. The epoch ticker interrupts running guest code every
//! [`RuntimeConfig::EPOCH_TICK`](crate::RuntimeConfig::EPOCH_TICK); a guest
//! interrupted [`LONG_RUNNING_TICKS`] times is long-running, and at its next
//! yield its run (the future that owns its store and its stack) moves to
//! the long-running lane, where it carries on from where it stopped.

use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

/// How many epoch interrupts make a guest long-running: running guest code
/// across two ticks means at least one whole tick (10 ms) of it.
pub(crate) const LONG_RUNNING_TICKS: u32 = 2;

/// The nice value of the lane's threads: below request handling, so the
/// scheduler runs short requests first, yet above background compiles.
const LANE_NICE: libc::c_int = 10;

/// How often a request's guest has been interrupted by the epoch ticker,
/// shared by the store's epoch callback and the run that watches it.
#[derive(Clone, Default)]
pub(crate) struct Interrupts(Arc<AtomicU32>);

impl Interrupts {
    /// Counts one interrupt.
    pub(crate) fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn long_running(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= LONG_RUNNING_TICKS
    }
}

/// Runs `run` here until `interrupts` say it is long-running, then on the
/// long-running lane until it ends. Dropping the returned future stops the
/// run wherever it is.
pub(crate) async fn run_guest<F>(run: F, interrupts: Interrupts) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut run = Box::pin(run);
    let here = std::future::poll_fn(|cx| {
        if interrupts.long_running() {
            return Poll::Ready(None);
        }
        run.as_mut().poll(cx).map(Some)
    })
    .await;
    if let Some(output) = here {
        return output;
    }
    let Some(lane) = lane() else {
        return run.await;
    };
    let mut moved = AbortOnDrop(lane.spawn(run));
    match moved.output().await {
        Ok(output) => output,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// A task of the lane, stopped if whoever waits for it goes away (the
/// request's deadline passed, or its client left).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn output(&mut self) -> Result<T, tokio::task::JoinError> {
        Pin::new(&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The lane: a multi-threaded tokio runtime with one worker per core, at
/// [`LANE_NICE`], started on first use. `None` if it cannot be started; the
/// run then stays where it began.
fn lane() -> Option<&'static tokio::runtime::Handle> {
    static LANE: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    LANE.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("wharf-long-running")
            .on_thread_start(lower_this_thread_priority)
            .enable_all()
            .build()
            .inspect_err(|e| {
                tracing::warn!("long-running guests stay on the request threads: {e}");
            })
            .ok()
    })
    .as_ref()
    .map(tokio::runtime::Runtime::handle)
}

/// Lowers the calling thread's CPU priority to [`LANE_NICE`]. On Linux the
/// nice value belongs to the thread.
fn lower_this_thread_priority() {
    // SAFETY: gettid and setpriority take no pointers and only change the
    // scheduling priority of the calling thread.
    #[expect(unsafe_code, reason = "libc calls to lower a thread's priority")]
    let result = unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, LANE_NICE)
    };
    if result != 0 {
        tracing::warn!(
            "a long-running guest thread keeps normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's name and nice value.
    fn where_am_i() -> (String, libc::c_int) {
        // SAFETY: reads the calling thread's nice value; errno is cleared
        // first because -1 is also a valid answer.
        #[expect(unsafe_code, reason = "libc call to read a thread's priority")]
        let nice = unsafe {
            *libc::__errno_location() = 0;
            libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
        };
        let name = std::thread::current().name().unwrap_or_default().to_owned();
        (name, nice)
    }

    #[tokio::test]
    async fn a_long_running_guest_carries_on_at_lower_priority_on_the_lane() {
        let interrupts = Interrupts::default();
        let ticker = interrupts.clone();
        let run = async move {
            let before = where_am_i();
            for _ in 0..LONG_RUNNING_TICKS {
                ticker.count();
                tokio::task::yield_now().await;
            }
            (before, where_am_i())
        };
        let (before, after) = run_guest(run, interrupts).await;
        assert!(!before.0.starts_with("wharf-long-running"), "{before:?}");
        assert_eq!(after, ("wharf-long-running".to_owned(), LANE_NICE));
    }

    #[tokio::test]
    async fn a_short_guest_stays_where_it_began() {
        let interrupts = Interrupts::default();
        let ticker = interrupts.clone();
        let run = async move {
            ticker.count();
            tokio::task::yield_now().await;
            where_am_i()
        };
        let (name, _) = run_guest(run, interrupts).await;
        assert!(!name.starts_with("wharf-long-running"), "{name}");
    }
}
