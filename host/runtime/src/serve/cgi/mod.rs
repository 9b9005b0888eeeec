//! Serving a command component (one that exports `wasi:cli/run`) CGI-style:
//! the request body streams to stdin, the CGI variables of RFC 3875 are in
//! the environment, and stdout streams back as the response.

mod head;

use super::long_running::run_guest;
use super::outcome::{EndsWithRun, outcome_channel};
use super::request_body::BodyFaults;
use super::{AbortOnDrop, GuestBody, InstanceSlot, classify};
use crate::capabilities::{AppContext, HostState};
use crate::idle_body::BodyError;
use crate::trace_context::{guest_span, in_span, instantiate_span};
use crate::{CompiledComponent, InvokeError, RequestId, Runtime};
use bytes::{Bytes, BytesMut};
use head::{Head, HeadParser, build_head, environment};
use http::Response;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::cli::{AsyncStdinStream, AsyncStdoutStream};
use wasmtime_wasi::p2::bindings::CommandPre;

/// How much stdin and stdout are buffered between the guest and the network.
const PIPE_BYTES: usize = 64 * 1024;

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
        slot: InstanceSlot,
    ) -> Result<Response<GuestBody>, InvokeError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BodyError> + Send,
    {
        let config = self.config.clone();
        let (parts, body) = request.into_parts();
        let env = environment(&parts, request_id);

        // stdin: the request body, pumped through a bounded pipe.
        let (stdin_writer, stdin_reader) = tokio::io::duplex(PIPE_BYTES);
        let stdin_faults = Arc::new(BodyFaults::default());
        let pump = tokio::spawn(pump_body(
            body,
            stdin_writer,
            app.limits.max_request_body_bytes,
            stdin_faults.clone(),
        ));
        let stdin_reader = StdinReader {
            pipe: stdin_reader,
            faults: stdin_faults.clone(),
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
        let (mut store, hit) = self.new_store(component, state);
        let deadline = app.limits.deadline;
        let digest = component.digest();
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let guest_span = guest_span();
        let task = AbortOnDrop::new(tokio::spawn(in_span(
            async move {
                let _slot = slot;
                // The run owns the store, so that it can move to the
                // long-running lane, and hands it back to be closed below.
                let run = async move {
                    let call = async {
                        let command =
                            in_span(pre.instantiate_async(&mut store), instantiate_span()).await?;
                        command.wasi_cli_run().call_run(&mut store).await
                    };
                    (tokio::time::timeout(deadline, call).await, store)
                };
                let (result, store) = run_guest(run, hit.cpu.clone()).await;
                let outcome = match result {
                    Err(_elapsed) => Err(InvokeError::DeadlineExceeded { deadline }),
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(()))) => Err(InvokeError::Exited(1)),
                    Ok(Err(e)) => match e.downcast_ref::<I32Exit>() {
                        Some(I32Exit(0)) => Ok(()),
                        Some(I32Exit(status)) => Err(InvokeError::Exited(*status)),
                        None => Err(classify(&e, &hit, &config, request_id, digest)),
                    },
                };
                if let Err(e) = &outcome {
                    tracing::warn!(%request_id, %digest, "command failed: {e}");
                    tracing::Span::current().record("otel.status_code", "ERROR");
                }
                // Nobody reads the rest of the body now.
                pump.abort();
                // Closing the store closes stdout, which ends the response body.
                drop(store);
                let _ = outcome_tx.send(outcome);
            },
            guest_span,
        )));

        let (head_tx, head_rx) = oneshot::channel();
        tokio::spawn(relay_output(
            stdout_reader,
            outcome_rx,
            head_tx,
            stdin_faults.clone(),
        ));
        // Until the head is out, a client that goes away (this future is
        // dropped) stops the command; after it, the command finishes.
        let head = head_rx.await;
        task.detach();
        match head {
            _ if let Some(refusal) = stdin_faults.refusal(app.limits.max_request_body_bytes) => {
                Err(refusal)
            }
            Ok(result) => result,
            Err(_) => Err(InvokeError::internal("the CGI relay stopped")),
        }
    }
}

