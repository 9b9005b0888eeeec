//! What a preview needs before it serves: the app's preview access, a
//! token or the cookie a one-time preview link sets, and that link itself.

use super::AppRouter;
use super::unroutable::Unroutable;
use crate::error_response::text_response;
use crate::listener::RequestBody;
use crate::previews::{PREVIEW_TOKEN_HEADER, grant_hash, strip_preview_credentials};
use crate::routes::{PREVIEW_SEPARATOR, Target};
use http::{HeaderValue, Request, Response, StatusCode, header};
use wharf_registry::AppName;
use wharf_runtime::GuestBody;
use wharf_runtime::authority::request_host;

/// What a resolved route still needs before it serves.
pub(super) enum Gate {
    /// Nothing: a live deployment.
    Open,
    /// Nothing but losing wharf's preview credentials: a public preview.
    PublicPreview,
    /// A token or a preview cookie for `label` (`app--hex`).
    PreviewToken { app: AppName, label: String },
}

impl AppRouter {
    /// Lets `request` through `gate`: a token-only preview needs a token
    /// that may read the app, or the cookie a preview link set. The
    /// preview token header is wharf's alone, on whichever host it
    /// arrives, and so is the cookie on a preview: no guest sees them.
    pub(super) async fn pass(
        &self,
        gate: Gate,
        request: &mut Request<RequestBody>,
    ) -> Result<(), Unroutable> {
        match gate {
            Gate::Open => {
                request.headers_mut().remove(PREVIEW_TOKEN_HEADER);
                Ok(())
            }
            Gate::PublicPreview => {
                strip_preview_credentials(request.headers_mut());
                Ok(())
            }
            Gate::PreviewToken { app, label } => {
                let admitted = self
                    .config
                    .previews
                    .admits(request.headers(), &self.registry, &app, &label)
                    .await;
                strip_preview_credentials(request.headers_mut());
                admitted.map_err(|refused| Unroutable::PreviewRefused(app, refused))
            }
        }
    }

    /// Opens a token-only preview for the browser that follows a one-time
    /// preview link: the grant in the query is used up, and the answer
    /// sets the preview's cookie and sends the browser to `/`.
    /// Whether `request`'s host names a preview.
    pub(super) fn is_preview_host(&self, request: &Request<RequestBody>) -> bool {
        let host = request_host(request.headers(), request.uri()).unwrap_or_default();
        let target =
            self.routes
                .load()
                .resolve(host, &self.config.domain, self.config.default_app.as_ref());
        matches!(target, Target::Preview { .. })
    }

    pub(super) async fn open_preview_link(
        &self,
        request: &Request<RequestBody>,
    ) -> Response<GuestBody> {
        let host = request_host(request.headers(), request.uri()).unwrap_or_default();
        let routes = self.routes.load();
        let target = routes.resolve(host, &self.config.domain, self.config.default_app.as_ref());
        let Target::Preview { app, digest_prefix } = target else {
            return text_response(
                StatusCode::NOT_FOUND,
                "preview links open on preview hosts, <app>--<12 hex digits>.<domain>\n".to_owned(),
            );
        };
        let grant = request.uri().query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("grant="))
        });
        let Some(grant) = grant.filter(|g| !g.is_empty()) else {
            return text_response(
                StatusCode::BAD_REQUEST,
                "a preview link carries ?grant=; open the whole link `wharf deploy --preview` \
                 printed\n"
                    .to_owned(),
            );
        };
        let used = self
            .registry
            .use_preview_grant(&grant_hash(grant), &app, &digest_prefix)
            .await;
        let opens_this = match used {
            Ok(used) => used,
            Err(e) => {
                tracing::warn!("cannot check a preview link: {e}");
                return text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the registry is unavailable; try the link again shortly\n".to_owned(),
                );
            }
        };
        if !opens_this {
            return text_response(
                StatusCode::FORBIDDEN,
                format!(
                    "this preview link was used already, has expired, or is for another \
                     preview; make a new one with `wharf deployments link {app} DIGEST`\n"
                ),
            );
        }
        let label = format!("{app}{PREVIEW_SEPARATOR}{digest_prefix}");
        let cookie = self
            .config
            .previews
            .cookie_for(&label, std::time::SystemTime::now());
        let mut response = text_response(StatusCode::SEE_OTHER, "opening the preview\n".to_owned());
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, HeaderValue::from_static("/"));
        headers.insert(header::SET_COOKIE, cookie);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        response
    }
}
