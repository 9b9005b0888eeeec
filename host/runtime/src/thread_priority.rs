//! Lowering a thread's CPU priority, for work that should run on what
//! request handling leaves: the long-running lane here and the server's
//! background compiles. On Linux, the only system wharf runs on, the nice
//! value belongs to the thread.

/// Sets the calling thread's nice value to `nice` (above 0 is lower
/// priority), warning that `thread` keeps normal priority if it cannot.
pub fn lower_this_thread_priority(nice: i32, thread: &str) {
    // SAFETY: gettid and setpriority take no pointers and only change the
    // scheduling priority of the calling thread.
    #[expect(unsafe_code, reason = "libc calls to lower a thread's priority")]
    let result = unsafe {
        let id = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, id as libc::id_t, nice)
    };
    if result != 0 {
        tracing::warn!(
            "{thread} keeps normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The calling thread's nice value.
pub fn this_thread_nice() -> i32 {
    // SAFETY: reads the calling thread's nice value; errno is cleared first
    // because -1 is also a valid answer.
    #[expect(unsafe_code, reason = "libc call to read a thread's priority")]
    unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t)
    }
}
