//! Traces: spans of target `wharf::trace` exported over OTLP/HTTP
//! (protobuf), batched, through wharf's own HTTP client on a thread of its
//! own. On only when an endpoint is given; W3C trace context (`traceparent`)
//! is read from requests and written into guests' outbound requests.

use anyhow::Context;
use bytes::Bytes;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// How long one export may take.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where traces go: `--otlp-endpoint`, else the standard OpenTelemetry
/// variables (which the exporter reads itself). `None` when neither is
/// set: traces are off.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// A base URL; spans go to `{url}/v1/traces`.
    Given(String),
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`.
    FromEnvironment,
}

impl Endpoint {
    /// The endpoint `flag` names, or the environment does.
    pub fn from(flag: Option<String>) -> Option<Self> {
        if let Some(url) = flag.filter(|url| !url.is_empty()) {
            return Some(Self::Given(url));
        }
        let set = |name| std::env::var(name).is_ok_and(|value| !value.is_empty());
        (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .then_some(Self::FromEnvironment)
    }
}

/// Sets up the exporter and the trace-context propagator, and returns the
/// provider (shut it down at exit, to send what is batched) and the tracer
/// for the `tracing` layer.
pub fn start(endpoint: &Endpoint) -> anyhow::Result<(SdkTracerProvider, SdkTracer)> {
    let client = ExportClient::new()?;
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(EXPORT_TIMEOUT);
    if let Endpoint::Given(url) = endpoint {
        exporter = exporter.with_endpoint(format!("{}/v1/traces", url.trim_end_matches('/')));
    }
    let exporter = exporter
        .build()
        .context("cannot set up the OTLP trace exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("wharf").build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("wharf");
    Ok((provider, tracer))
}

/// The exporter's HTTP client: reqwest, on a small runtime of its own, so
/// exports never wait on (or for) the server's runtime.
struct ExportClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl ExportClient {
    fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wharf-otlp")
            .enable_all()
            .build()
            .context("cannot start the trace exporter's thread")?;
        let http = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .context("cannot set up the trace exporter's HTTP client")?;
        Ok(Self { http, runtime })
    }
}

impl std::fmt::Debug for ExportClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportClient")
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let (parts, body) = request.into_parts();
        let sent = self.runtime.spawn(async move {
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut answer = Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response.bytes().await?;
            Ok::<_, HttpError>(answer.body(bytes)?)
        });
        sent.await?
    }
}
