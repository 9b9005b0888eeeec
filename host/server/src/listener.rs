//! Accepting connections and draining them on shutdown.

use crate::Dispatch;
use crate::error_response::text_response;
use http::{StatusCode, header};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use wharf_runtime::authority::check_host;

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

    /// Serves requests with `dispatch` until `shutdown` resolves. Then stops
    /// accepting, lets in-flight requests finish for up to `grace`, and
    /// returns. Returns `false` if connections were still open at the end of
    /// the grace period and were cut.
    pub async fn serve<D: Dispatch>(
        self,
        dispatch: Arc<D>,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> bool {
        let builder = auto::Builder::new(TokioExecutor::new());
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
            // A request that names no host (HTTP/1.0 without Host) is for
            // the address it arrived at, as RFC 9112 reconstructs its target.
            let arrived_at = stream
                .local_addr()
                .ok()
                .and_then(|addr| http::HeaderValue::from_str(&addr.to_string()).ok());
            let service = service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
                let dispatch = dispatch.clone();
                let arrived_at = arrived_at.clone();
                async move {
                    // A request whose host is ambiguous is refused before
                    // anything routes by it.
                    if let Err(e) = check_host(request.version(), request.headers(), request.uri())
                    {
                        return Ok(text_response(StatusCode::BAD_REQUEST, format!("{e}\n")));
                    }
                    if request.uri().authority().is_none()
                        && !request.headers().contains_key(header::HOST)
                        && let Some(arrived_at) = arrived_at
                    {
                        request.headers_mut().insert(header::HOST, arrived_at);
                    }
                    Ok::<_, Infallible>(dispatch.dispatch(request).await)
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
