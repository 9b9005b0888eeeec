//! Process signals that ask the server to stop, and the order it stops in.

use crate::observe::Health;
use std::time::Duration;

/// Resolves on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}; stop wharf with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
}

/// Resolves when the listeners should stop accepting: on SIGINT or
/// SIGTERM the server turns not-ready at once, then keeps serving for
/// `drain_delay`, so load balancers that probe readiness stop sending it
/// traffic before its connections close. A second signal ends the delay.
pub async fn stop_after_drain_delay(health: &Health, drain_delay: Duration) {
    shutdown_signal().await;
    health.drain();
    if drain_delay.is_zero() {
        return;
    }
    tracing::info!("not ready; serving on for {drain_delay:?} (--drain-delay) before draining");
    tokio::select! {
        () = tokio::time::sleep(drain_delay) => {}
        () = shutdown_signal() => tracing::info!("stopping without waiting out the drain delay"),
    }
}
