//! The CGI protocol itself, with no I/O: the environment a request
//! gives the command (RFC 3875), and the header block at the start of its
//! output that becomes the response head.

use crate::authority::{request_host, split_host_port, strip_port};
use crate::serve::GuestBody;
use crate::{InvokeError, RequestId};
use http::{HeaderName, HeaderValue, Response, StatusCode, header};

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
/// The response head a CGI header block asks for, around `body`:
/// `Status: 404 Not Found` sets the status, `Location` alone means 302,
/// other lines become headers, and the content type defaults to
/// `text/plain; charset=utf-8`.
pub(super) fn build_head(
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
pub(super) fn environment(
    parts: &http::request::Parts,
    request_id: RequestId,
) -> Vec<(String, String)> {
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
    if let Some(host) = request_host(&parts.headers, uri) {
        let (name, port) = match split_host_port(host) {
            Some((_, Some(port))) if port.bytes().all(|b| b.is_ascii_digit()) => {
                (strip_port(host), port)
            }
            _ => (host, "80"),
        };
        env.push(("SERVER_NAME".into(), name.to_owned()));
        env.push(("SERVER_PORT".into(), port.to_owned()));
    }
    if let Some(client) = parts
        .headers
        .get(crate::CLIENT_IP_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        env.push(("REMOTE_ADDR".into(), client.to_owned()));
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
pub(super) enum Head {
    /// Header lines, then a blank line; the body starts at the index.
    Complete(Vec<(String, String)>, usize),
    /// Only header-like lines so far.
    Partial,
    /// Not a header block: the output is all body.
    None,
    /// A header block with a line that breaks it, said how.
    Malformed(String),
}

/// Finds a CGI header block at the start of the output as it arrives,
/// scanning each byte once.
#[derive(Default)]
pub(super) struct HeadParser {
    /// Where the next unparsed line starts.
    pos: usize,
    headers: Vec<(String, String)>,
}

impl HeadParser {
    /// Parses the complete lines of `output` not parsed yet.
    pub(super) fn advance(&mut self, output: &[u8]) -> Head {
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
            let is_token = |name: &[u8]| {
                !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            };
            let split = line.iter().position(|&b| b == b':');
            let Some((name, value)) = split.map(|colon| (&line[..colon], &line[colon + 1..]))
            else {
                return self.not_a_header(line);
            };
            let trimmed = name.trim_ascii_end();
            if !is_token(trimmed) {
                return self.not_a_header(line);
            }
            if trimmed.len() != name.len() {
                return Head::Malformed(format!(
                    "space before the colon in `{}`",
                    String::from_utf8_lossy(line).escape_debug()
                ));
            }
            let Ok(value) = std::str::from_utf8(value) else {
                return Head::Malformed(format!(
                    "the value of `{}` is not UTF-8",
                    String::from_utf8_lossy(name)
                ));
            };
            let name = String::from_utf8_lossy(name).into_owned();
            self.headers.push((name, value.trim().to_owned()));
        }
    }
}

impl HeadParser {
    /// Whether a whole header line has been read.
    pub(super) fn has_headers(&self) -> bool {
        !self.headers.is_empty()
    }

    /// What a line that is no header line means: the output has no head if
    /// it is the first, and a broken head otherwise.
    fn not_a_header(&self, line: &[u8]) -> Head {
        if self.headers.is_empty() {
            Head::None
        } else {
            Head::Malformed(format!(
                "`{}` in the header block is no `Name: value` line",
                String::from_utf8_lossy(line).escape_debug()
            ))
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
    use http_body_util::BodyExt;

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
    fn broken_header_blocks_are_malformed() {
        let malformed = |output: &[u8]| matches!(split_head(output), Head::Malformed(_));
        assert!(malformed(b"Status: 200\nNot a header\n\nbody"));
        assert!(malformed(b"Content-Type : text/plain\n\nbody"));
        assert!(malformed(b"X-Name: caf\xe9\n\nbody"));
        // A first line that is no header line is plain output.
        assert_eq!(split_head(b"just text: with a colon\n\nbody"), Head::None);
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
            .header(crate::CLIENT_IP_HEADER, "192.0.2.7")
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
        assert_eq!(get("REMOTE_ADDR"), Some("192.0.2.7"));
    }

    mod properties {
        use super::*;

        proptest::proptest! {
            /// The parser decides from the first bytes that settle it, so a
            /// command's output split anywhere reads as it does whole.
            #[test]
            fn a_head_reads_the_same_however_the_output_arrives(
                output in "(([A-Za-z-]{0,12} ?:[ -~\\t]{0,20}|[ -~]{0,20})\\r?\\n){0,6}[ -~]{0,20}",
                cuts in proptest::collection::vec(0usize..200, 0..6),
            ) {
                let output = output.as_bytes();
                let whole = split_head(output);
                let mut ends: Vec<usize> = cuts.into_iter().map(|cut| cut.min(output.len())).collect();
                ends.sort_unstable();
                ends.push(output.len());
                let mut parser = HeadParser::default();
                let mut decided = Head::Partial;
                for end in ends {
                    decided = parser.advance(&output[..end]);
                    if decided != Head::Partial {
                        break;
                    }
                }
                proptest::prop_assert_eq!(decided, whole);
            }

            /// Any bytes at all: the parser never panics, and a head it finds
            /// has headers and ends with a blank line inside the output.
            #[test]
            fn any_output_is_parsed_without_panicking(
                output in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            ) {
                if let Head::Complete(headers, body_at) = split_head(&output) {
                    proptest::prop_assert!(!headers.is_empty());
                    proptest::prop_assert!(body_at <= output.len());
                    proptest::prop_assert!(output[..body_at].ends_with(b"\n"));
                }
            }
        }
    }
}
