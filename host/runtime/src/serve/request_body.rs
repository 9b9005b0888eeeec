//! [`IdleTimeoutBody`]: a request body whose bytes must keep arriving.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What reading a request body can fail with: the client's stream broke, or
/// it went quiet for longer than the body idle timeout.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The client sent nothing of the request body for `idle` while the body was
/// being read: the request is given up, so that a stalled upload does not
/// hold an instance slot or a deploy open.
#[derive(Debug, thiserror::Error)]
#[error(
    "the client sent no bytes of the request body for {idle:?} \
     (the body idle timeout, `--body-idle-timeout`)"
)]
pub struct BodyStalled {
    /// The configured timeout.
    pub idle: Duration,
}

/// Wraps a request body so that a reader waiting on it longer than `idle`
/// for the next frame gets [`BodyStalled`]. Only time spent waiting counts:
/// a reader that is busy elsewhere between reads is never timed out, and a
/// body that is already complete costs no timer.
pub struct IdleTimeoutBody<B> {
    inner: B,
    idle: Duration,
    /// Armed while a read is waiting on the client.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> IdleTimeoutBody<B> {
    /// `inner`, whose reads fail after `idle` without a frame.
    pub fn new(inner: B, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: None,
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.timer = None;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let idle = this.idle;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + idle)));
        ready!(timer.as_mut().poll(cx));
        this.timer = None;
        Poll::Ready(Some(Err(Box::new(BodyStalled { idle }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How reading a request body fell short, recorded as the body is read, so
/// that a guest that sent no response of its own gets the answer the client
/// earned (413 or 408) and a command's stdin ends in an error rather than a
/// clean end of file.
#[derive(Default)]
pub(crate) struct BodyFaults {
    too_large: AtomicBool,
    stalled_after: OnceLock<Duration>,
    broken: AtomicBool,
}

impl BodyFaults {
    /// The body passed the size limit.
    pub(crate) fn note_too_large(&self) {
        self.too_large.store(true, Ordering::SeqCst);
    }

    /// Reading the body failed with `error`.
    pub(crate) fn note_error(&self, error: &(dyn std::error::Error + 'static)) {
        match error.downcast_ref::<BodyStalled>() {
            Some(stalled) => {
                let _ = self.stalled_after.set(stalled.idle);
            }
            None => self.broken.store(true, Ordering::SeqCst),
        }
    }

    /// Whether the guest saw less than the whole body, for any reason.
    pub(crate) fn cut_short(&self) -> bool {
        self.too_large.load(Ordering::SeqCst)
            || self.stalled_after.get().is_some()
            || self.broken.load(Ordering::SeqCst)
    }

    /// The error to answer with in place of the guest's, if the body's
    /// fault is the client's: too large (413) or stalled (408).
    pub(crate) fn refusal(&self, limit: u64) -> Option<crate::InvokeError> {
        if self.too_large.load(Ordering::SeqCst) {
            Some(crate::InvokeError::BodyTooLarge { limit })
        } else {
            let idle = *self.stalled_after.get()?;
            Some(crate::InvokeError::BodyStalled { idle })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use http_body_util::channel::Channel;

    #[tokio::test(start_paused = true)]
    async fn a_quiet_client_is_timed_out_and_a_steady_one_is_not() {
        let idle = Duration::from_secs(5);
        let (mut sender, body) = Channel::<Bytes, BodyError>::new(1);
        let mut body = IdleTimeoutBody::new(body, idle);
        let steady = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                sender
                    .send_data(Bytes::from_static(b"x"))
                    .await
                    .expect("the body is read");
            }
            // Then nothing more, and the sender stays open.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(sender);
        });
        let mut received = 0;
        let stalled = loop {
            match body.frame().await.expect("the body does not end") {
                Ok(frame) => received += frame.into_data().expect("data").len(),
                Err(e) => break e,
            }
        };
        assert_eq!(received, 4, "16 s of steady bytes were all read");
        let stalled = stalled.downcast::<BodyStalled>().expect("a stall");
        assert_eq!(stalled.idle, idle);
        steady.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn time_between_reads_does_not_count() {
        let (mut sender, body) = Channel::<Bytes, BodyError>::new(4);
        let mut body = IdleTimeoutBody::new(body, Duration::from_secs(1));
        sender
            .send_data(Bytes::from_static(b"a"))
            .await
            .expect("room");
        sender
            .send_data(Bytes::from_static(b"b"))
            .await
            .expect("room");
        drop(sender);
        assert!(body.frame().await.expect("a frame").is_ok());
        // The reader is busy for longer than the timeout between reads.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(body.frame().await.expect("a frame").is_ok());
        assert!(body.frame().await.is_none(), "the body ends cleanly");
    }
}
