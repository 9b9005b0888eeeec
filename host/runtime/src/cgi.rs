//! Serving a command component (one that exports `wasi:cli/run`) CGI-style:
//! the request body streams to stdin, the CGI variables of RFC 3875 are in
//! the environment, and stdout streams back as the response.

use crate::AppContext;
use crate::host::HostState;
use crate::http::{GuestBody, classify};
use crate::{CompiledComponent, InvokeError, RequestId, Runtime};
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::cli::{AsyncStdinStream, AsyncStdoutStream};
use wasmtime_wasi::p2::bindings::CommandPre;

/// How much stdin and stdout are buffered between the guest and the network.
const PIPE_BYTES: usize = 64 * 1024;
/// Response headers a command may not set: they describe the connection.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];
/// The longest CGI header block read before the output is taken as a plain body.
pub const MAX_CGI_HEAD_BYTES: usize = 64 * 1024;

impl Runtime {
    /// Runs `pre` once for `request`, CGI-style, within the request deadline.
    /// Returns as soon as the command's header block is complete; the body
    /// streams on while it writes.
    pub(crate) async fn run_command<B>(
        &self,
        component: &CompiledComponent,
        pre: CommandPre<HostState>,
        request: http::Request<B>,
        request_id: RequestId,
        app: &Arc<AppContext>,
        slot: OwnedSemaphorePermit,
    ) -> Result<Response<GuestBody>, InvokeError>
    where
        B: Body<Data = Bytes, Error = hyper::Error> + Send + 'static,
    {
        let config = self.config.clone();
        let (parts, body) = request.into_parts();
        let env = environment(&parts, request_id);

        // stdin: the request body, pumped through a bounded pipe.
        let (stdin_writer, stdin_reader) = tokio::io::duplex(PIPE_BYTES);
        let stdin_state = Arc::new(StdinState::default());
        let pump = tokio::spawn(pump_body(
            body,
            stdin_writer,
            config.max_request_body_bytes,
            stdin_state.clone(),
        ));
        let stdin_reader = StdinReader {
            pipe: stdin_reader,
            state: stdin_state.clone(),
        };
        // stdout: read by the parser below as the command writes it.
        let (stdout_writer, stdout_reader) = tokio::io::duplex(PIPE_BYTES);
        let state = HostState::new_command(
            &config,
            request_id,
            app.clone(),
            component.uses_sockets(),
            &env,
            AsyncStdinStream::new(stdin_reader),
            AsyncStdoutStream::new(PIPE_BYTES, stdout_writer),
        );
        let (mut store, memory_hit) = self.new_store(component, state);
        let digest = component.digest();
        let (outcome_tx, outcome_rx) = oneshot::channel();
        tokio::spawn(async move {
            let _slot = slot;
            let deadline = config.request_deadline;
            let call = async {
                let command = pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            };
            let outcome = match tokio::time::timeout(deadline, call).await {
                Err(_elapsed) => Err(InvokeError::DeadlineExceeded { deadline }),
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(()))) => Err(InvokeError::Exited(1)),
                Ok(Err(e)) => match e.downcast_ref::<I32Exit>() {
                    Some(I32Exit(0)) => Ok(()),
                    Some(I32Exit(status)) => Err(InvokeError::Exited(*status)),
                    None => Err(classify(&e, &memory_hit, &config, request_id, digest)),
                },
            };
            if let Err(e) = &outcome {
                tracing::warn!(%request_id, %digest, "command failed: {e}");
            }
            // Nobody reads the rest of the body now.
            pump.abort();
            // Closing the store closes stdout, which ends the response body.
            drop(store);
            let _ = outcome_tx.send(outcome);
        });

        let (head_tx, head_rx) = oneshot::channel();
        tokio::spawn(relay_output(
            stdout_reader,
            outcome_rx,
            head_tx,
            stdin_state.clone(),
        ));
        let too_large = || stdin_state.too_large.load(Ordering::SeqCst);
        match head_rx.await {
            _ if too_large() => Err(InvokeError::BodyTooLarge {
                limit: self.config.max_request_body_bytes,
            }),
            Ok(result) => result,
            Err(_) => Err(InvokeError::Internal("the CGI relay stopped".into())),
        }
    }
}

