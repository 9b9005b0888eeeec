//! What the servers tell about apps and themselves: an app's guest output
//! (from every live server), its numbers on this server, and the servers
//! sharing the registry.

use crate::api::{AppStatsBody, LogLine, NodeList};
use crate::cluster::{Lines, NODE_HEADER, ndjson, tag_with_node};
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
use wharf_registry::{AppName, NodeRecord};
use wharf_server::observe::NumberedLine;

/// What `GET /v1/apps/{app}/logs` was asked for.
struct LogsQuery {
    /// Only lines printed within this long, as given and as read.
    since: Option<(String, Duration)>,
    /// Keep streaming new lines.
    follow: bool,
    /// Only this server's lines: how servers ask each other.
    local: bool,
}

impl LogsQuery {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut parsed = Self {
            since: None,
            follow: false,
            local: false,
        };
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*name {
                "since" => {
                    let since = humantime::parse_duration(&value).map_err(|e| {
                        ApiError::bad_request(format!(
                            "since=`{value}` is not a duration like 30s, 5m or 1h: {e}"
                        ))
                    })?;
                    parsed.since = Some((value.into_owned(), since));
                }
                "follow" => parsed.follow = parse_bool(&name, &value)?,
                "local" => parsed.local = parse_bool(&name, &value)?,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter `{other}`; this endpoint takes `since`, `follow` and \
                         `local`"
                    )));
                }
            }
        }
        Ok(parsed)
    }

    /// The query to ask another server with.
    fn forwarded(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("follow", self.follow.to_string())];
        if let Some((text, _)) = &self.since {
            query.push(("since", text.clone()));
        }
        query
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{name}=`{value}` is not true or false")))
}

/// `GET /v1/apps/{app}/logs`: the app's guest output, oldest first, one
/// JSON object ([`LogLine`]) per line, from this server and every other
/// live server sharing the registry (each line then names its node); with
/// `follow=true`, then each new line as it is printed, merged as the
/// servers send them, until the client goes away. `local=true` asks this
/// server alone.
pub(crate) async fn logs(
    State(admin): State<Arc<Admin>>,
    AppParam(app): AppParam,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = LogsQuery::parse(query.as_deref())?;
    // An unknown app is a 404, not an empty log.
    admin.registry.app(&app).await?;
    let here = local_lines(&admin, &app, &query);
    let peers = if query.local {
        Vec::new()
    } else {
        other_live_nodes(&admin).await
    };
    let me = admin.cluster.config.node_id.clone();
    if peers.is_empty() {
        return Ok(ndjson_response(&me, until_drained(&admin, here)));
    }
    let tagged = {
        let me = me.clone();
        here.filter_map(move |line| futures::future::ready(tag_with_node(&line, &me)))
    };
    let mut sources = vec![tagged.boxed()];
    let forwarded = query.forwarded();
    let credential = admin.token.peer_credential();
    sources.extend(peers.iter().map(|node| {
        admin
            .cluster
            .peer_logs(node, app.as_str(), &forwarded, credential, query.follow)
    }));
    let merged = futures::stream::select_all(sources);
    if query.follow {
        return Ok(ndjson_response(&me, until_drained(&admin, merged.boxed())));
    }
    let mut lines: Vec<Bytes> = merged.collect().await;
    // Notes about servers first, then the lines of all, by time.
    lines.sort_by_key(|line| serde_json::from_slice::<LogLine>(line).map_or(0, |l| l.time_ms));
    Ok(ndjson_response(&me, futures::stream::iter(lines).boxed()))
}

/// The other servers sharing the registry that are not gone. A registry
/// that cannot say leaves this server on its own, with a warning.
async fn other_live_nodes(admin: &Admin) -> Vec<NodeRecord> {
    match admin.registry.nodes().await {
        Ok(nodes) => nodes
            .into_iter()
            .filter(|node| node.id != admin.cluster.config.node_id && !admin.cluster.is_gone(node))
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list the other servers, so only this one's logs are sent: {e}");
            Vec::new()
        }
    }
}

