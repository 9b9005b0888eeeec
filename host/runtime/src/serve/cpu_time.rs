//! CPU time per request: the CPU time of the threads that run a guest's
//! future, counted poll by poll, so that waits (on the network, a timer, a
//! body) cost nothing, wherever the future runs (a request thread, then the
//! long-running lane).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// The CPU time one request's guest has used. The run's polls add to it;
/// the epoch callback reads it from within a poll.
#[derive(Default, Debug)]
pub(crate) struct CpuMeter {
    /// Nanoseconds spent in polls that have ended.
    spent: AtomicU64,
    /// The polling thread's CPU clock when the current poll began.
    poll_began: AtomicU64,
    /// Set when the guest was stopped for using too much.
    exceeded: AtomicBool,
}

impl CpuMeter {
    /// CPU time used so far, the current poll included: called on the
    /// thread that polls the run (the epoch callback runs inside a poll).
    pub(crate) fn used(&self) -> Duration {
        let current = thread_cpu_nanos().saturating_sub(self.poll_began.load(Ordering::Relaxed));
        Duration::from_nanos(self.spent.load(Ordering::Relaxed).saturating_add(current))
    }

    /// Marks the guest as stopped for its CPU time.
    pub(crate) fn mark_exceeded(&self) {
        self.exceeded.store(true, Ordering::Relaxed);
    }

    /// CPU time used by polls that have ended: the whole run's, once it
    /// is over.
    #[cfg(test)]
    fn total(&self) -> Duration {
        Duration::from_nanos(self.spent.load(Ordering::Relaxed))
    }

    /// Whether the guest was stopped for its CPU time.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    fn poll_begins(&self) {
        self.poll_began.store(thread_cpu_nanos(), Ordering::Relaxed);
    }

    fn poll_ends(&self) {
        let spent = thread_cpu_nanos().saturating_sub(self.poll_began.load(Ordering::Relaxed));
        self.spent.fetch_add(spent, Ordering::Relaxed);
    }
}

/// A future whose polls are counted by a [`CpuMeter`], when the app has a
/// CPU time to count against (reading the thread's CPU clock is a system
/// call, so it is skipped otherwise). It holds the future already boxed,
/// so wrapping it costs no second allocation.
pub(crate) struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Option<Arc<CpuMeter>>,
}

impl<F> Metered<F> {
    pub(crate) fn new(inner: Pin<Box<F>>, meter: Option<Arc<CpuMeter>>) -> Self {
        Self { inner, meter }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(meter) = &this.meter else {
            return this.inner.as_mut().poll(cx);
        };
        meter.poll_begins();
        let polled = this.inner.as_mut().poll(cx);
        meter.poll_ends();
        polled
    }
}

/// The calling thread's CPU clock, in nanoseconds.
fn thread_cpu_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    #[expect(unsafe_code, reason = "libc call to read the thread's CPU clock")]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    if rc != 0 {
        return 0;
    }
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn busy_polls_count_and_waits_do_not() {
        let meter = Arc::new(CpuMeter::default());
        let inner = meter.clone();
        let work = async move {
            // 20 ms of this thread's CPU, then 300 ms asleep.
            let until = thread_cpu_nanos() + 20_000_000;
            while thread_cpu_nanos() < until {
                std::hint::spin_loop();
            }
            let during = inner.used();
            tokio::time::sleep(Duration::from_millis(300)).await;
            during
        };
        let during = Metered::new(Box::pin(work), Some(meter.clone())).await;
        assert!(during >= Duration::from_millis(20), "{during:?}");
        let total = meter.total();
        assert!(
            total >= Duration::from_millis(20) && total < Duration::from_millis(200),
            "the sleep is not counted: {total:?}"
        );
    }
}