/// How the request body's trip into stdin ended, when it did not end well.
#[derive(Default)]
struct StdinState {
    /// The body passed the limit.
    too_large: AtomicBool,
    /// The client's upload broke off.
    broken: AtomicBool,
}

/// Copies the request body into the command's stdin, stopping at `limit`
/// bytes, at a broken upload (flagging either), or when the command stops
/// reading.
async fn pump_body<B>(body: B, mut stdin: DuplexStream, limit: u64, state: Arc<StdinState>)
where
    B: Body<Data = Bytes, Error = hyper::Error>,
{
    let mut body = std::pin::pin!(body);
    let mut sent = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            state.broken.store(true, Ordering::SeqCst);
            return;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        sent += data.len() as u64;
        if sent > limit {
            state.too_large.store(true, Ordering::SeqCst);
            return;
        }
        if stdin.write_all(&data).await.is_err() {
            return;
        }
    }
    let _ = stdin.shutdown().await;
}

/// The command's stdin. A body cut short (over the limit, or broken off)
/// ends in a read error rather than a clean end of file, so the command
/// cannot mistake part of a body for all of it.
struct StdinReader {
    pipe: DuplexStream,
    state: Arc<StdinState>,
}

impl tokio::io::AsyncRead for StdinReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        let polled = Pin::new(&mut self.pipe).poll_read(cx, buf);
        let at_end = matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() == before;
        let state = &self.state;
        if wanted
            && at_end
            && (state.too_large.load(Ordering::SeqCst) || state.broken.load(Ordering::SeqCst))
        {
            return Poll::Ready(Err(std::io::Error::other("the request body was cut short")));
        }
        polled
    }
}

/// Reads the command's stdout: waits for its CGI header block (or for proof
/// there is none), sends the response head, then streams the rest as the
/// body. A command that fails before the head is sent answers with its
/// error; one that fails later has its body cut off.
async fn relay_output(
    mut stdout: DuplexStream,
    outcome: oneshot::Receiver<Result<(), InvokeError>>,
    head_tx: oneshot::Sender<Result<Response<GuestBody>, InvokeError>>,
    stdin: Arc<StdinState>,
) {
    let stopped = || InvokeError::Internal("the command's task stopped".into());
    let mut buffer = BytesMut::new();
    let mut parser = HeadParser::default();
    let mut eof = false;
    let head = loop {
        match parser.advance(&buffer) {
            Head::Complete(headers, body_start) => break Some((headers, body_start)),
            Head::None => break None,
            Head::Partial if eof || buffer.len() > MAX_CGI_HEAD_BYTES => break None,
            Head::Partial => {}
        }
        match stdout.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => eof = true,
            Ok(_) => {}
        }
    };
    let mut outcome = Some(outcome);
    if eof {
        // Finished before anything was sent: its output counts only if it
        // succeeded.
        let result = match outcome.take() {
            Some(outcome) => outcome.await.unwrap_or_else(|_| Err(stopped())),
            None => Err(stopped()),
        };
        if let Err(e) = result {
            let _ = head_tx.send(Err(e));
            return;
        }
    }
    let (headers, body_start) = head.unwrap_or_default();
    let rest = buffer.split_off(body_start).freeze();
    let (frames, frames_rx) = mpsc::channel(8);
    let response = match build_head(&headers, ChannelBody(frames_rx).boxed_unsync()) {
        Ok(response) => response,
        Err(e) => {
            let _ = head_tx.send(Err(e));
            return;
        }
    };
    if head_tx.send(Ok(response)).is_err() {
        return;
    }
    if !rest.is_empty() && frames.send(Ok(rest)).await.is_err() {
        return;
    }
    if eof {
        return;
    }
    // Exact-size chunks, so a slow client holds only what was written.
    let mut scratch = vec![0u8; PIPE_BYTES];
    loop {
        match stdout.read(&mut scratch).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // The client went away: stop reading, which stops the command.
                if frames
                    .send(Ok(Bytes::copy_from_slice(&scratch[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let mut result = match outcome {
        Some(outcome) => outcome.await.unwrap_or_else(|_| Err(stopped())),
        None => Ok(()),
    };
    if stdin.too_large.load(Ordering::SeqCst) {
        result = Err(InvokeError::Internal(
            "the request body passed the limit after the response began".into(),
        ));
    }
    if let Err(e) = result {
        // Cut the body off so the client sees it is incomplete.
        let _ = frames
            .send(Err(wasmtime_wasi_http::Error::InternalError(Some(
                e.to_string(),
            ))))
            .await;
    }
}

/// A response body fed by the relay.
struct ChannelBody(mpsc::Receiver<Result<Bytes, wasmtime_wasi_http::Error>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(Frame::data)))
    }
}

/// The response head a CGI header block asks for, around `body`:
/// `Status: 404 Not Found` sets the status, `Location` alone means 302,
/// other lines become headers, and the content type defaults to
/// `text/plain; charset=utf-8`.
fn build_head(
    headers: &[(String, String)],
    body: GuestBody,
) -> Result<Response<GuestBody>, InvokeError> {
    let bad =
        |what: String| InvokeError::BadCgiResponse(format!("bad header `{}`", what.escape_debug()));
    let mut response = Response::new(body);
    let mut status = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            let code = code
                .parse::<u16>()
                .ok()
                .filter(|c| (200..=599).contains(c))
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| bad(format!("Status: {value}")))?;
            status = Some(code);
            continue;
        }
        // Hop-by-hop headers belong to the connection, which is wharf's.
        if HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            tracing::debug!("dropping hop-by-hop CGI header {name}");
            continue;
        }
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(name.clone()))?;
        let header_value =
            HeaderValue::from_str(value).map_err(|_| bad(format!("{name}: {value}")))?;
        response.headers_mut().append(header_name, header_value);
    }
    let redirect = response.headers().contains_key(header::LOCATION);
    *response.status_mut() = status.unwrap_or(if redirect {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    });
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    Ok(response)
}

