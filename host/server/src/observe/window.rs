//! Each app's recent numbers on this server: requests per second over the
//! last minute and five minutes, the error rate, and latency quantiles,
//! kept in fixed memory with atomics, so recording never takes a lock.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far back an app's numbers reach.
pub const WINDOW: Duration = Duration::from_secs(300);
/// Seconds per slot.
const SLOT_SECONDS: u64 = 5;
/// Slots in the window, and one more for the slot being filled.
const SLOTS: u64 = WINDOW.as_secs() / SLOT_SECONDS + 1;
/// Latency buckets: the first ends at [`FIRST_BUCKET`], each next one a
/// quarter-octave (19%) later, up to about three minutes.
const LATENCY_BUCKETS: usize = 88;
const FIRST_BUCKET: Duration = Duration::from_micros(50);

/// An app's numbers over the last [`WINDOW`], as `GET
/// /v1/apps/APP/stats` returns them (one server's view).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppStats {
    /// Requests answered in the last [`WINDOW`].
    pub requests: u64,
    /// Requests per second over the last minute.
    pub rate_1m: f64,
    /// Requests per second over the last five minutes.
    pub rate_5m: f64,
    /// The share of the window's requests answered with a 5xx status.
    pub error_rate: f64,
    /// Median time to the end of the response, in milliseconds (to within
    /// 19%), if there were requests.
    pub p50_ms: Option<f64>,
    /// 99th percentile time to the end of the response, in milliseconds.
    pub p99_ms: Option<f64>,
}

struct Slot {
    /// Which [`SLOT_SECONDS`]-long stretch since the Unix epoch it counts.
    epoch: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU32; LATENCY_BUCKETS],
}

impl Slot {
    fn new() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }
}

/// An app's requests over the last [`WINDOW`], in slots of five seconds.
pub struct RequestWindow {
    slots: Box<[Slot]>,
}

impl Default for RequestWindow {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Slot::new()).collect(),
        }
    }
}

impl RequestWindow {
    /// Records a request that took `duration` to its response's end.
    pub fn record(&self, server_error: bool, duration: Duration) {
        self.record_at(unix_seconds(), server_error, duration);
    }

    fn record_at(&self, now: u64, server_error: bool, duration: Duration) {
        let epoch = now / SLOT_SECONDS;
        let slot = &self.slots[(epoch % SLOTS) as usize];
        let seen = slot.epoch.load(Ordering::Acquire);
        if seen != epoch
            && slot
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // The first request of a new stretch clears what the slot held
            // from one window ago. A request recorded in between by another
            // thread may be lost: these numbers are a view, not a ledger.
            slot.requests.store(0, Ordering::Relaxed);
            slot.errors.store(0, Ordering::Relaxed);
            for bucket in &slot.latency {
                bucket.store(0, Ordering::Relaxed);
            }
        }
        slot.requests.fetch_add(1, Ordering::Relaxed);
        if server_error {
            slot.errors.fetch_add(1, Ordering::Relaxed);
        }
        slot.latency[bucket_of(duration)].fetch_add(1, Ordering::Relaxed);
    }

    /// The numbers now.
    pub fn stats(&self) -> AppStats {
        self.stats_at(unix_seconds())
    }

    /// Requests per second over the last minute, without the rest.
    pub fn rate_1m(&self) -> f64 {
        let now = unix_seconds();
        let current = now / SLOT_SECONDS;
        let minute = 60 / SLOT_SECONDS;
        let requests: u64 = self
            .slots
            .iter()
            .filter(|slot| current.wrapping_sub(slot.epoch.load(Ordering::Acquire)) < minute)
            .map(|slot| slot.requests.load(Ordering::Relaxed))
            .sum();
        requests as f64 / span(now, minute)
    }

    fn stats_at(&self, now: u64) -> AppStats {
        let current = now / SLOT_SECONDS;
        let span = |slots| span(now, slots);
        let (minute, window) = (60 / SLOT_SECONDS, WINDOW.as_secs() / SLOT_SECONDS);
        let (mut requests, mut errors, mut last_minute) = (0, 0, 0);
        let mut latency = [0u64; LATENCY_BUCKETS];
        for slot in &self.slots {
            let age = current.wrapping_sub(slot.epoch.load(Ordering::Acquire));
            if age >= window {
                continue;
            }
            let n = slot.requests.load(Ordering::Relaxed);
            requests += n;
            errors += slot.errors.load(Ordering::Relaxed);
            if age < minute {
                last_minute += n;
            }
            for (sum, bucket) in latency.iter_mut().zip(&slot.latency) {
                *sum += u64::from(bucket.load(Ordering::Relaxed));
            }
        }
        AppStats {
            requests,
            rate_1m: last_minute as f64 / span(minute),
            rate_5m: requests as f64 / span(window),
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            p50_ms: quantile(&latency, 0.50),
            p99_ms: quantile(&latency, 0.99),
        }
    }
}

