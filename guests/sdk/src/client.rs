//! Outbound HTTP: requests from an app to other servers.
//!
//! wharf lets an app reach only the origins its operator allowed; a request
//! anywhere else fails with an [`Error`] whose message names the reason
//! (`HttpRequestDenied`).
//!
//! ```no_run
//! use wharf_sdk::{Request, Response, Result, client, handler};
//!
//! #[handler]
//! fn handle(_request: Request) -> Result<Response> {
//!     let upstream = client::get("https://api.example.com/status")?;
//!     let status = upstream.status();
//!     Ok(Response::text(format!("upstream said {status}: {}", upstream.text()?)))
//! }
//! ```

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    Fields, IncomingResponse, OutgoingRequest, RequestOptions, Scheme,
};
use crate::body::{BodyReader, BodyWriter, Parent, error_code};
use crate::error::{Error, Result};
use crate::request::{Method, first_header};
use std::io::Write;
use std::time::Duration;

/// Sends a GET request to `url`.
pub fn get(url: &str) -> Result<Response> {
    Request::get(url).send()
}

/// An outbound request, built up and then sent with [`Request::send`].
///
/// ```no_run
/// use wharf_sdk::client::Request;
///
/// # fn call() -> wharf_sdk::Result<()> {
/// let response = Request::post("https://api.example.com/items")
///     .header("authorization", "Bearer …")
///     .body(r#"{"name":"lamp"}"#)
///     .timeout(std::time::Duration::from_secs(5))
///     .send()?;
/// assert_eq!(response.status(), 201);
/// # Ok(()) }
/// ```
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` to `url`, which must be `http://` or
    /// `https://`.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// A PUT request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    /// A DELETE request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, with `content-type: application/json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|error| Error::internal(format!("cannot serialize the request: {error}")))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Gives up when connecting, or waiting for the first byte of the
    /// response, takes longer than `timeout`. wharf applies its own limits
    /// too; the shorter wins.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and waits for the response's status and headers;
    /// the body is read from the [`Response`] as it arrives.
    ///
    /// A request that wharf refuses, or that fails on the way, is an
    /// [`Error`] with status 502 whose message says why.
    pub fn send(mut self) -> Result<Response> {
        let (scheme, authority, path_with_query) = split_url(&self.url)?;
        let mut headers = std::mem::take(&mut self.headers);
        crate::body::ensure_content_length(&mut headers, self.body.len());
        let fields = Fields::from_list(&headers)
            .map_err(|error| Error::internal(format!("invalid request header: {error:?}")))?;
        let request = OutgoingRequest::new(fields);
        let invalid = |what: &str| Error::internal(format!("invalid {what} in {}", self.url));
        request
            .set_method(&self.method.to_wasi())
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(&path_with_query))
            .map_err(|()| invalid("path"))?;
        let options = self.timeout.map(|timeout| {
            let options = RequestOptions::new();
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // A host that does not support a timeout keeps its own.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            options
        });
        let body = request
            .body()
            .map_err(|()| Error::internal("the request body was already taken"))?;
        let pending = outgoing_handler::handle(request, options)
            .map_err(|code| self.failed(&format!("{code:?}")))?;
        // The body is written after the request is handed over, so a large
        // one streams instead of filling a buffer.
        let written = BodyWriter::new(body).and_then(|mut writer| {
            writer.write_all(&self.body)?;
            writer.finish()
        });
        let response = loop {
            match pending.get() {
                Some(result) => break result,
                None => pending.subscribe().block(),
            }
        };
        // When the host refuses the request, or the upstream answers before
        // reading the whole body, writing fails too; the response says why.
        match response {
            Ok(Ok(response)) => Ok(Response::new(response)),
            Ok(Err(code)) => Err(self.failed(&error_code("the request", &code).to_string())),
            Err(()) => Err(self.failed("the response was already taken")),
        }
        .and_then(|response| match written {
            Err(error) if response.status() < 400 => Err(self.failed(&error.to_string())),
            _ => Ok(response),
        })
    }

    fn failed(&self, why: &str) -> Error {
        Error::bad_gateway(format!("{} {} failed: {why}", self.method, self.url))
    }
}

/// The response to an outbound request.
pub struct Response {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: BodyReader,
}

impl Response {
    fn new(response: IncomingResponse) -> Self {
        let status = response.status();
        let headers = response.headers().entries();
        let body = match response.consume() {
            Ok(body) => BodyReader::new(Some(body), Parent::Response(response)),
            Err(()) => BodyReader::empty(),
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Every header as `(lower-case name, raw value)`.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The first value of the header `name` (any case), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// The body, to read as it arrives.
    pub fn into_body(self) -> BodyReader {
        self.body
    }

    /// The whole body, read into memory.
    pub fn bytes(self) -> Result<Vec<u8>> {
        self.body.bytes().map_err(|error| {
            Error::bad_gateway(format!("reading the upstream body failed: {error}"))
        })
    }

    /// The whole body as UTF-8 text.
    pub fn text(self) -> Result<String> {
        String::from_utf8(self.bytes()?)
            .map_err(|_| Error::bad_gateway("the upstream body is not UTF-8 text"))
    }

    /// The whole body parsed as JSON.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let bytes = self.bytes()?;
        serde_json::from_slice(&bytes).map_err(|error| {
            Error::bad_gateway(format!(
                "the upstream body is not the JSON expected: {error}"
            ))
        })
    }
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, String)> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Error::internal(format!(
            "{url:?} is not an absolute http:// or https:// URL"
        ))
    })?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => {
            return Err(Error::internal(format!(
                "{url:?}: only http:// and https:// are supported"
            )));
        }
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(Error::internal(format!("{url:?} has no host")));
    }
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok((scheme, authority, path))
}

#[cfg(test)]
mod tests {
    use super::split_url;
    use crate::bindings::wasi::http::types::Scheme;

    #[test]
    fn urls_split_into_parts() {
        let (scheme, authority, path) = split_url("https://api.example.com:8443/a/b?c=d").unwrap();
        assert!(matches!(scheme, Scheme::Https));
        assert_eq!(
            (authority, path.as_str()),
            ("api.example.com:8443", "/a/b?c=d")
        );
        let (_, authority, path) = split_url("http://x?q").unwrap();
        assert_eq!((authority, path.as_str()), ("x", "/?q"));
        let (_, _, path) = split_url("http://x").unwrap();
        assert_eq!(path, "/");
        assert!(split_url("ftp://x/").is_err());
        assert!(split_url("example.com/").is_err());
        assert!(split_url("http:///path").is_err());
    }
}
