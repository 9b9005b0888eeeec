//! The servers sharing this registry, as the admin API sees them: which
//! are live, and the guest output they keep, fetched from their admin APIs
//! with the peer credential (see [`AdminToken`](crate::AdminToken)) and
//! merged with this server's.

use crate::api::{LogLine, NodeInfo};
use crate::views::rfc3339;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::time::Duration;
use wharf_registry::NodeRecord;

/// How long a server may be silent before it is shown as gone, unless
/// `--node-timeout` says otherwise.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call to another server may take to answer, and (when not
/// following) to send its next bytes.
const PEER_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest line taken from another server.
const MAX_PEER_LINE: usize = 256 * 1024;

/// The response header naming the node that answered a log request.
pub(crate) const NODE_HEADER: &str = "wharf-node";

/// This server's place among the servers sharing its registry.
pub struct ClusterConfig {
    /// This server's node id.
    pub node_id: String,
    /// How long a server may be silent before it is shown as gone.
    pub node_timeout: Duration,
}

/// A stream of NDJSON lines, each ending in `\n`.
pub(crate) type Lines = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// The cluster as the admin API works with it.
pub(crate) struct Cluster {
    pub(crate) config: ClusterConfig,
    http: reqwest::Client,
}

impl Cluster {
    pub(crate) fn new(config: ClusterConfig) -> Self {
        // No redirects: a server is asked at the URL it advertised, or not.
        let http = reqwest::Client::builder()
            .connect_timeout(PEER_ANSWER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS settings");
        Self { config, http }
    }

    /// Whether `node` has been silent long enough to count as gone.
    pub(crate) fn is_gone(&self, node: &NodeRecord) -> bool {
        node.silent_for > self.config.node_timeout
    }

    /// `node` as an API body.
    pub(crate) fn node_info(&self, node: &NodeRecord) -> NodeInfo {
        NodeInfo {
            id: node.id.clone(),
            version: node.version.clone(),
            engine_tag: node.engine_tag.clone(),
            public_url: node.public_url.clone(),
            admin_url: node.admin_url.clone(),
            started_at: rfc3339(node.started_at),
            last_seen: rfc3339(node.last_seen),
            seconds_since_seen: node.silent_for.as_secs_f64(),
            state: if self.is_gone(node) { "gone" } else { "live" }.to_owned(),
            requests_per_second: node.requests_per_second,
            instances_in_use: node.instances_in_use,
            instance_slots: node.instance_slots,
            this_server: node.id == self.config.node_id,
        }
    }

    /// The log lines `node` keeps for `app`, fetched from its admin API
    /// with `query` (and `local=true`, so it asks no one else) and the peer
    /// credential, each tagged with the node. Only log lines and notes of
    /// missed lines pass. A server that cannot be asked, that answers as
    /// another node, or (unless `following`) falls silent mid-answer, says
    /// so in one line of its own: `{"node": ID, "unreachable": WHY}`.
    pub(crate) fn peer_logs(
        &self,
        node: &NodeRecord,
        app: &str,
        query: &[(&str, String)],
        peer_credential: &str,
        following: bool,
    ) -> Lines {
        let id = node.id.clone();
        let request = peer_url(&node.admin_url, app).map(|url| {
            self.http
                .get(url)
                .query(query)
                .query(&[("local", "true")])
                .bearer_auth(peer_credential)
        });
        let lines = async move {
            let response = async {
                let response = request?.send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                if !status.is_success() {
                    return Err(format!("it answered {status}"));
                }
                let answered_as = response
                    .headers()
                    .get(NODE_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if answered_as != id {
                    return Err(format!(
                        "its admin URL answers as node `{answered_as}`; give each server an \
                         --advertise-admin-url the others can reach"
                    ));
                }
                Ok(response)
            };
            match tokio::time::timeout(PEER_ANSWER_TIMEOUT, response).await {
                Ok(Ok(response)) => {
                    let idle = (!following).then_some(PEER_ANSWER_TIMEOUT);
                    peer_lines(response.bytes_stream(), id, idle)
                }
                Ok(Err(why)) => unreachable_line(&id, &why),
                Err(_) => unreachable_line(&id, "it did not answer within 5 s"),
            }
        };
        futures::stream::once(lines).flatten().boxed()
    }
}

/// `GET {admin_url}/v1/apps/{app}/logs`, for an admin URL that is http or
/// https.
fn peer_url(admin_url: &str, app: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(admin_url)
        .map_err(|e| format!("its admin URL `{admin_url}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("its admin URL `{admin_url}` is not http or https"));
    }
    url.path_segments_mut()
        .map_err(|()| format!("its admin URL `{admin_url}` cannot have a path"))?
        .pop_if_empty()
        .extend(["v1", "apps", app, "logs"]);
    Ok(url)
}

/// One line saying that `node` could not be asked, and why.
fn unreachable_line(node: &str, why: &str) -> Lines {
    let line = unreachable_bytes(node, why);
    futures::stream::once(async move { line }).boxed()
}

fn unreachable_bytes(node: &str, why: &str) -> Bytes {
    ndjson(&serde_json::json!({ "node": node, "unreachable": why }))
}

/// `value` as one NDJSON line.
pub(crate) fn ndjson(value: &impl serde::Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).expect("a JSON value serializes");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The NDJSON `line` with its `node` set to `node`: a log line, or a note
/// of missed lines; anything else is dropped.
pub(crate) fn tag_with_node(line: &[u8], node: &str) -> Option<Bytes> {
    if let Ok(mut log_line) = serde_json::from_slice::<LogLine>(line) {
        log_line.node = Some(node.to_owned());
        return Some(ndjson(&log_line));
    }
    let missed = serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("missed")?
        .as_u64()?;
    Some(ndjson(
        &serde_json::json!({ "missed": missed, "node": node }),
    ))
}

/// A peer's answer cut into lines and tagged with its node `id`. A line
/// longer than [`MAX_PEER_LINE`], or a silence longer than `idle` (when
/// given), ends it with a line saying so; a failed body just ends it.
fn peer_lines<E: Send + 'static>(
    chunks: impl Stream<Item = Result<Bytes, E>> + Send + 'static,
    id: String,
    idle: Option<Duration>,
) -> Lines {
    struct Reading<S> {
        chunks: Pin<Box<S>>,
        pending: Vec<u8>,
        ready: std::collections::VecDeque<Bytes>,
        id: String,
        done: bool,
    }
    let reading = Reading {
        chunks: Box::pin(chunks),
        pending: Vec::new(),
        ready: std::collections::VecDeque::new(),
        id,
        done: false,
    };
    futures::stream::unfold(reading, move |mut r| async move {
        loop {
            if let Some(line) = r.ready.pop_front() {
                return Some((line, r));
            }
            if r.done {
                return None;
            }
            let next = match idle {
                Some(idle) => match tokio::time::timeout(idle, r.chunks.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        r.done = true;
                        r.ready
                            .push_back(unreachable_bytes(&r.id, "it stopped answering mid-stream"));
                        continue;
                    }
                },
                None => r.chunks.next().await,
            };
            let Some(Ok(chunk)) = next else {
                return None;
            };
            r.pending.extend_from_slice(&chunk);
            while let Some(end) = r.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = r.pending.drain(..=end).collect();
                if let Some(tagged) = tag_with_node(&line[..end], &r.id) {
                    r.ready.push_back(tagged);
                }
            }
            if r.pending.len() > MAX_PEER_LINE {
                r.done = true;
                let why = format!("it sent a line longer than {MAX_PEER_LINE} bytes");
                r.ready.push_back(unreachable_bytes(&r.id, &why));
            }
        }
    })
    .boxed()
}
