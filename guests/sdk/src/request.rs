//! [`Request`]: an incoming HTTP request.

use crate::bindings::wasi::http::types::{IncomingRequest, Method as WasiMethod, Scheme};
use crate::body::{BodyReader, Parent};
use crate::error::{Error, Result};

/// An HTTP method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// CONNECT
    Connect,
    /// OPTIONS
    Options,
    /// TRACE
    Trace,
    /// PATCH
    Patch,
    /// Any other method, as sent.
    Other(String),
}

impl Method {
    /// The method as it appears on the wire, such as `"GET"`.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other(other) => other,
        }
    }

    pub(crate) fn from_wasi(method: WasiMethod) -> Self {
        match method {
            WasiMethod::Get => Method::Get,
            WasiMethod::Head => Method::Head,
            WasiMethod::Post => Method::Post,
            WasiMethod::Put => Method::Put,
            WasiMethod::Delete => Method::Delete,
            WasiMethod::Connect => Method::Connect,
            WasiMethod::Options => Method::Options,
            WasiMethod::Trace => Method::Trace,
            WasiMethod::Patch => Method::Patch,
            WasiMethod::Other(other) => Method::Other(other),
        }
    }

    pub(crate) fn to_wasi(&self) -> WasiMethod {
        match self {
            Method::Get => WasiMethod::Get,
            Method::Head => WasiMethod::Head,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Delete => WasiMethod::Delete,
            Method::Connect => WasiMethod::Connect,
            Method::Options => WasiMethod::Options,
            Method::Trace => WasiMethod::Trace,
            Method::Patch => WasiMethod::Patch,
            Method::Other(other) => WasiMethod::Other(other.clone()),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An incoming HTTP request: method, path, headers, and a body that is read
/// as it arrives.
///
/// ```no_run
/// use wharf_sdk::{Method, Request, Response, Result, handler};
///
/// #[handler]
/// fn handle(request: Request) -> Result<Response> {
///     if request.method() != &Method::Post {
///         return Ok(Response::new(405).with_header("allow", "POST"));
///     }
///     let agent = request.header("user-agent").unwrap_or("someone").to_owned();
///     let body = request.text()?;
///     Ok(Response::text(format!("{agent} sent {} characters\n", body.chars().count())))
/// }
/// ```
pub struct Request {
    method: Method,
    scheme: Option<String>,
    authority: Option<String>,
    path_with_query: String,
    headers: Vec<(String, Vec<u8>)>,
    params: Vec<(String, String)>,
    body: BodyReader,
}

impl Request {
    pub(crate) fn from_incoming(request: IncomingRequest) -> Result<Self> {
        let method = Method::from_wasi(request.method());
        let scheme = request.scheme().map(|scheme| match scheme {
            Scheme::Http => "http".to_owned(),
            Scheme::Https => "https".to_owned(),
            Scheme::Other(other) => other,
        });
        let authority = request.authority();
        let path_with_query = request.path_with_query().unwrap_or_else(|| "/".to_owned());
        let headers = request.headers().entries();
        let body = request
            .consume()
            .map_err(|()| Error::internal("the request body was already taken"))?;
        Ok(Self {
            method,
            scheme,
            authority,
            path_with_query,
            headers,
            params: Vec::new(),
            body: BodyReader::new(Some(body), Parent::Request(request)),
        })
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// `http` or `https`, as the client reached wharf, when known.
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// The host (and port) the client asked for, such as `shop.example.com`.
    pub fn authority(&self) -> Option<&str> {
        self.authority.as_deref()
    }

    /// The path, without the query: `/items/7`.
    pub fn path(&self) -> &str {
        match self.path_with_query.split_once('?') {
            Some((path, _)) => path,
            None => &self.path_with_query,
        }
    }

    /// The raw query string after `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.path_with_query.split_once('?').map(|(_, query)| query)
    }

    /// The path and query as the client sent them: `/items/7?full=1`.
    pub fn path_with_query(&self) -> &str {
        &self.path_with_query
    }

    /// The query parameters, percent-decoded, in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        self.query()
            .map(|query| {
                query
                    .split('&')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                        (percent_decode(name), percent_decode(value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first query parameter called `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Every header as `(lower-case name, raw value)`, in the order sent.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The first value of the header `name` (any case), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        first_header(&self.headers, name)
    }

    /// A path parameter captured by a [`crate::Router`] route, such as `id`
    /// in `/items/:id`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn set_params(&mut self, params: Vec<(String, String)>) {
        self.params = params;
    }

    /// The body, to read as it arrives.
    pub fn into_body(self) -> BodyReader {
        self.body
    }

    /// The whole body, read into memory.
    pub fn bytes(self) -> Result<Vec<u8>> {
        self.body.bytes().map_err(|error| {
            Error::bad_request(format!("could not read the request body: {error}"))
        })
    }

    /// The whole body as UTF-8 text; 400 if it is not UTF-8.
    pub fn text(self) -> Result<String> {
        String::from_utf8(self.bytes()?)
            .map_err(|_| Error::bad_request("the request body must be UTF-8 text"))
    }

    /// The whole body parsed as JSON; 400, saying what is wrong, if it does
    /// not parse as a `T`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let bytes = self.bytes()?;
        serde_json::from_slice(&bytes).map_err(|error| {
            Error::bad_request(format!(
                "the request body is not valid JSON for this route: {error}"
            ))
        })
    }
}

/// The first value of the header `name` (any case) in `headers`, if it is
/// UTF-8.
pub(crate) fn first_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
}

/// Decodes `%XX` escapes and `+` (a space, in query strings). Invalid
/// escapes are kept as written; invalid UTF-8 becomes U+FFFD.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = &bytes[i + 1..i + 3];
                match (hex.iter().all(u8::is_ascii_hexdigit))
                    .then(|| std::str::from_utf8(hex).ok())
                    .flatten()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("http%3A%2F%2Fx"), "http://x");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%e2%9c%93"), "✓");
        // Not an escape: `+` is no hex digit, so it stays a space.
        assert_eq!(percent_decode("%+a"), "% a");
    }
}
