//! Guest stdout and stderr, written line by line to the server's log and
//! to the app's [`GuestLogSink`], if it has one.
//!
//! Writes never wait: each line becomes one `tracing` event tagged with the
//! app, the digest and the request id, and the process's log writer is
//! non-blocking. A request may log at most
//! [`RuntimeConfig::max_guest_log_bytes`](crate::RuntimeConfig); the rest is
//! dropped after one warning.

use super::AppContext;
use crate::RequestId;
use bytes::Bytes;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line kept before it is logged in pieces.
const MAX_LINE: usize = 8 * 1024;

/// Where a server keeps what an app's guests print, besides the log: the
/// recent lines a `wharf logs` reads.
pub trait GuestLogSink: Send + Sync {
    /// Takes one line a guest printed.
    fn line(&self, line: GuestLine<'_>);
}

/// One line of a guest's output, without its line ending.
#[derive(Clone, Copy, Debug)]
pub struct GuestLine<'a> {
    /// The request the guest was serving.
    pub request_id: RequestId,
    /// The digest of the deployment that printed it, `sha256-<hex>`.
    pub digest: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The text, with invalid UTF-8 replaced.
    pub text: &'a str,
}

/// The log sink shared by one request's stdout and stderr.
#[derive(Clone)]
pub(crate) struct GuestLog {
    shared: Arc<Budget>,
}

struct Budget {
    request_id: RequestId,
    app: Arc<AppContext>,
    remaining: AtomicUsize,
    warned: AtomicBool,
}

impl GuestLog {
    pub(crate) fn new(request_id: RequestId, app: Arc<AppContext>, max_bytes: usize) -> Self {
        Self {
            shared: Arc::new(Budget {
                request_id,
                app,
                remaining: AtomicUsize::new(max_bytes),
                warned: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn stdout(&self) -> GuestOutput {
        GuestOutput {
            stream: "stdout",
            shared: self.shared.clone(),
        }
    }

    pub(crate) fn stderr(&self) -> GuestOutput {
        GuestOutput {
            stream: "stderr",
            shared: self.shared.clone(),
        }
    }
}

/// One of a guest's output streams, as handed to wasmtime-wasi.
pub(crate) struct GuestOutput {
    stream: &'static str,
    shared: Arc<Budget>,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.writer())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.writer())
    }
}

impl GuestOutput {
    fn writer(&self) -> LineWriter {
        LineWriter {
            stream: self.stream,
            shared: self.shared.clone(),
            line: Vec::new(),
        }
    }
}

/// Splits what a guest writes into lines and logs each one.
struct LineWriter {
    stream: &'static str,
    shared: Arc<Budget>,
    line: Vec<u8>,
}

impl LineWriter {
    fn push(&mut self, mut bytes: &[u8]) {
        let allowed = self.take_budget(bytes.len());
        bytes = &bytes[..allowed];
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&bytes[..pos]);
            self.emit();
            bytes = &bytes[pos + 1..];
        }
        self.line.extend_from_slice(bytes);
        if self.line.len() >= MAX_LINE {
            self.emit();
        }
    }

    /// Takes up to `want` bytes of the request's log budget.
    fn take_budget(&self, want: usize) -> usize {
        let mut granted = 0;
        let _ = self
            .shared
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                granted = want.min(left);
                Some(left - granted)
            });
        if granted < want && !self.shared.warned.swap(true, Ordering::Relaxed) {
            let facts = &self.shared.app.facts;
            tracing::warn!(
                target: "wharf::guest",
                app = %facts.app,
                digest = facts.short_digest(),
                request_id = %self.shared.request_id,
                "guest output exceeded the per-request log limit; the rest is dropped"
            );
        }
        granted
    }

    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let Budget {
            request_id, app, ..
        } = &*self.shared;
        tracing::info!(
            target: "wharf::guest",
            app = %app.facts.app,
            digest = app.facts.short_digest(),
            request_id = %request_id,
            stream = self.stream,
            "{text}"
        );
        if let Some(sink) = &app.guest_log {
            sink.line(GuestLine {
                request_id: *request_id,
                digest: &app.facts.digest,
                stream: self.stream,
                text,
            });
        }
        self.line.clear();
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
