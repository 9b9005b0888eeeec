//! Liveness and readiness, for load balancers and orchestrators.
//!
//! Live means the process answers. Ready means it should be sent traffic:
//! its routes came from the registry, the registry answered within
//! [`Health::registry_silence`], and it is not draining. On shutdown a
//! server turns not-ready first and keeps serving for the drain delay, so
//! a load balancer stops sending before connections close.

use crate::error_response::text_response;
use http::{Method, Response, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use wharf_runtime::GuestBody;

/// The paths every Host answers on the public listener, before any app.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/wharf/";

/// The least time the registry may be silent before a server is not
/// ready; a longer poll interval stretches it to three intervals.
pub const REGISTRY_SILENCE: Duration = Duration::from_secs(10);

/// Why a server is not ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// It is shutting down.
    #[error("draining: the server is shutting down")]
    Draining,
    /// Its routes have not been checked against the registry lately.
    #[error("the registry has not answered for {0:?}")]
    RegistrySilent(Duration),
}

/// A server's health, shared by its listeners.
pub struct Health {
    started: Instant,
    draining: watch::Sender<bool>,
    /// Milliseconds after `started` the routes were last found current;
    /// `None` for a server without a registry (`wharf run`).
    checked_at_ms: Option<AtomicU64>,
    registry_silence: Duration,
}

impl Health {
    /// A server whose routes come from a registry polled every
    /// `poll_interval`, found current just now.
    pub fn with_registry(poll_interval: Duration) -> Self {
        Self {
            started: Instant::now(),
            draining: watch::Sender::new(false),
            checked_at_ms: Some(AtomicU64::new(0)),
            registry_silence: REGISTRY_SILENCE.max(poll_interval * 3),
        }
    }

    /// A server with no registry: ready until it drains.
    pub fn standalone() -> Self {
        Self {
            started: Instant::now(),
            draining: watch::Sender::new(false),
            checked_at_ms: None,
            registry_silence: REGISTRY_SILENCE,
        }
    }

    /// How long the registry may stay silent before the server is not ready.
    pub fn registry_silence(&self) -> Duration {
        self.registry_silence
    }

    /// Notes that the routes were just found current with the registry.
    pub fn registry_checked(&self) {
        if let Some(at) = &self.checked_at_ms {
            let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            at.store(now, Ordering::Relaxed);
        }
    }

    /// How long since the routes were last found current, if the server
    /// has a registry.
    pub fn since_registry_checked(&self) -> Option<Duration> {
        let at = Duration::from_millis(self.checked_at_ms.as_ref()?.load(Ordering::Relaxed));
        Some(self.started.elapsed().saturating_sub(at))
    }

    /// Turns the server not-ready for good: it is shutting down.
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Resolves once the server is shutting down: what never ends by
    /// itself (a followed log) ends then.
    pub async fn drained(&self) {
        let _ = self
            .draining
            .subscribe()
            .wait_for(|draining| *draining)
            .await;
    }

    /// Whether the server should be sent traffic, and if not, why.
    pub fn ready(&self) -> Result<(), NotReady> {
        if *self.draining.borrow() {
            return Err(NotReady::Draining);
        }
        match self.since_registry_checked() {
            Some(silent) if silent > self.registry_silence => Err(NotReady::RegistrySilent(silent)),
            _ => Ok(()),
        }
    }

    /// The answer to a liveness probe.
    pub fn live_response(&self) -> Response<GuestBody> {
        text_response(StatusCode::OK, "live\n".to_owned())
    }

    /// The answer to a readiness probe: 200, or 503 with the reason.
    pub fn ready_response(&self) -> Response<GuestBody> {
        match self.ready() {
            Ok(()) => text_response(StatusCode::OK, "ready\n".to_owned()),
            Err(why) => text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        }
    }

    /// The answer to a request for one of the reserved
    /// [`WELL_KNOWN_PREFIX`] paths, or `None` for any other path.
    pub fn well_known<B>(&self, request: &http::Request<B>) -> Option<Response<GuestBody>> {
        let name = request.uri().path().strip_prefix(WELL_KNOWN_PREFIX)?;
        let response = match (request.method(), name) {
            (&Method::GET | &Method::HEAD, "live") => self.live_response(),
            (&Method::GET | &Method::HEAD, "ready") => self.ready_response(),
            (_, "live" | "ready") => text_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET or HEAD\n".to_owned(),
            ),
            _ => text_response(
                StatusCode::NOT_FOUND,
                format!(
                    "{WELL_KNOWN_PREFIX} is reserved by wharf; it has `live` and `ready`, and \
                     `preview` on preview hosts\n"
                ),
            ),
        };
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draining_server_is_not_ready_but_live() {
        let health = Health::standalone();
        assert_eq!(health.ready(), Ok(()));
        health.drain();
        assert_eq!(health.ready(), Err(NotReady::Draining));
        let request = http::Request::get("/.well-known/wharf/live")
            .body(())
            .expect("a request");
        let live = health.well_known(&request).expect("reserved");
        assert_eq!(live.status(), StatusCode::OK);
        let request = http::Request::get("/.well-known/wharf/ready")
            .body(())
            .expect("a request");
        let ready = health.well_known(&request).expect("reserved");
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        let request = http::Request::get("/elsewhere")
            .body(())
            .expect("a request");
        assert!(health.well_known(&request).is_none());
    }

    #[test]
    fn a_silent_registry_makes_the_server_not_ready() {
        let health = Health {
            registry_silence: Duration::ZERO,
            ..Health::with_registry(Duration::from_millis(1))
        };
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(health.ready(), Err(NotReady::RegistrySilent(_))));
        let health = Health::with_registry(Duration::from_millis(1));
        health.registry_checked();
        assert_eq!(health.ready(), Ok(()));
    }
}
