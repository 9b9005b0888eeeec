//! Low-priority threads for compiles that no request is waiting on.

use std::sync::OnceLock;

/// The nice value of background compile threads: the lowest priority, so
/// the scheduler gives the CPU to request handling first and lets the
/// compile use what is left.
const BACKGROUND_NICE: libc::c_int = 19;

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
                .start_handler(|_| lower_this_thread_priority())
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

/// Lowers the calling thread's CPU priority to [`BACKGROUND_NICE`]. On Linux,
/// the only system wharf runs on, the nice value belongs to the thread.
fn lower_this_thread_priority() {
    // SAFETY: gettid and setpriority take no pointers and only change the
    // scheduling priority of the calling thread.
    #[expect(unsafe_code, reason = "libc calls to lower a thread's priority")]
    let result = unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, BACKGROUND_NICE)
    };
    if result != 0 {
        tracing::warn!(
            "a background compile thread keeps normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_lowest_priority_thread() {
        let pool = BackgroundPool::default();
        let (name, nice) = pool.run(|| {
            // SAFETY: reads the calling thread's nice value; errno is
            // cleared first because -1 is also a valid answer.
            #[expect(unsafe_code, reason = "libc call to read a thread's priority")]
            let nice = unsafe {
                *libc::__errno_location() = 0;
                libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
            };
            (std::thread::current().name().map(str::to_owned), nice)
        });
        assert_eq!(nice, BACKGROUND_NICE);
        assert!(
            name.is_some_and(|n| n.starts_with("wharf-bg-compile-")),
            "the work ran on the calling thread"
        );
    }
}
