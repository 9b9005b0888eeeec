//! [`Router`]: dispatch by method and path.

use crate::request::{Method, Request};
use crate::response::{IntoResponse, Response};

type Handler = Box<dyn Fn(Request) -> Response>;

/// One part of a route's path.
enum Segment {
    /// Must equal the request's segment.
    Literal(String),
    /// `:name`: captures one segment.
    Param(String),
    /// `*name`, last only: captures the rest of the path, slashes and all.
    Rest(String),
}

struct Route {
    method: Option<Method>,
    segments: Vec<Segment>,
    handler: Handler,
}

/// Routes requests to handlers by method and path.
///
/// Paths are matched segment by segment: `/items` matches only itself,
/// `:id` matches any one segment and `*rest` (last only) matches the rest of
/// the path. Captures are read, percent-decoded, with [`Request::param`];
/// a `*rest` capture may contain `..`, so check it before using it as a
/// path anywhere. The first route
/// that matches wins. A path that no route matches gets 404; a path that
/// matches only under other methods gets 405 with an `Allow` header.
///
/// ```no_run
/// use wharf_sdk::{Request, Response, Router, handler};
///
/// #[handler]
/// fn handle(request: Request) -> Response {
///     Router::new()
///         .get("/", |_| Response::text("index\n"))
///         .get("/users/:id", |request| {
///             Response::text(format!("user {}\n", request.param("id").unwrap_or_default()))
///         })
///         .get("/files/*path", |request| {
///             Response::text(format!("file {}\n", request.param("path").unwrap_or_default()))
///         })
///         .handle(request)
/// }
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// A router with no routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route for `method` and `path`.
    pub fn route<R: IntoResponse>(
        mut self,
        method: Method,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.add(Some(method), path, handler);
        self
    }

    /// Adds a route for `path` under every method.
    pub fn any<R: IntoResponse>(
        mut self,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.add(None, path, handler);
        self
    }

    /// Adds a GET route; it answers HEAD too.
    pub fn get<R: IntoResponse>(
        self,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.route(Method::Get, path, handler)
    }

    /// Adds a POST route.
    pub fn post<R: IntoResponse>(
        self,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.route(Method::Post, path, handler)
    }

    /// Adds a PUT route.
    pub fn put<R: IntoResponse>(
        self,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.route(Method::Put, path, handler)
    }

    /// Adds a PATCH route.
    pub fn patch<R: IntoResponse>(
        self,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.route(Method::Patch, path, handler)
    }

    /// Adds a DELETE route.
    pub fn delete<R: IntoResponse>(
        self,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) -> Self {
        self.route(Method::Delete, path, handler)
    }

    fn add<R: IntoResponse>(
        &mut self,
        method: Option<Method>,
        path: &str,
        handler: impl Fn(Request) -> R + 'static,
    ) {
        let segments = split(path)
            .map(|segment| {
                if let Some(name) = segment.strip_prefix(':') {
                    Segment::Param(name.to_owned())
                } else if let Some(name) = segment.strip_prefix('*') {
                    Segment::Rest(name.to_owned())
                } else {
                    Segment::Literal(segment.to_owned())
                }
            })
            .collect();
        self.routes.push(Route {
            method,
            segments,
            handler: Box::new(move |request| handler(request).into_response()),
        });
    }

    /// Answers `request` with the first matching route.
    pub fn handle(&self, mut request: Request) -> Response {
        let mut allowed: Vec<&str> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.matches(request.path()) else {
                continue;
            };
            let method_matches = match &route.method {
                None => true,
                Some(Method::Get) => matches!(request.method(), Method::Get | Method::Head),
                Some(method) => method == request.method(),
            };
            if method_matches {
                request.set_params(params);
                return (route.handler)(request);
            }
            let methods: &[&str] = match &route.method {
                None => &[],
                Some(Method::Get) => &["GET", "HEAD"],
                Some(method) => &[method.as_str()],
            };
            for method in methods {
                if !allowed.contains(method) {
                    allowed.push(method);
                }
            }
        }
        if allowed.is_empty() {
            Response::new(404)
                .with_header("content-type", "text/plain; charset=utf-8")
                .with_body(format!("no route for {}\n", request.path()))
        } else {
            Response::new(405)
                .with_header("allow", allowed.join(", "))
                .with_header("content-type", "text/plain; charset=utf-8")
                .with_body(format!(
                    "{} takes {}, not {}\n",
                    request.path(),
                    allowed.join(", "),
                    request.method()
                ))
        }
    }
}

impl Route {
    /// The captures if `path` matches this route.
    fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        let mut parts = split(path);
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Rest(name) if i + 1 == self.segments.len() => {
                    let rest: Vec<String> = parts.by_ref().map(decode_segment).collect();
                    params.push((name.clone(), rest.join("/")));
                    return Some(params);
                }
                Segment::Rest(_) => return None,
                Segment::Literal(literal) => {
                    if parts.next()? != literal {
                        return None;
                    }
                }
                Segment::Param(name) => params.push((name.clone(), decode_segment(parts.next()?))),
            }
        }
        parts.next().is_none().then_some(params)
    }
}

/// A path segment with its `%XX` escapes decoded (`+` stays a `+` in paths).
fn decode_segment(segment: &str) -> String {
    crate::request::percent_decode(&segment.replace('+', "%2B"))
}

/// The non-empty segments of a path.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}
