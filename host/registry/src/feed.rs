//! The change feed: how a committed change reaches every server.
//!
//! - **The sequence.** Every [`Change`](crate::Change) begins by taking the
//!   next feed position ([`advance`]), which serializes writers across every
//!   process sharing the database and keeps positions in commit order.
//! - **Notifications.** On Postgres each commit also notifies
//!   [`FEED_CHANNEL`] ([`announce`]), so other servers hear of it at once.
//! - **The poll.** [`Registry::feed_position`](crate::Registry::feed_position)
//!   is checked every interval in any case: a missed notification, or
//!   another process on the same SQLite file, is seen within one interval.
//! - **This process.** A commit made here wakes this process's follower at
//!   once, and returns only when it has applied the change (or said it
//!   cannot yet, or after [`LOCAL_APPLY_WAIT`]), so whoever made a change
//!   is served by it next. A server has one follower, its router.
//!
//! A server follows the feed with a [`FeedFollower`]: it waits for
//! [`FeedFollower::changed`], reloads what it serves, and reports the
//! position it reached with [`FeedFollower::applied`].

use crate::RegistryError;
use sqlx::{Any, Row, Transaction};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// The channel Postgres notifies on every committed change.
pub(crate) const FEED_CHANNEL: &str = "wharf_feed";

/// How long a commit waits for this process's followers to apply it. A
/// follower that takes longer (its database reads are failing, say) still
/// applies it at its next poll.
pub const LOCAL_APPLY_WAIT: Duration = Duration::from_secs(5);

/// How long to wait before listening for notifications again after the
/// listener failed.
const LISTEN_RETRY: Duration = Duration::from_secs(5);

/// The feed's state in this process, shared by every clone of a registry.
pub(crate) struct LocalFeed {
    /// The newest position committed by this process.
    committed: watch::Sender<i64>,
    /// The newest position a follower in this process has applied, or
    /// given up on until its next poll.
    applied: watch::Sender<i64>,
    /// How many followers there are: a commit waits only if some.
    followers: AtomicUsize,
    /// Whether commits notify (Postgres).
    notifies: bool,
}

impl LocalFeed {
    pub(crate) fn new(notifies: bool) -> Arc<Self> {
        Arc::new(Self {
            committed: watch::Sender::new(0),
            applied: watch::Sender::new(0),
            followers: AtomicUsize::new(0),
            notifies,
        })
    }
}

/// Takes the next feed position inside `tx`. The row lock it takes is held
/// until `tx` ends, so changes are serialized across processes.
pub(crate) async fn advance(tx: &mut Transaction<'static, Any>) -> Result<i64, RegistryError> {
    let row = sqlx::query("UPDATE feed SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("seq")?)
}

/// Commits `tx`, which took position `seq`, and makes it known: to other
/// servers by a notification (delivered when, and only if, the change
/// commits), and to this process's followers at once. Returns when they have
/// applied it, or after [`LOCAL_APPLY_WAIT`].
pub(crate) async fn commit(
    mut tx: Transaction<'static, Any>,
    seq: i64,
    local: &LocalFeed,
) -> Result<(), RegistryError> {
    if local.notifies {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(FEED_CHANNEL)
            .bind(seq.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    local
        .committed
        .send_modify(|newest| *newest = (*newest).max(seq));
    if local.followers.load(Ordering::SeqCst) > 0 {
        let mut applied = local.applied.subscribe();
        let caught_up = applied.wait_for(|applied| *applied >= seq);
        if tokio::time::timeout(LOCAL_APPLY_WAIT, caught_up)
            .await
            .is_err()
        {
            tracing::warn!(
                seq,
                "this server has not applied its own change within {LOCAL_APPLY_WAIT:?}; \
                 it will at its next poll"
            );
        }
    }
    Ok(())
}

/// Notifications of committed changes, as they happen (Postgres only).
pub struct ChangeNotifications(sqlx::postgres::PgListener);

impl ChangeNotifications {
    /// Listens on `url`'s [`FEED_CHANNEL`].
    pub(crate) async fn listen(url: &str) -> Result<Self, RegistryError> {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(FEED_CHANNEL).await?;
        Ok(Self(listener))
    }

    /// Waits for the next committed change. Reconnects by itself if the
    /// connection drops; a change missed meanwhile is caught by polling
    /// [`Registry::feed_position`](crate::Registry::feed_position).
    pub async fn next(&mut self) -> Result<(), RegistryError> {
        self.0.recv().await?;
        Ok(())
    }
}

/// One follower of the feed in this process; see the module's docs.
pub struct FeedFollower {
    registry: crate::Registry,
    local: Arc<LocalFeed>,
    committed: watch::Receiver<i64>,
    notifications: Option<ChangeNotifications>,
    next_listen: tokio::time::Instant,
    ticks: tokio::time::Interval,
}

impl FeedFollower {
    pub(crate) fn new(registry: crate::Registry, local: Arc<LocalFeed>, poll: Duration) -> Self {
        local.followers.fetch_add(1, Ordering::SeqCst);
        let mut ticks = tokio::time::interval(poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            registry,
            committed: local.committed.subscribe(),
            local,
            notifications: None,
            next_listen: tokio::time::Instant::now(),
            ticks,
        }
    }

    /// Waits until the feed may have moved: a commit in this process, a
    /// notification from another, or the poll interval. The first call
    /// returns at once.
    pub async fn changed(&mut self) {
        // A commit made here is applied before anything else, even before
        // a slow reconnect of the listener below.
        if self.committed.has_changed().unwrap_or(false) {
            self.committed.borrow_and_update();
            return;
        }
        // (Re)connect the listener, at most every LISTEN_RETRY.
        if self.notifications.is_none() && tokio::time::Instant::now() >= self.next_listen {
            self.next_listen = tokio::time::Instant::now() + LISTEN_RETRY;
            match self.registry.notifications().await {
                Ok(listener) => self.notifications = listener,
                Err(e) => {
                    tracing::warn!("cannot listen for registry changes, polling until it can: {e}")
                }
            }
        }
        let notified = async {
            match self.notifications.as_mut() {
                Some(n) => n.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.ticks.tick() => {}
            _ = self.committed.changed() => {}
            result = notified => {
                if let Err(e) = result {
                    tracing::warn!("registry notifications failed, polling until they return: {e}");
                    self.notifications = None;
                }
            }
        }
    }

    /// Reports that this follower now serves everything up to position
    /// `seq`, which releases the commits in this process that wait for it.
    pub fn applied(&self, seq: i64) {
        self.local
            .applied
            .send_modify(|applied| *applied = (*applied).max(seq));
    }

    /// Reports that this follower cannot apply the feed now (its reads
    /// fail): the commits in this process waiting for it return at once,
    /// and it tries again at its next poll.
    pub fn cannot_apply(&self) {
        let committed = *self.local.committed.borrow();
        self.applied(committed);
    }
}

impl Drop for FeedFollower {
    fn drop(&mut self) {
        self.local.followers.fetch_sub(1, Ordering::SeqCst);
    }
}
