//! [`Response`] and [`IntoResponse`]: what a handler answers.

use crate::bindings::wasi::http::types::{Fields, OutgoingResponse, ResponseOutparam};
use crate::body::BodyWriter;
use crate::error::Error;
use std::io::{self, Write};

/// Writes a streamed body; see [`Response::stream`].
type StreamFn = Box<dyn FnOnce(&mut BodyWriter) -> io::Result<()>>;

enum Body {
    Bytes(Vec<u8>),
    Stream(StreamFn),
}

/// An HTTP response: a status, headers and a body that is either bytes in
/// memory or written as it is produced.
///
/// ```no_run
/// use wharf_sdk::{Response, Request, handler};
///
/// #[handler]
/// fn handle(request: Request) -> Response {
///     match request.path() {
///         "/" => Response::text("home\n"),
///         "/old" => Response::redirect(308, "/"),
///         _ => Response::new(404).with_body("no such page\n"),
///     }
/// }
/// ```
pub struct Response {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Body,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(200)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(text.into())
    }

    /// 200 with `value` serialized as an `application/json` body. A value
    /// that cannot be serialized gives a 500 whose reason is logged.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(json) => Self::new(200)
                .with_header("content-type", "application/json")
                .with_body(json),
            Err(error) => {
                Error::internal(format!("cannot serialize the response: {error}")).into_response()
            }
        }
    }

    /// A redirect (301, 302, 303, 307 or 308) to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self::new(status).with_header("location", location.into())
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header; a name may be added more than once.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// Streams the body: once the status and headers are sent, `write` is
    /// called with a [`BodyWriter`], and every write reaches the client as
    /// it is made.
    ///
    /// If `write` fails, the error is logged and the client sees the body
    /// cut short, never a truncated body posing as a whole one.
    ///
    /// ```no_run
    /// use wharf_sdk::{Request, Response, handler};
    /// use std::io::Write;
    ///
    /// /// Echoes the request body back without holding it in memory.
    /// #[handler]
    /// fn echo(request: Request) -> Response {
    ///     let body = request.into_body();
    ///     Response::new(200).stream(move |out| {
    ///         body.pipe_to(out)?;
    ///         writeln!(out)
    ///     })
    /// }
    /// ```
    pub fn stream(
        mut self,
        write: impl FnOnce(&mut BodyWriter) -> io::Result<()> + 'static,
    ) -> Self {
        self.body = Body::Stream(Box::new(write));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers added so far.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// Sends the response through `out`: headers first, then the body.
    pub(crate) fn send(self, out: ResponseOutparam) {
        let mut headers = self.headers;
        if let Body::Bytes(bytes) = &self.body {
            crate::body::ensure_content_length(&mut headers, bytes.len());
        }
        let fields = match Fields::from_list(&headers) {
            Ok(fields) => fields,
            Err(error) => {
                let message = format!("the response has an invalid header: {error:?}");
                return Error::internal(message).into_response().send(out);
            }
        };
        let response = OutgoingResponse::new(fields);
        if response.set_status_code(self.status).is_err() {
            let message = format!("{} is not a valid HTTP status", self.status);
            return Error::internal(message).into_response().send(out);
        }
        let body = response
            .body()
            .expect("a new response's body is there to take");
        ResponseOutparam::set(out, Ok(response));
        let result = BodyWriter::new(body).and_then(|mut writer| {
            match self.body {
                Body::Bytes(bytes) => writer.write_all(&bytes)?,
                Body::Stream(write) => write(&mut writer)?,
            }
            writer.finish()
        });
        if let Err(error) = result {
            eprintln!("wharf-sdk: the response body was cut short: {error}");
        }
    }
}

/// Anything a handler may return.
///
/// Implemented for [`Response`], `String` and `&str` (200 text),
/// `Vec<u8>` (200 `application/octet-stream`), [`Error`], `(u16, T)` to
/// set the status of any of these, and `Result<T, E>` of two of them.
pub trait IntoResponse {
    /// The response this value stands for.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for &str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::new(200)
            .with_header("content-type", "application/octet-stream")
            .with_body(self)
    }
}

impl<T: IntoResponse> IntoResponse for (u16, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(error) => error.into_response(),
        }
    }
}

impl IntoResponse for Error {
    /// A 4xx sends its message; a 5xx logs its message to stderr and sends
    /// only the status's reason, so internal details stay private.
    fn into_response(self) -> Response {
        if self.status() >= 500 {
            eprintln!("wharf-sdk: {self}");
            let reason = match self.status() {
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                _ => "Internal Server Error",
            };
            Response::new(self.status()).with_body_text(format!("{reason}\n"))
        } else {
            Response::new(self.status()).with_body_text(format!("{}\n", self.message()))
        }
    }
}

impl Response {
    fn with_body_text(self, text: String) -> Self {
        self.with_header("content-type", "text/plain; charset=utf-8")
            .with_body(text)
    }
}
