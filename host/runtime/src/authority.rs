//! The host a request names, and `host[:port]` split, written once for the
//! router, the CGI environment and outbound rules.

/// The host a request names: its `Host` header, or else the authority of
/// its URI (HTTP/2's `:authority`), with the port if one was given.
pub fn request_host<'a>(headers: &'a http::HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(http::uri::Authority::as_str))
}

/// Splits `host[:port]`. An IPv6 host is written in brackets and returned
/// without them. `None` when what follows a bracketed host is not `:port`.
/// The port is returned as written, not checked.
pub fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((text, None)),
    }
}

/// `host[:port]` without the port; an IPv6 host keeps its brackets. Text
/// that does not split is returned whole.
pub fn strip_port(text: &str) -> &str {
    match split_host_port(text) {
        Some((host, _)) if text.starts_with('[') => &text[..host.len() + 2],
        Some((host, _)) => host,
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_split() {
        assert_eq!(
            split_host_port("shop.localhost:8080"),
            Some(("shop.localhost", Some("8080")))
        );
        assert_eq!(
            split_host_port("shop.localhost"),
            Some(("shop.localhost", None))
        );
        assert_eq!(split_host_port("[::1]:8080"), Some(("::1", Some("8080"))));
        assert_eq!(split_host_port("[::1]"), Some(("::1", None)));
        assert_eq!(split_host_port("[::1]x"), None);
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("[::1"), "[::1");
        assert_eq!(strip_port("name:8080"), "name");
    }

    #[test]
    fn the_host_header_comes_before_the_uri() {
        let uri: http::Uri = "http://from-uri:81/x".parse().expect("uri");
        let mut headers = http::HeaderMap::new();
        assert_eq!(request_host(&headers, &uri), Some("from-uri:81"));
        headers.insert(http::header::HOST, "from-header".parse().expect("value"));
        assert_eq!(request_host(&headers, &uri), Some("from-header"));
    }
}