/// `lines`, ended when the server starts shutting down, so that a followed
/// log does not hold the admin listener open through its grace period.
fn until_drained(admin: &Admin, lines: Lines) -> Lines {
    let health = admin.router.health().clone();
    lines
        .take_until(async move { health.drained().await })
        .boxed()
}

/// `lines` as an NDJSON answer from the node `me`.
fn ndjson_response(me: &str, lines: Lines) -> Response {
    let node = http::HeaderValue::from_str(me).unwrap_or(http::HeaderValue::from_static(""));
    (
        [
            (
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-ndjson"),
            ),
            (http::HeaderName::from_static(NODE_HEADER), node),
        ],
        Body::from_stream(lines.map(Ok::<_, Infallible>)),
    )
        .into_response()
}

/// This server's lines for `app`: those kept, then (following) new ones.
fn local_lines(admin: &Admin, app: &AppName, query: &LogsQuery) -> Lines {
    let since_ms = query.since.as_ref().map_or(0, |(_, since)| {
        let from = SystemTime::now().checked_sub(*since).unwrap_or(UNIX_EPOCH);
        from.duration_since(UNIX_EPOCH)
            .map_or(0, |at| u64::try_from(at.as_millis()).unwrap_or(u64::MAX))
    });
    let (kept, live) = match admin.router.telemetry(app) {
        Some(telemetry) if query.follow => {
            let (kept, live) = telemetry.logs().follow(since_ms);
            (kept, Some(live))
        }
        Some(telemetry) => (telemetry.logs().since(since_ms), None),
        None => (Vec::new(), None),
    };
    let app = app.to_string();
    let lines: Vec<Bytes> = kept
        .iter()
        .map(|numbered| ndjson(&numbered.to_line(&app)))
        .collect();
    let kept = futures::stream::iter(lines);
    match live {
        None => kept.boxed(),
        Some(live) => kept.chain(follow(live, app)).boxed(),
    }
}

/// New lines from `live`, as NDJSON. A client too slow to keep up is told
/// how many lines it missed.
fn follow(
    live: broadcast::Receiver<NumberedLine>,
    app: String,
) -> impl futures::Stream<Item = Bytes> + Send {
    futures::stream::unfold((live, app), |(mut live, app)| async move {
        match live.recv().await {
            Ok(numbered) => Some((ndjson(&numbered.to_line(&app)), (live, app))),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let note = ndjson(&serde_json::json!({ "missed": missed }));
                Some((note, (live, app)))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// `GET /v1/nodes`: every server sharing the registry, live or gone.
pub(crate) async fn nodes(State(admin): State<Arc<Admin>>) -> Result<Json<NodeList>, ApiError> {
    let nodes = admin.registry.nodes().await?;
    Ok(Json(NodeList {
        nodes: nodes
            .iter()
            .map(|node| admin.cluster.node_info(node))
            .collect(),
        node_timeout_seconds: admin.cluster.config.node_timeout.as_secs_f64(),
    }))
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

#[cfg(test)]
mod tests {
    use super::LogsQuery;

    #[test]
    fn the_logs_query_is_read_and_bad_values_are_named() {
        let query = LogsQuery::parse(Some("since=5m&follow=true")).expect("a good query");
        assert!(query.follow && !query.local);
        assert_eq!(
            query.since.map(|(text, since)| (text, since.as_secs())),
            Some(("5m".into(), 300))
        );
        assert_eq!(
            LogsQuery::parse(None).expect("no query").forwarded(),
            [("follow", "false".to_owned())]
        );
        for (bad, named) in [
            ("since=soon", "since"),
            ("follow=yes", "follow"),
            ("tail=5", "tail"),
        ] {
            let error = LogsQuery::parse(Some(bad)).err().expect("refused");
            assert!(error.message.contains(named), "{bad}: {}", error.message);
        }
    }
}