/// The CGI variables for one request.
fn environment(parts: &http::request::Parts, request_id: RequestId) -> Vec<(String, String)> {
    let uri = &parts.uri;
    let mut env: Vec<(String, String)> = vec![
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("SERVER_SOFTWARE".into(), "wharf".into()),
        ("SERVER_PROTOCOL".into(), format!("{:?}", parts.version)),
        ("REQUEST_METHOD".into(), parts.method.to_string()),
        ("SCRIPT_NAME".into(), String::new()),
        ("PATH_INFO".into(), uri.path().to_owned()),
        (
            "QUERY_STRING".into(),
            uri.query().unwrap_or_default().to_owned(),
        ),
        (
            "REQUEST_URI".into(),
            uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        ),
        ("WHARF_REQUEST_ID".into(), request_id.to_string()),
    ];
    // The body streams, so its length is known only when the client said.
    if let Some(length) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        env.push(("CONTENT_LENGTH".into(), length.to_owned()));
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    if let Some(host) = host {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (name, port),
            _ => (host, "80"),
        };
        env.push(("SERVER_NAME".into(), name.to_owned()));
        env.push(("SERVER_PORT".into(), port.to_owned()));
    }
    for name in parts.headers.keys() {
        // `X_Forwarded_For` would pose as `X-Forwarded-For`, and `Proxy` as
        // the HTTP_PROXY setting of the command's HTTP client ("httpoxy").
        if name.as_str().contains('_') || name.as_str() == "proxy" {
            continue;
        }
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            continue;
        }
        let key = name.as_str().to_ascii_uppercase().replace('-', "_");
        let key = match *name {
            header::CONTENT_TYPE => key,
            header::CONTENT_LENGTH => continue,
            _ => format!("HTTP_{key}"),
        };
        env.push((key, values.join(", ")));
    }
    env
}

/// What the start of a command's output says about a CGI header block.
#[derive(Debug, PartialEq)]
enum Head {
    /// Header lines, then a blank line; the body starts at the index.
    Complete(Vec<(String, String)>, usize),
    /// Only header-like lines so far.
    Partial,
    /// Not a header block: the output is all body.
    None,
}

/// Finds a CGI header block at the start of the output as it arrives,
/// scanning each byte once.
#[derive(Default)]
struct HeadParser {
    /// Where the next unparsed line starts.
    pos: usize,
    headers: Vec<(String, String)>,
}

