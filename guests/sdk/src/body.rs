//! Streaming bodies: [`BodyReader`] reads an incoming body, [`BodyWriter`]
//! writes an outgoing one, each a chunk at a time.

use crate::bindings::wasi::http::types::{
    ErrorCode, IncomingBody, IncomingRequest, IncomingResponse, OutgoingBody,
};
use crate::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};
use std::io;

/// The largest chunk [`BodyReader::pipe_to`] moves at once.
const PIPE_CHUNK: u64 = 64 * 1024;

/// The body of an incoming request, or of the response to an outbound
/// request, read as it arrives.
///
/// It is a [`std::io::Read`], so `std::io::copy`, `BufReader` and the like
/// work on it. [`BodyReader::pipe_to`] moves it to a writer in large chunks.
///
/// ```no_run
/// use std::io::{BufRead, BufReader};
/// use wharf_sdk::{Request, Response, Result, handler};
///
/// /// Counts the lines of the request body without holding it in memory.
/// #[handler]
/// fn count_lines(request: Request) -> Result<Response> {
///     let lines = BufReader::new(request.into_body()).lines().count();
///     Ok(Response::text(format!("{lines}\n")))
/// }
/// ```
pub struct BodyReader {
    // Fields drop in order: the stream before its body, the body before
    // the request or response it came from.
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
    _parent: Parent,
}

/// What an incoming body belongs to, kept alive as long as the body.
pub(crate) enum Parent {
    Request(#[expect(dead_code, reason = "held, never read")] IncomingRequest),
    Response(#[expect(dead_code, reason = "held, never read")] IncomingResponse),
    None,
}

impl BodyReader {
    /// The body of `parent`, already taken with `consume`.
    pub(crate) fn new(body: Option<IncomingBody>, parent: Parent) -> Self {
        let stream = body.as_ref().and_then(|body| body.stream().ok());
        Self {
            stream,
            body,
            _parent: parent,
        }
    }

    /// A body with nothing in it.
    pub(crate) fn empty() -> Self {
        Self {
            stream: None,
            body: None,
            _parent: Parent::None,
        }
    }

    /// Reads the next chunk of at most `max` bytes, or `None` at the end.
    pub fn chunk(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        loop {
            match stream.blocking_read(max.max(1) as u64) {
                // An empty read is not the end; only `Closed` is.
                Ok(chunk) if chunk.is_empty() => continue,
                Ok(chunk) => return Ok(Some(chunk)),
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(io::Error::other(format!(
                        "reading the body failed: {}",
                        error.to_debug_string()
                    )));
                }
            }
        }
    }

    /// Writes the rest of the body to `out` in chunks of up to 64 KiB, and
    /// returns how many bytes it moved.
    pub fn pipe_to(mut self, out: &mut impl io::Write) -> io::Result<u64> {
        let mut moved = 0;
        while let Some(chunk) = self.chunk(PIPE_CHUNK as usize)? {
            out.write_all(&chunk)?;
            moved += chunk.len() as u64;
        }
        Ok(moved)
    }

    /// Reads the whole body into memory.
    pub fn bytes(mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        while let Some(chunk) = self.chunk(PIPE_CHUNK as usize)? {
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }
}

impl io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.chunk(buf.len())? {
            Some(chunk) => {
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            None => Ok(0),
        }
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        self.stream = None;
        if let Some(body) = self.body.take() {
            drop(IncomingBody::finish(body));
        }
    }
}

/// The body of a response or of an outbound request, written as it is
/// produced: each write goes out to the other side as soon as it is
/// accepted.
///
/// It is a [`std::io::Write`]; get one from [`crate::Response::stream`].
pub struct BodyWriter {
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
}

impl BodyWriter {
    pub(crate) fn new(body: OutgoingBody) -> io::Result<Self> {
        let stream = body
            .write()
            .map_err(|()| io::Error::other("the body's stream was already taken"))?;
        Ok(Self {
            stream: Some(stream),
            body: Some(body),
        })
    }

    fn stream(&self) -> io::Result<&OutputStream> {
        self.stream
            .as_ref()
            .ok_or_else(|| io::Error::other("the body is already finished"))
    }

    /// Ends the body. A body that is dropped without being finished tells
    /// the other side that it was cut short.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if let Some(stream) = self.stream.take() {
            stream.blocking_flush().map_err(stream_error)?;
        }
        let body = self
            .body
            .take()
            .ok_or_else(|| io::Error::other("the body is already finished"))?;
        OutgoingBody::finish(body, None).map_err(|code| error_code("finishing the body", &code))
    }
}

impl io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let stream = self.stream()?;
        loop {
            let room = stream.check_write().map_err(stream_error)?;
            if room == 0 {
                stream.subscribe().block();
                continue;
            }
            let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            stream.write(&buf[..n]).map_err(stream_error)?;
            return Ok(n);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream()?.blocking_flush().map_err(stream_error)
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        // Dropped without `finish`: the stream goes first, and the body is
        // dropped unfinished, which the host reports as a cut-short body.
        self.stream = None;
        self.body = None;
    }
}

/// Adds `content-length: length` to `headers` unless they have one.
pub(crate) fn ensure_content_length(headers: &mut Vec<(String, Vec<u8>)>, length: usize) {
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
    {
        headers.push(("content-length".to_owned(), length.to_string().into_bytes()));
    }
}

/// A stream failure as an I/O error. `Closed` means the other side went
/// away, so it is a broken pipe.
fn stream_error(error: StreamError) -> io::Error {
    match error {
        StreamError::Closed => io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the other side closed the stream",
        ),
        StreamError::LastOperationFailed(error) => io::Error::other(error.to_debug_string()),
    }
}

/// A wasi:http error code as an I/O error, saying what was being done.
pub(crate) fn error_code(doing: &str, code: &ErrorCode) -> io::Error {
    io::Error::other(format!("{doing} failed: {code:?}"))
}
