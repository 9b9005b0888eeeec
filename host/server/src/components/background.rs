//! Low-priority threads for compiles that no request is waiting on.

use std::sync::OnceLock;
use wharf_runtime::thread_priority::lower_this_thread_priority;

/// The nice value of background compile threads: the lowest priority, so
/// the scheduler gives the CPU to request handling first and lets the
/// compile use what is left.
const BACKGROUND_NICE: i32 = 19;

/// A thread pool, started on first use, whose threads run at the lowest
/// CPU priority. wasmtime compiles functions in parallel on the rayon pool
/// of the calling thread, so a compile run here keeps every one of its
/// threads at that priority.
#[derive(Default)]
pub(super) struct BackgroundPool {
    pool: OnceLock<Option<rayon::ThreadPool>>,
}

impl BackgroundPool {
    /// Runs `work` on the pool and waits for it. Where the pool cannot be
    /// started, `work` runs on the calling thread at its own priority.
    pub(super) fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        let pool = self.pool.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .thread_name(|i| format!("wharf-bg-compile-{i}"))
                .start_handler(|_| {
                    lower_this_thread_priority(BACKGROUND_NICE, "a background compile thread")
                })
                .build()
                .inspect_err(|e| {
                    tracing::warn!("background compiles run at normal priority: cannot start their threads: {e}")
                })
                .ok()
        });
        match pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_lowest_priority_thread() {
        let pool = BackgroundPool::default();
        let (name, nice) = pool.run(|| {
            let nice = wharf_runtime::thread_priority::this_thread_nice();
            (std::thread::current().name().map(str::to_owned), nice)
        });
        assert_eq!(nice, BACKGROUND_NICE);
        assert!(
            name.is_some_and(|n| n.starts_with("wharf-bg-compile-")),
            "the work ran on the calling thread"
        );
    }
}
