//! The client that sends a guest's outbound HTTP requests to vetted
//! addresses only, within the connect, first-byte and between-bytes limits.

use super::policy::{Denial, Destination, OutboundPolicy, VetError};
use crate::idle_body::{IdleTimeoutBody, wasi_http_error};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The response and the future that drives its connection, as
/// `WasiHttpHooks::send_request` returns them.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Sends `request` if `policy` allows it, connecting only to vetted
/// addresses. A refusal is logged with `request_id` and reported to the
/// guest as `HTTP-request-denied` or `destination-IP-prohibited`.
///
/// Resolving, connecting and the TLS handshake share one connect deadline;
/// the response head has its own, and the body may fall silent for at most
/// the between-bytes timeout while the guest waits on it.
pub(crate) async fn send(
    policy: Arc<OutboundPolicy>,
    request_id: crate::RequestId,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, Error> {
    let options = options.unwrap_or_default();
    let shorter =
        |ours: Duration, theirs: Option<Duration>| theirs.map_or(ours, |theirs| theirs.min(ours));
    let connect_timeout = shorter(policy.connect_timeout, options.connect_timeout);
    let first_byte_timeout = shorter(policy.first_byte_timeout, options.first_byte_timeout);
    let between_bytes_timeout =
        shorter(policy.between_bytes_timeout, options.between_bytes_timeout)
            .max(Duration::from_millis(1));
    let connect_deadline = tokio::time::Instant::now() + connect_timeout;

    let uri = request.uri().clone();
    let destination = vet(&policy, &uri, connect_deadline, request_id).await?;
    let stream = open_stream(&destination, connect_deadline).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Error::from)?;
    // Fused: once it has finished it is never polled again.
    let mut connection = Some(Box::pin(connection));

    // The request line carries only the path; the host is in `Host`.
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    tracing::debug!(%request_id, %uri, address = ?destination.addresses.first(), "outbound request");

    let send = tokio::time::timeout(first_byte_timeout, sender.send_request(request));
    tokio::pin!(send);
    // Drive the connection while waiting for the response head.
    let response = loop {
        match connection.as_mut() {
            Some(running) => tokio::select! {
                result = &mut send => break result,
                result = running => {
                    connection = None;
                    result.map_err(Error::from)?;
                }
            },
            None => break send.await,
        }
    }
    .map_err(|_| Error::ConnectionReadTimeout)?
    .map_err(Error::from)?;

    // A response that falls silent past the timeout, while the guest is
    // waiting for its next frame, fails as a read timeout.
    let response = response.map(|body| {
        IdleTimeoutBody::new(body, between_bytes_timeout)
            .map_err(wasi_http_error)
            .boxed_unsync()
    });
    let io = async move {
        match connection {
            Some(running) => running.await.map_err(Error::from),
            None => Ok(()),
        }
    };
    Ok((response, Box::new(io)))
}

/// Where `uri` may be sent under `policy`, resolved by `deadline`; a
/// refusal or failure is logged with the request id.
async fn vet(
    policy: &OutboundPolicy,
    uri: &http::Uri,
    deadline: tokio::time::Instant,
    request_id: crate::RequestId,
) -> Result<Destination, Error> {
    let vetted = match tokio::time::timeout_at(deadline, policy.vet(uri)).await {
        Err(_) => Err(VetError::Failed(Error::DnsTimeout)),
        Ok(vetted) => vetted,
    };
    match vetted {
        Ok(destination) => Ok(destination),
        Err(VetError::Denied(denial)) => {
            tracing::warn!(%request_id, %uri, reason = %denial, "denied outbound request");
            Err(match denial {
                Denial::PrivateAddress(_) => Error::DestinationIpProhibited,
                _ => Error::HttpRequestDenied,
            })
        }
        Err(VetError::Failed(error)) => {
            tracing::info!(%request_id, %uri, error = ?error, "outbound request failed");
            Err(error)
        }
    }
}

/// A connection to `destination` by `deadline`: TCP, with TLS on top for
/// `https`.
async fn open_stream(
    destination: &Destination,
    deadline: tokio::time::Instant,
) -> Result<Box<dyn Stream>, Error> {
    let stream = connect(&destination.addresses, deadline).await?;
    if !destination.tls {
        return Ok(Box::new(stream));
    }
    let name = rustls::pki_types::ServerName::try_from(destination.host.clone())
        .map_err(Error::InvalidDnsNameError)?;
    let tls = tokio::time::timeout_at(deadline, TLS.connect(name, stream))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Tls)?;
    Ok(Box::new(tls))
}

/// A byte stream a request can be sent over: TCP, or TLS on top of it.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// Connects to the first of `addresses` that answers by `deadline`. Each
/// address gets an equal share of the time left, so one that never answers
/// cannot use up the time of the others.
async fn connect(
    addresses: &[SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<TcpStream, Error> {
    let mut last = Error::ConnectionTimeout;
    for (i, address) in addresses.iter().enumerate() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let share = left / u32::try_from(addresses.len() - i).unwrap_or(u32::MAX);
        match tokio::time::timeout(share, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true).map_err(Error::Connect)?;
                return Ok(stream);
            }
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Error::ConnectionRefused;
            }
            Ok(Err(error)) => last = Error::Connect(error),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    Err(last)
}

/// TLS with the Mozilla root certificates, shared by every request.
static TLS: LazyLock<tokio_rustls::TlsConnector> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the default provider supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
});
