//! Accepting connections and draining them on shutdown.

use crate::Dispatch;
use crate::error_response::text_response;
use http::{StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use wharf_runtime::authority::{HostError, check_host};

/// A bound TCP socket that serves HTTP/1.1 and HTTP/2 (prior knowledge).
pub struct Listener {
    inner: TcpListener,
}

impl Listener {
    /// Binds `addr`. Port 0 picks a free port; see [`Listener::local_addr`].
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let inner = TcpListener::bind(addr).await?;
        Ok(Self { inner })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Serves requests with `dispatch` until `shutdown` resolves, each
    /// connection within `limits`, and each request's host checked
    /// ([`check_host`]). Then stops accepting, lets in-flight requests
    /// finish for up to the grace period, and returns. Returns `false` if connections were still open at the end of
    /// the grace period and were cut.
    pub async fn serve<D: Dispatch>(
        self,
        dispatch: Arc<D>,
        shutdown: impl Future<Output = ()>,
        limits: ConnectionLimits,
    ) -> bool {
        let grace = limits.grace_period;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The header timer runs whenever an HTTP/1 connection waits for a
        // request head: a slow sender and an idle keep-alive connection are
        // both closed when it runs out.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.inner.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Running out of file descriptors and the like: back
                        // off briefly rather than spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let dispatch = dispatch.clone();
            let arrived_at = stream
                .local_addr()
                .ok()
                .and_then(|addr| http::HeaderValue::from_str(&addr.to_string()).ok());
            let service = service_fn(move |request| {
                let admitted = admit(request, arrived_at.as_ref());
                let dispatch = dispatch.clone();
                async move {
                    Ok::<_, Infallible>(match admitted {
                        Ok(request) => dispatch.dispatch(request).await,
                        Err(e) => text_response(StatusCode::BAD_REQUEST, format!("{e}\n")),
                    })
                }
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let connection = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(%peer, "connection ended with an error: {e}");
                }
            });
        }
        drop(self.inner);
        tracing::info!("stopped accepting; draining in-flight requests for up to {grace:?}");
        tokio::select! {
            () = graceful.shutdown() => true,
            () = tokio::time::sleep(grace) => {
                tracing::warn!("grace period over with requests still in flight; closing them");
                false
            }
        }
    }
}

/// Checks what `request` says about its host ([`check_host`]); a request
/// whose host is ambiguous is refused before anything routes by it. A
/// request that names no host (HTTP/1.0 without `Host`) is for the address
/// it arrived at, `arrived_at`, as RFC 9112 reconstructs its target.
fn admit(
    mut request: http::Request<Incoming>,
    arrived_at: Option<&http::HeaderValue>,
) -> Result<http::Request<Incoming>, HostError> {
    check_host(request.version(), request.headers(), request.uri())?;
    if request.uri().authority().is_none()
        && !request.headers().contains_key(header::HOST)
        && let Some(arrived_at) = arrived_at
    {
        request
            .headers_mut()
            .insert(header::HOST, arrived_at.clone());
    }
    Ok(request)
}

/// The limits every connection to a listener lives by.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// How long an HTTP/1 client has to send a whole request head, counted
    /// from when the connection starts waiting for one: a slow sender
    /// (slowloris) and an idle keep-alive connection are closed past it.
    pub header_read_timeout: Duration,
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