/// The seconds `slots` slots cover at `now`: the slot being filled counts
/// for the seconds it has had.
fn span(now: u64, slots: u64) -> f64 {
    ((slots - 1) * SLOT_SECONDS + now % SLOT_SECONDS + 1) as f64
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The bucket `duration` falls in.
fn bucket_of(duration: Duration) -> usize {
    let ratio = duration.as_secs_f64() / FIRST_BUCKET.as_secs_f64();
    if ratio <= 1.0 {
        return 0;
    }
    ((ratio.log2() * 4.0).ceil() as usize).min(LATENCY_BUCKETS - 1)
}

/// Where bucket `index` ends, in milliseconds.
fn bucket_end_ms(index: usize) -> f64 {
    FIRST_BUCKET.as_secs_f64() * 1000.0 * 2f64.powf(index as f64 / 4.0)
}

/// The end of the bucket holding quantile `q` of `counts`.
fn quantile(counts: &[u64; LATENCY_BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (index, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(bucket_end_ms(index));
        }
    }
    Some(bucket_end_ms(LATENCY_BUCKETS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_errors_and_quantiles_come_from_the_recorded_requests() {
        let window = RequestWindow::default();
        let start = 1_000_000;
        // 120 requests a minute for five minutes, one in ten a 500, and
        // one in a hundred slow.
        for second in 0..300 {
            for i in 0..2 {
                let n = second * 2 + i;
                let slow = n % 100 == 0;
                let duration = Duration::from_millis(if slow { 800 } else { 2 });
                window.record_at(start + second, n % 10 == 0, duration);
            }
        }
        let stats = window.stats_at(start + 299);
        assert_eq!(stats.requests, 600);
        assert!((stats.rate_1m - 2.0).abs() < 1e-9, "{stats:?}");
        assert!((stats.rate_5m - 2.0).abs() < 1e-9, "{stats:?}");
        assert!((stats.error_rate - 0.1).abs() < 1e-9, "{stats:?}");
        let p50 = stats.p50_ms.expect("requests were recorded");
        assert!((2.0..2.0 * 1.19).contains(&p50), "{p50}");
        let p99 = stats.p99_ms.expect("requests were recorded");
        assert!(
            (2.0..2.0 * 1.19).contains(&p99),
            "one in a hundred is not above p99: {p99}"
        );
        let later = window.stats_at(start + 299 + WINDOW.as_secs() + 10);
        assert_eq!(later, AppStats::default(), "everything aged out");
    }

    #[test]
    fn a_slot_reused_a_window_later_starts_from_zero() {
        let window = RequestWindow::default();
        window.record_at(100, true, Duration::from_secs(1));
        let later = 100 + SLOTS * SLOT_SECONDS;
        window.record_at(later, false, Duration::from_millis(1));
        let stats = window.stats_at(later);
        assert_eq!(stats.requests, 1);
        assert_eq!(stats.error_rate, 0.0);
    }
}