/// Copies the request body into the command's stdin, stopping at `limit`
/// bytes, at a broken or stalled upload (recording which in `faults`), or
/// when the command stops reading.
async fn pump_body<B>(body: B, mut stdin: DuplexStream, limit: u64, faults: Arc<BodyFaults>)
where
    B: Body<Data = Bytes>,
    B::Error: Into<BodyError> + Send,
{
    let mut body = std::pin::pin!(body);
    let mut sent = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                faults.note_error(&*e.into());
                return;
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        sent += data.len() as u64;
        if sent > limit {
            faults.note_too_large();
            return;
        }
        if stdin.write_all(&data).await.is_err() {
            return;
        }
    }
    let _ = stdin.shutdown().await;
}

/// The command's stdin. A body cut short (over the limit, stalled or broken
/// off) ends in a read error rather than a clean end of file, so the command
/// cannot mistake part of a body for all of it.
struct StdinReader {
    pipe: DuplexStream,
    faults: Arc<BodyFaults>,
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
        if wanted && at_end && self.faults.cut_short() {
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
    stdin: Arc<BodyFaults>,
) {
    let stopped = || InvokeError::internal("the command's task stopped");
    let mut buffer = BytesMut::new();
    let (head, eof) = match read_head(&mut stdout, &mut buffer).await {
        Ok(read) => read,
        Err(error) => {
            tracing::warn!("{error}");
            let _ = head_tx.send(Err(error));
            return;
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
    let (ended, ended_rx) = outcome_channel();
    let body = EndsWithRun::new(ChannelBody(frames_rx), ended_rx);
    let response = match build_head(&headers, body.boxed_unsync()) {
        Ok(response) => response,
        Err(e) => {
            let _ = head_tx.send(Err(e));
            return;
        }
    };
    if head_tx.send(Ok(response)).is_err() {
        return;
    }
    if !rest.is_empty() && frames.send(rest).await.is_err() {
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
                    .send(Bytes::copy_from_slice(&scratch[..n]))
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
    if stdin.cut_short() {
        result = Err(InvokeError::internal(
            "the request body was cut short after the response began",
        ));
    }
    // The body ends as the run did: cut off if it failed. The outcome goes
    // first, so the body has it when it sees its end.
    let _ = ended.send(result.map_err(|e| e.to_string()));
    drop(frames);
}

/// Reads the command's stdout into `buffer` until its CGI header block is
/// complete, or there proves to be none. Returns the header lines and where
/// the body starts in `buffer` (or `None`: all of it is body), and whether
/// stdout has ended; a broken or overlong block is an error.
async fn read_head(
    stdout: &mut DuplexStream,
    buffer: &mut BytesMut,
) -> Result<(Option<(Vec<(String, String)>, usize)>, bool), InvokeError> {
    let too_long = || {
        InvokeError::BadCgiResponse(format!(
            "the header block is longer than {MAX_CGI_HEAD_BYTES} bytes"
        ))
    };
    let mut parser = HeadParser::default();
    let mut eof = false;
    loop {
        match parser.advance(buffer) {
            Head::Complete(_, body_start) if body_start > MAX_CGI_HEAD_BYTES => {
                return Err(too_long());
            }
            Head::Complete(headers, body_start) => return Ok((Some((headers, body_start)), eof)),
            Head::None => return Ok((None, eof)),
            Head::Malformed(why) => return Err(InvokeError::BadCgiResponse(why)),
            Head::Partial if eof => return Ok((None, eof)),
            // Header lines and no end to them within the limit.
            Head::Partial if buffer.len() > MAX_CGI_HEAD_BYTES && parser.has_headers() => {
                return Err(too_long());
            }
            // Not one whole line within the limit: all body.
            Head::Partial if buffer.len() > MAX_CGI_HEAD_BYTES => return Ok((None, eof)),
            Head::Partial => {}
        }
        match stdout.read_buf(buffer).await {
            Ok(0) | Err(_) => eof = true,
            Ok(_) => {}
        }
    }
}

/// A response body fed by the relay.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|data| Ok(Frame::data(data))))
    }
}
