//! Each app's recent guest output on this server, kept in a bounded
//! buffer for `wharf logs`, and handed to followers as it is printed.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;
use wharf_runtime::GuestLine;

/// Most lines kept per app.
pub const LOG_TAIL_LINES: usize = 1000;
/// Most bytes of text kept per app.
pub const LOG_TAIL_BYTES: usize = 1 << 20;
/// Lines a slow follower may fall behind before it misses some.
const FOLLOW_BACKLOG: usize = 1024;

/// One line a guest printed, as `GET /v1/apps/APP/logs` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When it was printed, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The app.
    pub app: String,
    /// The digest of the deployment that printed it, `sha256-<hex>`.
    pub digest: String,
    /// The request it was serving.
    pub request_id: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The line, without its ending.
    pub text: String,
    /// The server it was printed on, when it came from another server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// One app's recent guest output.
pub struct LogTail {
    app: String,
    kept: Mutex<Kept>,
    live: broadcast::Sender<LogLine>,
}

#[derive(Default)]
struct Kept {
    lines: VecDeque<LogLine>,
    bytes: usize,
}

impl LogTail {
    /// An empty tail for `app`.
    pub fn new(app: &str) -> Self {
        Self {
            app: app.to_owned(),
            kept: Mutex::default(),
            live: broadcast::channel(FOLLOW_BACKLOG).0,
        }
    }

    /// Keeps `line`, dropping the oldest past [`LOG_TAIL_LINES`] or
    /// [`LOG_TAIL_BYTES`], and hands it to followers.
    pub fn push(&self, line: GuestLine<'_>) {
        let line = LogLine {
            time_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
                }),
            app: self.app.clone(),
            digest: line.digest.to_owned(),
            request_id: line.request_id.to_string(),
            stream: line.stream.to_owned(),
            text: line.text.to_owned(),
            node: None,
        };
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(line.clone());
        }
        let mut kept = self.kept.lock().expect("log tail lock");
        kept.bytes += line.text.len();
        kept.lines.push_back(line);
        while kept.lines.len() > LOG_TAIL_LINES || kept.bytes > LOG_TAIL_BYTES {
            let Some(oldest) = kept.lines.pop_front() else {
                break;
            };
            kept.bytes -= oldest.text.len();
        }
    }

    /// The kept lines printed at or after `since_ms`, oldest first.
    pub fn since(&self, since_ms: u64) -> Vec<LogLine> {
        let kept = self.kept.lock().expect("log tail lock");
        kept.lines
            .iter()
            .filter(|line| line.time_ms >= since_ms)
            .cloned()
            .collect()
    }

    /// Lines as they are printed from now on.
    pub fn follow(&self) -> broadcast::Receiver<LogLine> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_runtime::RequestId;

    fn line(text: &str) -> GuestLine<'_> {
        GuestLine {
            request_id: RequestId::new(),
            digest: "sha256-00",
            stream: "stdout",
            text,
        }
    }

    #[test]
    fn the_tail_keeps_the_newest_lines_within_its_limits() {
        let tail = LogTail::new("app");
        for i in 0..LOG_TAIL_LINES + 10 {
            tail.push(line(&i.to_string()));
        }
        let kept = tail.since(0);
        assert_eq!(kept.len(), LOG_TAIL_LINES);
        assert_eq!(kept[0].text, "10");
        let long = "x".repeat(LOG_TAIL_BYTES / 2);
        tail.push(line(&long));
        tail.push(line(&long));
        let kept = tail.since(0);
        let bytes: usize = kept.iter().map(|line| line.text.len()).sum();
        assert!(bytes <= LOG_TAIL_BYTES, "{bytes}");
        assert_eq!(kept.last().map(|line| line.text.len()), Some(long.len()));
    }

    #[tokio::test]
    async fn followers_get_lines_as_they_are_printed() {
        let tail = LogTail::new("app");
        tail.push(line("before"));
        let mut follower = tail.follow();
        tail.push(line("after"));
        let got = follower.recv().await.expect("a line");
        assert_eq!((got.app.as_str(), got.text.as_str()), ("app", "after"));
    }
}
