//! Each app's recent guest output on this server, kept in a bounded
//! buffer for `wharf logs`, and handed to followers as it is printed.
//!
//! Lines are numbered, and a line is numbered, kept and sent to followers
//! under one lock, under which a follower also subscribes and copies what
//! is kept: so a follower gets every line once, in order. The channel to
//! followers exists only while someone follows.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;
use wharf_runtime::{GuestLine, RequestId};

/// Most lines kept per app.
pub const LOG_TAIL_LINES: usize = 1000;
/// Most bytes of text kept per app.
pub const LOG_TAIL_BYTES: usize = 1 << 20;
/// Lines a slow follower may fall behind before it misses some.
pub const FOLLOW_BACKLOG: usize = 1024;

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
    /// The server it was printed on, when several answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A kept line and its number in its tail, compact: a line costs one
/// allocation, for its text.
#[derive(Clone, Debug)]
pub struct NumberedLine {
    /// Counts up from 1 in the order lines were printed.
    pub seq: u64,
    time_ms: u64,
    /// Shared by the lines of one deployment.
    digest: Arc<str>,
    request_id: RequestId,
    stream: &'static str,
    text: Arc<str>,
}

impl NumberedLine {
    /// When it was printed, in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// The line as the API returns it, for `app`.
    pub fn to_line(&self, app: &str) -> LogLine {
        LogLine {
            time_ms: self.time_ms,
            app: app.to_owned(),
            digest: self.digest.to_string(),
            request_id: self.request_id.to_string(),
            stream: self.stream.to_owned(),
            text: self.text.to_string(),
            node: None,
        }
    }
}

/// One app's recent guest output.
pub struct LogTail {
    app: String,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    lines: VecDeque<NumberedLine>,
    bytes: usize,
    last_seq: u64,
    /// The digest of the last line, shared with the next lines of the
    /// same deployment.
    last_digest: Option<Arc<str>>,
    /// While someone follows.
    live: Option<broadcast::Sender<NumberedLine>>,
}

impl LogTail {
    /// The app whose output this is.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// An empty tail for `app`.
    pub fn new(app: &str) -> Self {
        Self {
            app: app.to_owned(),
            kept: Mutex::default(),
        }
    }

    /// Keeps `line`, dropping the oldest past [`LOG_TAIL_LINES`] or
    /// [`LOG_TAIL_BYTES`], and hands it to followers.
    pub fn push(&self, line: GuestLine<'_>) {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        let text: Arc<str> = Arc::from(line.text);
        let mut kept = self.kept.lock().expect("log tail lock");
        let digest = match &kept.last_digest {
            Some(digest) if **digest == *line.digest => digest.clone(),
            _ => {
                let digest: Arc<str> = Arc::from(line.digest);
                kept.last_digest = Some(digest.clone());
                digest
            }
        };
        kept.last_seq += 1;
        let numbered = NumberedLine {
            seq: kept.last_seq,
            time_ms,
            digest,
            request_id: line.request_id,
            stream: line.stream,
            text,
        };
        if let Some(live) = &kept.live
            && live.send(numbered.clone()).is_err()
        {
            // The last follower has gone.
            kept.live = None;
        }
        kept.bytes += numbered.text.len();
        kept.lines.push_back(numbered);
        while kept.lines.len() > LOG_TAIL_LINES || kept.bytes > LOG_TAIL_BYTES {
            let Some(oldest) = kept.lines.pop_front() else {
                break;
            };
            kept.bytes -= oldest.text.len();
        }
    }

    /// The kept lines printed at or after `since_ms`, oldest first.
    pub fn since(&self, since_ms: u64) -> Vec<NumberedLine> {
        let kept = self.kept.lock().expect("log tail lock");
        Self::kept_since(&kept, since_ms)
    }

    /// The kept lines printed at or after `since_ms`, and every line
    /// printed from now on: none twice, none missed.
    pub fn follow(&self, since_ms: u64) -> (Vec<NumberedLine>, broadcast::Receiver<NumberedLine>) {
        let mut kept = self.kept.lock().expect("log tail lock");
        let live = match &kept.live {
            Some(live) => live.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(FOLLOW_BACKLOG);
                kept.live = Some(sender);
                receiver
            }
        };
        (Self::kept_since(&kept, since_ms), live)
    }

    fn kept_since(kept: &Kept, since_ms: u64) -> Vec<NumberedLine> {
        kept.lines
            .iter()
            .filter(|numbered| numbered.time_ms >= since_ms)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(&*kept[0].text, "10");
        assert_eq!(kept[0].seq, 11);
        let long = "x".repeat(LOG_TAIL_BYTES / 2);
        tail.push(line(&long));
        tail.push(line(&long));
        let kept = tail.since(0);
        let bytes: usize = kept.iter().map(|numbered| numbered.text.len()).sum();
        assert!(bytes <= LOG_TAIL_BYTES, "{bytes}");
        assert_eq!(kept.last().map(|n| n.text.len()), Some(long.len()));
    }

    #[tokio::test]
    async fn a_follower_gets_every_line_once_and_the_channel_goes_with_it() {
        let tail = LogTail::new("app");
        tail.push(line("before"));
        let (kept, mut live) = tail.follow(0);
        assert_eq!(kept.len(), 1);
        tail.push(line("same text"));
        tail.push(line("same text"));
        let first = live.recv().await.expect("a line");
        let second = live.recv().await.expect("a line");
        assert_eq!(
            (first.seq, second.seq),
            (2, 3),
            "repeated text is not dropped"
        );
        assert_eq!(first.to_line(tail.app()).app, "app");
        drop(live);
        tail.push(line("after the follower left"));
        assert!(tail.kept.lock().expect("lock").live.is_none());
    }
}
