//! The host a request names, and `host[:port]` split, written once for the
//! router, the CGI environment and outbound rules.

/// The host a request names: the authority of its target when it has one
/// (an absolute-form target, or HTTP/2's `:authority`), or else its `Host`
/// header, with the port if one was given. [`check_host`] refuses requests
/// where the two disagree.
pub fn request_host<'a>(headers: &'a http::HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    uri.authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| headers.get(http::header::HOST)?.to_str().ok())
}

/// Why a request's host cannot be routed by; each is answered 400.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// More than one `Host` header: which one names the site is ambiguous.
    #[error("the request has more than one Host header; send one")]
    Duplicate,
    /// An absolute-form target and a `Host` header that names another host.
    #[error("the Host header `{host}` does not match the request target's host `{target}`")]
    Mismatch {
        /// The `Host` header.
        host: String,
        /// The target's authority.
        target: String,
    },
    /// An HTTP/1.1 request without a `Host` header.
    #[error("an HTTP/1.1 request needs a Host header")]
    Missing,
}

/// Checks what a request says about its host, as HTTP/1.1 requires of a
/// server (RFC 9112, section 3.2): one `Host` header at most, present on
/// HTTP/1.1, and agreeing with an absolute-form target.
pub fn check_host(
    version: http::Version,
    headers: &http::HeaderMap,
    uri: &http::Uri,
) -> Result<(), HostError> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(HostError::Duplicate);
    }
    match (host, uri.authority()) {
        (None, _) if version == http::Version::HTTP_11 => Err(HostError::Missing),
        (Some(host), Some(target))
            if !host
                .as_bytes()
                .eq_ignore_ascii_case(target.as_str().as_bytes()) =>
        {
            Err(HostError::Mismatch {
                host: String::from_utf8_lossy(host.as_bytes()).into_owned(),
                target: target.as_str().to_owned(),
            })
        }
        _ => Ok(()),
    }
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
    fn the_target_comes_before_the_host_header() {
        let absolute: http::Uri = "http://from-uri:81/x".parse().expect("uri");
        let origin: http::Uri = "/x".parse().expect("uri");
        let mut headers = http::HeaderMap::new();
        assert_eq!(request_host(&headers, &absolute), Some("from-uri:81"));
        headers.insert(http::header::HOST, "from-header".parse().expect("value"));
        assert_eq!(request_host(&headers, &absolute), Some("from-uri:81"));
        assert_eq!(request_host(&headers, &origin), Some("from-header"));
    }

    #[test]
    fn hosts_are_checked_as_http_1_1_requires() {
        use http::Version;
        let origin: http::Uri = "/x".parse().expect("uri");
        let absolute: http::Uri = "http://shop.localhost:8080/x".parse().expect("uri");
        let mut headers = http::HeaderMap::new();
        assert!(matches!(
            check_host(Version::HTTP_11, &headers, &origin),
            Err(HostError::Missing)
        ));
        assert!(check_host(Version::HTTP_10, &headers, &origin).is_ok());
        assert!(check_host(Version::HTTP_2, &headers, &absolute).is_ok());
        headers.insert(
            http::header::HOST,
            "Shop.localhost:8080".parse().expect("value"),
        );
        assert!(check_host(Version::HTTP_11, &headers, &absolute).is_ok());
        assert!(check_host(Version::HTTP_11, &headers, &origin).is_ok());
        headers.insert(
            http::header::HOST,
            "blog.localhost:8080".parse().expect("value"),
        );
        assert!(matches!(
            check_host(Version::HTTP_11, &headers, &absolute),
            Err(HostError::Mismatch { .. })
        ));
        headers.append(
            http::header::HOST,
            "shop.localhost:8080".parse().expect("value"),
        );
        assert!(matches!(
            check_host(Version::HTTP_11, &headers, &origin),
            Err(HostError::Duplicate)
        ));
    }
}
