//! Why a request found nothing to run, and the answer each reason gets.

use super::AppRouter;
use crate::components::FetchError;
use crate::error_response::text_response;
use crate::observe::metrics::Refusal;
use crate::previews::{PREVIEW_TOKEN_HEADER, Refused};
use http::{Response, StatusCode};
use std::sync::Arc;
use wharf_registry::AppName;
use wharf_runtime::{GuestBody, RequestId};
use wharf_store::StoreError;

/// Why a request found no component to run.
pub(super) enum Unroutable {
    NoRoute(String),
    BadName(String),
    UnknownApp(AppName),
    NotLive(AppName),
    UnknownPreview(AppName, String),
    PreviewsOff(AppName),
    Disabled(AppName, String),
    PreviewRefused(AppName, Refused),
    Fetch(String, Arc<FetchError>),
}

impl AppRouter {
    pub(super) fn unroutable_response(
        &self,
        why: Unroutable,
        request_id: RequestId,
    ) -> Response<GuestBody> {
        let domain = &self.config.domain;
        match why {
            Unroutable::Fetch(..) => Refusal::Unavailable.count(),
            _ => Refusal::NoSuchApp.count(),
        }
        let (status, message) = match why {
            // End users read these: what is missing, not what an operator
            // would run. The log says that.
            Unroutable::NoRoute(host) => {
                tracing::info!(
                    %request_id,
                    host,
                    "no route: apps answer at <app>.{domain} or at hostnames set with \
                     `wharf hostnames`"
                );
                (StatusCode::NOT_FOUND, format!("no app answers at `{host}`"))
            }
            Unroutable::BadName(label) => (
                StatusCode::NOT_FOUND,
                format!("no app answers at `{label}.{domain}`"),
            ),
            Unroutable::UnknownApp(app) => {
                tracing::info!(%request_id, %app, "no such app; `wharf deploy FILE --app {app}` makes it");
                (
                    StatusCode::NOT_FOUND,
                    format!("no app named `{app}` is deployed here"),
                )
            }
            Unroutable::NotLive(app) => {
                tracing::info!(%request_id, %app, "nothing live; `wharf promote {app} DIGEST` puts a preview live");
                (
                    StatusCode::NOT_FOUND,
                    format!("app `{app}` has nothing live yet"),
                )
            }
            Unroutable::UnknownPreview(app, prefix) => {
                tracing::info!(%request_id, %app, prefix, "no such preview; `wharf history {app}` lists them");
                (
                    StatusCode::NOT_FOUND,
                    format!("app `{app}` has no deployment whose digest starts with `{prefix}`"),
                )
            }
            Unroutable::PreviewsOff(app) => (
                StatusCode::NOT_FOUND,
                format!(
                    "app `{app}` has previews turned off; `wharf settings {app} --previews token` \
                     turns them on"
                ),
            ),
            Unroutable::Disabled(app, prefix) => (
                StatusCode::GONE,
                format!(
                    "app `{app}`'s deployment {prefix}... is disabled; `wharf deployments enable \
                     {app} DIGEST` enables it again"
                ),
            ),
            Unroutable::PreviewRefused(app, Refused::NoCredential) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "this preview of app `{app}` needs a token: open the preview link `wharf \
                     deploy --preview` printed (or `wharf deployments link {app} DIGEST` makes), \
                     or send a token that may read the app in the {PREVIEW_TOKEN_HEADER} header"
                ),
            ),
            Unroutable::PreviewRefused(app, Refused::WrongToken) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "the {PREVIEW_TOKEN_HEADER} header holds no token that may read app `{app}` \
                     (wrong, expired, revoked, or for other apps)"
                ),
            ),
            Unroutable::PreviewRefused(app, Refused::Registry(e)) => {
                tracing::warn!(%request_id, %app, "cannot check a preview token: {e}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the registry is unavailable, so the preview token cannot be checked; try \
                     again shortly"
                        .to_owned(),
                )
            }
            Unroutable::Fetch(app, e) => {
                tracing::error!(%request_id, %app, "cannot load the app's component: {e}");
                let status = match *e {
                    FetchError::Store(StoreError::ObjectStore { .. }) => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                let detail = match *e {
                    FetchError::Store(StoreError::Corrupt { .. }) => {
                        "its stored component failed verification and was not run"
                    }
                    FetchError::Store(StoreError::NotFound { .. }) => {
                        "its stored component is missing"
                    }
                    FetchError::Store(_) => "the component store is unavailable",
                    FetchError::Load(_) | FetchError::TaskStopped(_) => {
                        "its component does not load"
                    }
                };
                (status, format!("app `{app}` is unavailable: {detail}"))
            }
        };
        text_response(status, format!("{message} (request id {request_id})\n"))
    }
}
