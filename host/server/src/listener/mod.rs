//! Accepting connections within their limits, and draining them on
//! shutdown:
//!
//! - `limits.rs`: [`ConnectionLimits`], and raising the open-file limit;
//! - `clients.rs`: connections and requests in flight per client address;
//! - `client_address.rs`: whose request it is, through trusted proxies;
//! - `response_body.rs`: a response body that holds its request's place
//!   and its access record until it ends;
//! - `tls.rs`: certificates by SNI, ALPN, and reloading them.

mod client_address;
mod clients;
mod limits;
mod response_body;
mod tls;

pub use client_address::{ForwardedHeader, TrustedProxies};
use hyper_util::server::graceful::GracefulConnection;
pub use limits::{ConnectionLimits, raise_open_file_limit};
pub use tls::{CertificateFiles, Certificates, TlsError};
use tokio_rustls::TlsAcceptor;

use crate::Dispatch;
use crate::error_response::text_response;
use crate::observe::AccessLog;
use crate::observe::metrics::Refusal;
use clients::{Clients, Connection};
use http::{StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use response_body::ServedBody;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use wharf_runtime::IdleTimeoutBody;
use wharf_runtime::authority::{HostError, check_host};

/// The body of a request as a [`Dispatch`] gets it: the client's bytes,
/// which must keep arriving ([`ConnectionLimits::body_idle_timeout`]).
pub type RequestBody = IdleTimeoutBody<Incoming>;

/// A bound TCP socket that serves HTTP/1.1 and HTTP/2: in plain text
/// (HTTP/2 by prior knowledge), or over TLS ([`Listener::with_tls`]).
pub struct Listener {
    inner: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Listener {
    /// Binds `addr`. Port 0 picks a free port; see [`Listener::local_addr`].
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let inner = TcpListener::bind(addr).await?;
        Ok(Self { inner, tls: None })
    }

    /// Serves over TLS with `certificates`.
    pub fn with_tls(mut self, certificates: &Arc<Certificates>) -> Self {
        self.tls = Some(certificates.acceptor());
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Serves requests with `dispatch` until `shutdown` resolves, each
    /// connection within `limits`, each request's host checked
    /// ([`check_host`]), its client found through `proxies`, and each one
    /// recorded as `access` says. Then stops
    /// accepting, lets in-flight requests
    /// finish for up to the grace period, and returns. Returns `false` if
    /// connections were still open at the end of the grace period and were
    /// cut.
    pub async fn serve<D: Dispatch>(
        self,
        dispatch: Arc<D>,
        shutdown: impl Future<Output = ()>,
        limits: ConnectionLimits,
        access: AccessLog,
        proxies: Arc<TrustedProxies>,
    ) -> bool {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The header timer runs whenever an HTTP/1 connection waits for a
        // request head: a slow sender is closed when it runs out, and so is
        // a keep-alive connection idle for that long.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let builder = Arc::new(builder);
        let clients = Clients::new(
            limits.max_connections_per_client,
            limits.max_requests_per_client,
        );
        let connection_slots = Arc::new(Semaphore::new(limits.max_connections));
        let (stopping_tx, stopping) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            // At the cap, wait for a connection to close before accepting.
            let slot = tokio::select! {
                slot = connection_slots.clone().acquire_owned() => {
                    slot.expect("the connection semaphore is never closed")
                }
                () = &mut shutdown => break,
            };
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
            let Some(account) = clients.connect(peer.ip()) else {
                tracing::debug!(%peer, "closing a connection past the client's connection cap");
                continue;
            };
            let connection = ServedConnection {
                stream,
                tls: self.tls.clone(),
                peer: peer.ip(),
                account: Arc::new(account),
                limits,
                access,
                proxies: proxies.clone(),
                stopping: stopping.clone(),
            };
            let (builder, dispatch) = (builder.clone(), dispatch.clone());
            tokio::spawn(async move {
                let _slot = slot;
                if let Err(e) = connection.serve(&builder, dispatch).await {
                    tracing::debug!(%peer, "connection ended with an error: {e}");
                }
            });
        }
        drop(self.inner);
        let grace = limits.grace_period;
        tracing::info!("stopped accepting; draining in-flight requests for up to {grace:?}");
        let _ = stopping_tx.send(true);
        let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        tokio::select! {
            _ = connection_slots.acquire_many(all) => true,
            () = tokio::time::sleep(grace) => {
                tracing::warn!("grace period over with requests still in flight; closing them");
                false
            }
        }
    }
}

/// One accepted connection and what it is held to.
struct ServedConnection {
    stream: TcpStream,
    /// Set on a TLS listener.
    tls: Option<TlsAcceptor>,
    peer: IpAddr,
    account: Arc<Connection>,
    limits: ConnectionLimits,
    access: AccessLog,
    proxies: Arc<TrustedProxies>,
    /// Turns true when the listener shuts down.
    stopping: watch::Receiver<bool>,
}

impl ServedConnection {
    /// Serves the connection's requests until the client closes it, it is
    /// idle past the idle timeout, or the listener shuts down (then it
    /// finishes the requests in flight and closes).
    async fn serve<D: Dispatch>(
        self,
        builder: &auto::Builder<TokioExecutor>,
        dispatch: Arc<D>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let _ = self.stream.set_nodelay(true);
        let arrived_at = self
            .stream
            .local_addr()
            .ok()
            .and_then(|addr| http::HeaderValue::from_str(&addr.to_string()).ok());
        let account = self.account.clone();
        let body_idle_timeout = self.limits.body_idle_timeout;
        let max_requests = self.limits.max_requests_per_client;
        let access = self.access;
        let clients = self.proxies.for_peer(self.peer);
        let service = service_fn(move |mut request: http::Request<Incoming>| {
            let client = clients.resolve(request.headers_mut());
            let record = access.begin(&request, client);
            let head = request.method() == http::Method::HEAD;
            let admitted = admit(request, arrived_at.as_ref(), body_idle_timeout);
            let in_flight = account.start_request();
            let dispatch = dispatch.clone();
            async move {
                let mut response = match (admitted, &in_flight) {
                    (Err(e), _) => {
                        Refusal::BadRequest.count();
                        text_response(StatusCode::BAD_REQUEST, format!("{e}\n"))
                    }
                    (Ok(_), None) => {
                        Refusal::ClientOverloaded.count();
                        text_response(
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!(
                                "this client already has {max_requests} requests in flight \
                                 (`--max-requests-per-client`)\n"
                            ),
                        )
                    }
                    (Ok(request), Some(_)) => dispatch.dispatch(request).await,
                };
                let record = record.responded(&mut response);
                // The request counts until its body is sent, or the client
                // leaves; then it is logged.
                Ok::<_, Infallible>(ServedBody::wrap(response, head, in_flight, record))
            }
        });
        let (account, limits, mut stopping) = (self.account, self.limits, self.stopping);
        match self.tls {
            None => {
                let io = TokioIo::new(self.stream);
                let connection = builder.serve_connection_with_upgrades(io, service);
                watch(connection, &account, limits, &mut stopping).await
            }
            Some(acceptor) => {
                // The handshake is held to the header timeout, as a slow
                // request head is.
                let handshake = acceptor.accept(self.stream);
                let stream = tokio::time::timeout(limits.header_read_timeout, handshake)
                    .await
                    .map_err(|_| "the TLS handshake took longer than the header timeout")??;
                let io = TokioIo::new(stream);
                let connection = builder.serve_connection_with_upgrades(io, service);
                watch(connection, &account, limits, &mut stopping).await
            }
        }
    }
}

/// Drives `connection` until the client closes it, it is idle past the
/// idle timeout, or the listener shuts down (then it finishes the requests
/// in flight and closes). Looks twice per idle timeout, and closes a
/// connection that had nothing in flight and started nothing across three
/// looks in a row: it closes between one and one and a half timeouts after
/// its last request ended.
async fn watch<C>(
    connection: C,
    account: &Connection,
    limits: ConnectionLimits,
    stopping: &mut watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    C: GracefulConnection,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    let mut look = tokio::time::interval(limits.idle_timeout / 2);
    look.tick().await;
    let mut seen = account.activity();
    let mut quiet_looks = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            ended = connection.as_mut() => return ended.map_err(Into::into),
            _ = stopping.wait_for(|stopping| *stopping), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = look.tick(), if !closing => {
                let now = account.activity();
                quiet_looks = if now == seen && !now.1 { quiet_looks + 1 } else { 0 };
                seen = now;
                if quiet_looks >= 2 {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// Checks what `request` says about its host ([`check_host`]); a request
/// whose host is ambiguous is refused before anything routes by it. A
/// request that names no host (HTTP/1.0 without `Host`) is for the address
/// it arrived at, `arrived_at`, as RFC 9112 reconstructs its target. The
/// body is held to `body_idle_timeout`.
fn admit(
    request: http::Request<Incoming>,
    arrived_at: Option<&http::HeaderValue>,
    body_idle_timeout: Duration,
) -> Result<http::Request<RequestBody>, HostError> {
    check_host(request.version(), request.headers(), request.uri())?;
    let mut request = request.map(|body| IdleTimeoutBody::new(body, body_idle_timeout));
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
