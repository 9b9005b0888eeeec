//! Guests that keep the CPU busy move to threads of their own, at a lower
//! priority, so that accepting connections, HTTP I/O and every short
//! request are never queued behind them.
//!
//! A request's guest starts where the request is handled, which costs no
//! hand-off. Its run (the future that owns its store and its stack) is
//! timed while it runs: one that has spent [`LONG_RUNNING`] running, waits
//! not counted, is long-running, and at its next yield (the epoch ticker
//! makes running guest code yield every tick) it moves to the long-running
//! lane, where it carries on from where it stopped.

use super::AbortOnDrop;
use super::cpu_time::{CpuMeter, Metered};
use crate::thread_priority::lower_this_thread_priority;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long a guest's run may keep a request thread busy, in all, before
/// it moves to the lane: one epoch tick, far beyond what a request that
/// mostly waits on I/O spends.
pub(crate) const LONG_RUNNING: Duration = crate::RuntimeConfig::EPOCH_TICK;

/// The nice value of the lane's threads: below request handling, so the
/// scheduler runs short requests first, yet above background compiles.
const LANE_NICE: i32 = 10;

/// Runs `run` here until it has been running for [`LONG_RUNNING`] in all,
/// then on the long-running lane until it ends, its CPU time counted by
/// `meter` (if any) wherever it runs. Dropping the returned future stops
/// the run wherever it is.
pub(crate) async fn run_guest<F>(run: F, meter: Option<Arc<CpuMeter>>) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut run = Metered::new(Box::pin(run), meter);
    let mut running = Duration::ZERO;
    let here = std::future::poll_fn(|cx| {
        if running >= LONG_RUNNING {
            return Poll::Ready(None);
        }
        let started = Instant::now();
        let polled = Pin::new(&mut run).poll(cx).map(Some);
        running += started.elapsed();
        polled
    })
    .await;
    if let Some(output) = here {
        return output;
    }
    let Some(lane) = lane() else {
        return run.await;
    };
    let mut moved = AbortOnDrop::new(lane.spawn(run));
    match moved.output().await {
        Ok(output) => output,
        // The lane's runtime is never shut down, so its tasks end only by
        // finishing or panicking.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
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
            .on_thread_start(|| {
                lower_this_thread_priority(LANE_NICE, "a long-running guest thread")
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's name and nice value.
    fn where_am_i() -> (String, i32) {
        let name = std::thread::current().name().unwrap_or_default().to_owned();
        (name, crate::thread_priority::this_thread_nice())
    }

    #[tokio::test]
    async fn a_long_running_guest_carries_on_at_lower_priority_on_the_lane() {
        let run = async move {
            let before = where_am_i();
            // Busy past the limit, then yielding, as an interrupted guest does.
            let busy_until = Instant::now() + LONG_RUNNING;
            while Instant::now() < busy_until {
                std::hint::spin_loop();
            }
            tokio::task::yield_now().await;
            (before, where_am_i())
        };
        let (before, after) = run_guest(run, None).await;
        assert!(!before.0.starts_with("wharf-long-running"), "{before:?}");
        assert_eq!(after, ("wharf-long-running".to_owned(), LANE_NICE));
    }

    #[tokio::test]
    async fn a_guest_that_waits_stays_where_it_began() {
        let run = async move {
            // Waiting, however long, is not running.
            for _ in 0..3 {
                tokio::time::sleep(LONG_RUNNING * 2).await;
            }
            where_am_i()
        };
        let (name, _) = run_guest(run, None).await;
        assert!(!name.starts_with("wharf-long-running"), "{name}");
    }
}
