//! Serving a command component (one that exports `wasi:cli/run`) CGI-style:
//! the request body on stdin, the CGI variables of RFC 3875 in the
//! environment, and the response read from stdout once the command exits.

use crate::host::HostState;
use crate::http::{GuestBody, classify};
use crate::{CompiledComponent, InvokeError, RequestId, Runtime};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

impl Runtime {
    /// Runs `pre` once for `request`, CGI-style, within the request deadline.
    pub(crate) async fn run_command<B>(
        &self,
        component: &CompiledComponent,
        pre: CommandPre<HostState>,
        request: http::Request<B>,
        request_id: RequestId,
        slot: OwnedSemaphorePermit,
    ) -> Result<Response<GuestBody>, InvokeError>
    where
        B: http_body::Body<Data = Bytes, Error = hyper::Error> + Send + 'static,
    {
        let _slot = slot;
        let config = &self.config;
        let deadline = config.request_deadline;
        let limit = config.max_request_body_bytes;
        let (parts, body) = request.into_parts();
        let body = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).collect();
        let body = match tokio::time::timeout(deadline, body).await {
            Err(_elapsed) => return Err(InvokeError::DeadlineExceeded { deadline }),
            Ok(Err(e)) if e.is::<LengthLimitError>() => {
                return Err(InvokeError::BodyTooLarge { limit });
            }
            Ok(Err(e)) => {
                return Err(InvokeError::Internal(format!(
                    "cannot read the request body: {e}"
                )));
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };

        let env = environment(&parts, body.len(), request_id);
        let stdout = MemoryOutputPipe::new(config.max_cgi_response_bytes);
        let state = HostState::new_command(config, request_id, &env, body, stdout.clone());
        let (mut store, memory_hit) = self.new_store(state);
        let call = async {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        let digest = component.digest;
        match tokio::time::timeout(deadline, call).await {
            Err(_elapsed) => return Err(InvokeError::DeadlineExceeded { deadline }),
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(()))) => return Err(InvokeError::Exited(1)),
            Ok(Err(e)) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => {}
                Some(I32Exit(status)) => return Err(InvokeError::Exited(*status)),
                // A full pipe reports itself closed, and the guest typically
                // fails on that; a single write past its capacity traps.
                None if stdout.contents().len() >= config.max_cgi_response_bytes
                    || format!("{e:?}").contains("write beyond capacity") =>
                {
                    return Err(InvokeError::ResponseTooLarge {
                        limit: config.max_cgi_response_bytes,
                    });
                }
                None => return Err(classify(&e, &memory_hit, config, request_id, digest)),
            },
        }
        drop(store);
        parse_output(stdout.contents())
    }
}

/// The CGI variables for one request.
fn environment(
    parts: &http::request::Parts,
    content_length: usize,
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
    if content_length > 0 {
        env.push(("CONTENT_LENGTH".into(), content_length.to_string()));
    }
    if let Some(host) = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
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

/// Turns a command's stdout into a response.
///
/// Output that starts with a CGI header block (`Name: value` lines, then a
/// blank line) has it applied: `Status: 404 Not Found` sets the status,
/// `Location` alone means 302, and other lines become response headers.
/// Output without one is the body of a 200 `text/plain` response, so a
/// program that just prints works too.
fn parse_output(output: Bytes) -> Result<Response<GuestBody>, InvokeError> {
    let (head, body) = match split_head(&output) {
        Some((head, body_start)) => (head, output.slice(body_start..)),
        None => (Vec::new(), output),
    };
    let bad =
        |what: String| InvokeError::BadCgiResponse(format!("bad header `{}`", what.escape_debug()));
    let mut response = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    let mut status = None;
    for (name, value) in &head {
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            let code = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| bad(format!("Status: {value}")))?;
            status = Some(code);
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

/// The header lines before the first blank line, and where the body starts;
/// `None` when the output does not open with a header block.
fn split_head(output: &[u8]) -> Option<(Vec<(String, String)>, usize)> {
    let mut headers = Vec::new();
    let mut pos = 0;
    loop {
        let end = output[pos..].iter().position(|&b| b == b'\n')? + pos;
        let line = output[pos..end]
            .strip_suffix(b"\r")
            .unwrap_or(&output[pos..end]);
        pos = end + 1;
        if line.is_empty() {
            return (!headers.is_empty()).then_some((headers, pos));
        }
        let line = std::str::from_utf8(line).ok()?;
        let (name, value) = line.split_once(':')?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(output: &str) -> (StatusCode, http::HeaderMap, String) {
        let response = parse_output(Bytes::from(output.to_owned())).expect("parses");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    #[tokio::test]
    async fn header_blocks_are_applied() {
        let (status, headers, body) =
            parse("Status: 404 Not Found\r\nContent-Type: text/html\r\nX-A: 1\r\n\r\n<p>gone</p>")
                .await;
        assert_eq!(status, 404);
        assert_eq!(headers["content-type"], "text/html");
        assert_eq!(headers["x-a"], "1");
        assert_eq!(body, "<p>gone</p>");

        let (status, headers, body) = parse("Location: /elsewhere\n\n").await;
        assert_eq!(status, 302);
        assert_eq!(headers["location"], "/elsewhere");
        assert_eq!(body, "");
    }

    #[tokio::test]
    async fn plain_output_is_the_body() {
        for output in [
            "hello\n",
            "hello: world, but no blank line\n",
            "",
            "a b: c\n\nbody",
        ] {
            let (status, headers, body) = parse(output).await;
            assert_eq!(status, 200, "{output:?}");
            assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
            assert_eq!(body, output);
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        for output in [
            &b"Status: teapot\n\n"[..],
            b"Status: 99\n\n",
            b"X-Injected: a\rSet-Cookie: evil=1\n\n",
            b"X-Bad: \x01\n\n",
        ] {
            match parse_output(Bytes::from_static(output)) {
                Err(InvokeError::BadCgiResponse(_)) => {}
                Err(e) => panic!("{:?} gave {e}", String::from_utf8_lossy(output)),
                Ok(_) => panic!("{:?} was accepted", String::from_utf8_lossy(output)),
            }
        }
    }

    #[test]
    fn the_environment_follows_rfc_3875() {
        let request = http::Request::post("/path/x?a=1&b=2")
            .header("host", "app.localhost:8080")
            .header("content-type", "text/plain")
            .header("x-custom-thing", "v")
            .header("x_custom_thing", "spoofed")
            .header("proxy", "http://evil")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        let env = environment(&parts, 5, RequestId::new());
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