impl HeadParser {
    /// Parses the complete lines of `output` not parsed yet.
    fn advance(&mut self, output: &[u8]) -> Head {
        loop {
            let Some(end) = output[self.pos..].iter().position(|&b| b == b'\n') else {
                return Head::Partial;
            };
            let end = end + self.pos;
            let line = &output[self.pos..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.pos = end + 1;
            if line.is_empty() {
                return if self.headers.is_empty() {
                    Head::None
                } else {
                    Head::Complete(std::mem::take(&mut self.headers), self.pos)
                };
            }
            let Some((name, value)) = std::str::from_utf8(line)
                .ok()
                .and_then(|l| l.split_once(':'))
            else {
                return Head::None;
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Head::None;
            }
            self.headers
                .push((name.to_owned(), value.trim().to_owned()));
        }
    }
}

/// Looks for a CGI header block at the start of a whole `output`.
#[cfg(test)]
fn split_head(output: &[u8]) -> Head {
    HeadParser::default().advance(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> GuestBody {
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    #[test]
    fn header_blocks_are_found() {
        let out = b"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>gone</p>";
        match split_head(out) {
            Head::Complete(headers, start) => {
                assert_eq!(headers[0], ("Status".into(), "404 Not Found".into()));
                assert_eq!(&out[start..], b"<p>gone</p>");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(split_head(b"Content-Type: text/html\r\nX-A"), Head::Partial);
        // Fed piece by piece, the parser reaches the same answer.
        let mut parser = HeadParser::default();
        let whole = b"A: 1\nB: 2\n\nbody";
        let complete = (1..whole.len()).find_map(|end| match parser.advance(&whole[..end]) {
            Head::Complete(headers, start) => Some((headers.len(), start)),
            _ => None,
        });
        assert_eq!(complete, Some((2, 11)));
        assert_eq!(split_head(b""), Head::Partial);
        for plain in [&b"hello\n"[..], b"a b: c\n\nbody", b"\nbody"] {
            assert_eq!(split_head(plain), Head::None, "{plain:?}");
        }
    }

    #[test]
    fn heads_are_built() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect()
        };
        let response =
            build_head(&h(&[("Status", "404 Not Found"), ("X-A", "1")]), empty()).expect("valid");
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["x-a"], "1");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let response = build_head(&h(&[("Location", "/elsewhere")]), empty()).expect("valid");
        assert_eq!(response.status(), 302);
        let response =
            build_head(&h(&[("Connection", "close"), ("Upgrade", "x")]), empty()).expect("valid");
        assert!(response.headers().get("connection").is_none());
        assert!(response.headers().get("upgrade").is_none());
        let response = build_head(&[], empty()).expect("valid");
        assert_eq!(response.status(), 200);
    }

    #[test]
    fn malformed_headers_are_refused() {
        let bad: &[&[(&str, &str)]] = &[
            &[("Status", "teapot")],
            &[("Status", "99")],
            &[("Status", "101 Switching Protocols")],
            &[("X-Injected", "a\rSet-Cookie: evil=1")],
            &[("X-Bad", "\x01")],
        ];
        for pairs in bad {
            let headers: Vec<(String, String)> = pairs
                .iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect();
            match build_head(&headers, empty()) {
                Err(InvokeError::BadCgiResponse(_)) => {}
                Err(e) => panic!("{pairs:?} gave {e}"),
                Ok(_) => panic!("{pairs:?} was accepted"),
            }
        }
    }

    #[test]
    fn the_environment_follows_rfc_3875() {
        let request = http::Request::post("/path/x?a=1&b=2")
            .header("host", "app.localhost:8080")
            .header("content-type", "text/plain")
            .header("content-length", "5")
            .header("x-custom-thing", "v")
            .header("x_custom_thing", "spoofed")
            .header("proxy", "http://evil")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let env = environment(&parts, RequestId::new());
        let get = |k: &str| {
            env.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("REQUEST_METHOD"), Some("POST"));
        assert_eq!(get("PATH_INFO"), Some("/path/x"));
        assert_eq!(get("QUERY_STRING"), Some("a=1&b=2"));
        assert_eq!(get("CONTENT_LENGTH"), Some("5"));
        assert_eq!(get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get("SERVER_NAME"), Some("app.localhost"));
        assert_eq!(get("SERVER_PORT"), Some("8080"));
        assert_eq!(get("HTTP_X_CUSTOM_THING"), Some("v"));
        assert_eq!(get("HTTP_PROXY"), None);
        assert_eq!(get("HTTP_HOST"), Some("app.localhost:8080"));
        assert_eq!(get("SERVER_PROTOCOL"), Some("HTTP/1.1"));
    }
}
