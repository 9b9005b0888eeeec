//! An app's recent guest output and numbers on this server.

use crate::api::{AppStatsBody, LogLine};
use crate::error::ApiError;
use crate::extract::AppParam;
use crate::state::Admin;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::header;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// What `GET /v1/apps/{app}/logs` was asked for.
struct LogsQuery {
    /// Only lines printed within this long.
    since: Option<Duration>,
    /// Keep streaming new lines.
    follow: bool,
}

impl LogsQuery {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut parsed = Self {
            since: None,
            follow: false,
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*name {
                "since" => {
                    parsed.since = Some(humantime::parse_duration(&value).map_err(|e| {
                        ApiError::bad_request(format!(
                            "since=`{value}` is not a duration like 30s, 5m or 1h: {e}"
                        ))
                    })?);
                }
                "follow" => {
                    parsed.follow = value.parse().map_err(|_| {
                        ApiError::bad_request(format!("follow=`{value}` is not true or false"))
                    })?;
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter `{other}`; this endpoint takes `since` and `follow`"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

/// `GET /v1/apps/{app}/logs`: the app's guest output this server keeps,
/// oldest first, one JSON object ([`LogLine`]) per line; with
/// `follow=true`, then each new line as it is printed, until the client
/// goes away.
pub(crate) async fn logs(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = LogsQuery::parse(query.as_deref())?;
    // An unknown app is a 404, not an empty log.
    admin.registry.app(&app).await?;
    let since_ms = query.since.map_or(0, |since| {
        let from = SystemTime::now().checked_sub(since).unwrap_or(UNIX_EPOCH);
        from.duration_since(UNIX_EPOCH)
            .map_or(0, |at| u64::try_from(at.as_millis()).unwrap_or(u64::MAX))
    });
    let (kept, live) = match admin.router.telemetry(&app) {
        // Subscribed first, so nothing printed while the kept lines are
        // read falls in between; what both have is sent once.
        Some(telemetry) => {
            let live = query.follow.then(|| telemetry.logs().follow());
            (telemetry.logs().since(since_ms), live)
        }
        None => (Vec::new(), None),
    };
    let newest_kept = kept.last().map_or(0, |line| line.time_ms);
    let at_newest: Vec<LogLine> = kept
        .iter()
        .filter(|line| line.time_ms == newest_kept)
        .cloned()
        .collect();
    let kept = futures::stream::iter(kept.into_iter().map(|line| Ok(ndjson(&line))));
    let lines = match live {
        None => kept.boxed(),
        Some(live) => {
            let fresh = move |line: &LogLine| {
                line.time_ms > newest_kept
                    || (line.time_ms == newest_kept && !at_newest.contains(line))
            };
            kept.chain(follow(live, fresh)).boxed()
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response())
}

/// New lines from `live` that pass `fresh`, as NDJSON. A client too slow
/// to keep up is told how many lines it missed.
fn follow(
    live: broadcast::Receiver<LogLine>,
    fresh: impl Fn(&LogLine) -> bool + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Send {
    futures::stream::unfold((live, fresh), |(mut live, fresh)| async move {
        loop {
            match live.recv().await {
                Ok(line) if fresh(&line) => return Some((Ok(ndjson(&line)), (live, fresh))),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let note = serde_json::json!({ "missed": missed });
                    let mut bytes = note.to_string().into_bytes();
                    bytes.push(b'\n');
                    return Some((Ok(Bytes::from(bytes)), (live, fresh)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

fn ndjson(line: &LogLine) -> Bytes {
    let mut bytes = serde_json::to_vec(line).expect("a log line serializes");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// `GET /v1/apps/{app}/stats`: the app's numbers on this server over the
/// last five minutes.
pub(crate) async fn stats(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
) -> Result<Json<AppStatsBody>, ApiError> {
    admin.registry.app(&app).await?;
    let stats = admin
        .router
        .telemetry(&app)
        .map(|telemetry| telemetry.stats())
        .unwrap_or_default();
    Ok(Json(AppStatsBody {
        app: app.to_string(),
        stats,
    }))
}
