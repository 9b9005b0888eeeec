//! The servers sharing this registry, as the admin API sees them: which
//! are live, and the guest output they keep, fetched from their admin APIs
//! with the cluster's admin token and merged with this server's.

use crate::api::{LogLine, NodeInfo};
use crate::views::rfc3339;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::time::{Duration, SystemTime};
use wharf_registry::NodeRecord;

/// How long a server may be silent before it is shown as gone, unless
/// `--node-timeout` says otherwise.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call to another server may take to answer.
const PEER_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// This server's place among the servers sharing its registry.
pub struct ClusterConfig {
    /// This server's node id.
    pub node_id: String,
    /// How long a server may be silent before it is shown as gone.
    pub node_timeout: Duration,
    /// The admin token, sent to the other servers' admin APIs. The servers
    /// of a cluster share it.
    pub peer_token: String,
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
        let http = reqwest::Client::builder()
            .connect_timeout(PEER_ANSWER_TIMEOUT)
            .build()
            .expect("an HTTP client with default TLS settings");
        Self { config, http }
    }

    /// Whether a server last seen at `last_seen` counts as gone.
    pub(crate) fn is_gone(&self, last_seen: SystemTime) -> bool {
        SystemTime::now()
            .duration_since(last_seen)
            .is_ok_and(|silent| silent > self.config.node_timeout)
    }

    /// `node` as an API body.
    pub(crate) fn node_info(&self, node: &NodeRecord) -> NodeInfo {
        let silent = SystemTime::now()
            .duration_since(node.last_seen)
            .unwrap_or_default();
        NodeInfo {
            id: node.id.clone(),
            version: node.version.clone(),
            engine_tag: node.engine_tag.clone(),
            public_url: node.public_url.clone(),
            admin_url: node.admin_url.clone(),
            started_at: rfc3339(node.started_at),
            last_seen: rfc3339(node.last_seen),
            seconds_since_seen: silent.as_secs_f64(),
            state: if self.is_gone(node.last_seen) {
                "gone"
            } else {
                "live"
            }
            .to_owned(),
            requests_per_second: node.requests_per_second,
            instances_in_use: node.instances_in_use,
            instance_slots: node.instance_slots,
            this_server: node.id == self.config.node_id,
        }
    }

    /// The log lines `node` keeps for `app`, fetched from its admin API
    /// with `query` (and `local=true`, so it asks no one else), each tagged
    /// with the node. A server that cannot be reached says so in one line
    /// of its own: `{"node": ID, "unreachable": WHY}`.
    pub(crate) fn peer_logs(
        &self,
        node: &NodeRecord,
        app: &str,
        query: &[(&str, String)],
    ) -> Lines {
        let id = node.id.clone();
        let request = url::Url::parse(&node.admin_url)
            .map_err(|e| format!("its admin URL `{}` is not a URL: {e}", node.admin_url))
            .and_then(|mut url| {
                url.path_segments_mut()
                    .map_err(|()| format!("its admin URL `{}` cannot have a path", node.admin_url))?
                    .pop_if_empty()
                    .extend(["v1", "apps", app, "logs"]);
                Ok(self
                    .http
                    .get(url)
                    .query(query)
                    .query(&[("local", "true")])
                    .bearer_auth(&self.config.peer_token))
            });
        let lines = async move {
            let response = async {
                let response = request?.send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                if !status.is_success() {
                    let text = response.text().await.unwrap_or_default();
                    return Err(format!("it answered {status}: {text}"));
                }
                Ok(response)
            };
            match tokio::time::timeout(PEER_ANSWER_TIMEOUT, response).await {
                Ok(Ok(response)) => {
                    let id = id.clone();
                    split_lines(response.bytes_stream())
                        .map(move |line| tag_with_node(line, &id))
                        .boxed()
                }
                Ok(Err(why)) => unreachable_line(&id, &why),
                Err(_) => unreachable_line(&id, "it did not answer within 5 s"),
            }
        };
        futures::stream::once(lines).flatten().boxed()
    }
}

/// One line saying that `node` could not be asked, and why.
fn unreachable_line(node: &str, why: &str) -> Lines {
    let line = serde_json::json!({ "node": node, "unreachable": why });
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    futures::stream::once(async move { Bytes::from(bytes) }).boxed()
}

/// The NDJSON `line` with its `node` set to `node`, if it is a log line;
/// other lines (a note of missed lines) pass as they are.
pub(crate) fn tag_with_node(line: Bytes, node: &str) -> Bytes {
    match serde_json::from_slice::<LogLine>(&line) {
        Ok(mut log_line) => {
            log_line.node = Some(node.to_owned());
            let mut bytes = serde_json::to_vec(&log_line).expect("a log line serializes");
            bytes.push(b'\n');
            Bytes::from(bytes)
        }
        Err(_) => line,
    }
}

/// A body's chunks cut into lines, each with its `\n`; a failure of the
/// body ends the lines (with what came whole before it).
fn split_lines<E: Send + 'static>(
    chunks: impl Stream<Item = Result<Bytes, E>> + Send + 'static,
) -> Lines {
    futures::stream::unfold(
        (
            Box::pin(chunks),
            Vec::new(),
            std::collections::VecDeque::new(),
        ),
        |(mut chunks, mut pending, mut ready)| async move {
            loop {
                if let Some(line) = ready.pop_front() {
                    return Some((line, (chunks, pending, ready)));
                }
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        pending.extend_from_slice(&chunk);
                        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = pending.drain(..=end).collect();
                            ready.push_back(Bytes::from(line));
                        }
                    }
                    Some(Err(_)) | None => return None,
                }
            }
        },
    )
    .boxed()
}
