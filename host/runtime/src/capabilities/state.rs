//! The per-request host state: one [`HostState`] lives in each `Store`.

use super::guest_log::GuestLog;
use super::outbound::SocketAccess;
use super::{AppContext, OutboundPolicy};
use crate::metrics::OutboundResult;
use crate::trace_context::{TRACE_TARGET, inject_trace};
use crate::{RequestId, RuntimeConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{AsyncStdinStream, AsyncStdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Everything a guest instance can reach, for the length of one request.
pub(crate) struct HostState {
    pub(crate) table: ResourceTable,
    /// The app the request is for.
    pub(crate) app: Arc<AppContext>,
    /// What its sockets may reach; `None` when the component imports no
    /// part of `wasi:sockets`.
    pub(crate) socket_access: Option<Arc<SocketAccess>>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundHttp,
    pub(crate) limiter: MemoryLimiter,
}

impl HostState {
    /// State for one request: empty environment, no arguments, no preopened
    /// directories, sockets only as the app's outbound rules allow; stdout
    /// and stderr go to the log.
    pub(crate) fn new(
        config: &RuntimeConfig,
        request_id: RequestId,
        app: Arc<AppContext>,
        uses_sockets: bool,
    ) -> Self {
        let log = GuestLog::new(request_id, app.clone(), config.max_guest_log_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(log.stdout()).stderr(log.stderr());
        Self::with_wasi(request_id, app, uses_sockets, wasi)
    }

    /// State for one CGI-style run of a command: `env` as its environment,
    /// `stdin` and `stdout` streamed, standard error to the log.
    pub(crate) fn new_command(
        config: &RuntimeConfig,
        request_id: RequestId,
        app: Arc<AppContext>,
        uses_sockets: bool,
        env: &[(String, String)],
        stdin: AsyncStdinStream,
        stdout: AsyncStdoutStream,
    ) -> Self {
        let log = GuestLog::new(request_id, app.clone(), config.max_guest_log_bytes);
        let mut wasi = WasiCtx::builder();
        wasi.envs(env)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(log.stderr());
        Self::with_wasi(request_id, app, uses_sockets, wasi)
    }

    /// Builds the WASI context. wasmtime-wasi refuses every socket by
    /// default; a component that imports sockets gets the checks of
    /// `sockets.rs`, and TCP if its app has outbound rules at all.
    fn with_wasi(
        request_id: RequestId,
        app: Arc<AppContext>,
        uses_sockets: bool,
        mut wasi: WasiCtxBuilder,
    ) -> Self {
        let socket_access = uses_sockets.then(|| {
            let access = SocketAccess::new(app.outbound.clone(), request_id);
            wasi.allow_tcp(!app.outbound.rules.is_empty())
                .socket_addr_check(access.address_check());
            access
        });
        Self {
            table: ResourceTable::new(),
            socket_access,
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: OutboundHttp {
                request_id,
                app: app.clone(),
                policy: app.outbound.clone(),
                sent: 0,
            },
            limiter: MemoryLimiter::new(app.limits.max_memory_bytes),
            app,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Outbound HTTP for one request: what the policy allows, within its cap
/// on requests.
struct OutboundHttp {
    request_id: RequestId,
    /// The app sending, for the outbound-request counts.
    app: Arc<AppContext>,
    policy: Arc<OutboundPolicy>,
    /// Outbound requests made so far by this incoming request.
    sent: u32,
}

type SendRequestFuture = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<crate::capabilities::outbound::Sent>> + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendRequestFuture {
        self.sent = self.sent.saturating_add(1);
        if self.sent > self.policy.max_requests {
            tracing::warn!(
                request_id = %self.request_id,
                uri = %request.uri(),
                max = self.policy.max_requests,
                "denied outbound request: the request made too many"
            );
            crate::metrics::outbound_request(&self.app.facts.app, OutboundResult::Denied);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let span = tracing::info_span!(
            target: TRACE_TARGET,
            "outbound",
            otel.kind = "client",
            http.request.method = %request.method(),
            // Without the query, which may carry secrets.
            url.full = %without_query(request.uri()),
            http.response.status_code = tracing::field::Empty,
        );
        inject_trace(&span, request.headers_mut());
        let sending = crate::capabilities::outbound::send(
            self.policy.clone(),
            self.request_id,
            request,
            options,
        )
        .instrument(span.clone());
        let app = self.app.clone();
        Box::new(async move {
            let sent = sending.await;
            let result = match &sent {
                Ok(_) => OutboundResult::Sent,
                Err(
                    wasmtime_wasi_http::Error::HttpRequestDenied
                    | wasmtime_wasi_http::Error::DestinationIpProhibited,
                ) => OutboundResult::Denied,
                Err(_) => OutboundResult::Failed,
            };
            crate::metrics::outbound_request(&app.facts.app, result);
            if let Ok((response, _)) = &sent {
                span.record("http.response.status_code", response.status().as_u16());
            }
            sent
        })
    }
}

/// Caps linear memory growth and remembers whether the cap was hit, so a
/// trap that follows can be reported as what it is.
pub(crate) struct MemoryLimiter {
    max_bytes: u64,
    hit: Arc<AtomicBool>,
}

impl MemoryLimiter {
    fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            hit: Arc::default(),
        }
    }

    /// A handle that reads whether the cap was hit, usable after the store is gone.
    pub(crate) fn hit_flag(&self) -> Arc<AtomicBool> {
        self.hit.clone()
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired as u64 <= self.max_bytes;
        if !allowed {
            self.hit.store(true, Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// `uri` without its query string.
fn without_query(uri: &http::Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{}", uri.path()),
        _ => uri.path().to_owned(),
    }
}
