//! [`ConnectionLimits`]: what every connection to a listener lives by, and
//! the process's open-file limit they need.

use std::time::Duration;

/// The limits every connection to a listener lives by.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// How long an HTTP/1 client has to send a whole request head, counted
    /// from when the connection starts waiting for one: a slow sender
    /// (slowloris) is closed past it.
    pub header_read_timeout: Duration,
    /// How long a connection (HTTP/1 keep-alive or HTTP/2) may stay open
    /// with no request in flight before it is closed.
    pub idle_timeout: Duration,
    /// How long a reader of a request body (a guest, a deploy) may wait for
    /// the client's next bytes before the request is given up.
    pub body_idle_timeout: Duration,
    /// Most connections open at once on the listener. Past it the listener
    /// stops accepting until one closes.
    pub max_connections: usize,
    /// Most connections open at once from one client address. Past it a new
    /// connection from that address is closed at once.
    pub max_connections_per_client: usize,
    /// Most requests in flight at once from one client address, over all
    /// its connections. Past it a request gets 503 with `Retry-After`.
    pub max_requests_per_client: usize,
    /// On shutdown, how long in-flight requests may take to finish.
    pub grace_period: Duration,
}

/// Raises this process's soft limit on open files to its hard limit, so
/// that many connections do not run it out, and returns the limit now in
/// force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the one struct passed.
    #[expect(unsafe_code, reason = "libc calls to read and raise a resource limit")]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}
