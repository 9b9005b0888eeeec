//! [`IdleTimeoutBody`]: a body whose bytes must keep arriving, for the
//! requests wharf serves and the responses to guests' outbound requests.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What reading an [`IdleTimeoutBody`] can fail with: the stream broke, or
/// it went quiet for longer than the idle timeout ([`BodyStalled`]).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Nothing arrived for `idle` while the body was being read. A request's
/// body that stalls is given up, so that a stalled upload does not hold an
/// instance slot or a deploy open; for an outbound response the guest sees
/// a read timeout ([`wasi_http_error`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "the client sent no bytes of the request body for {idle:?} \
     (the body idle timeout, `--body-idle-timeout`)"
)]
pub struct BodyStalled {
    /// The configured timeout.
    pub idle: Duration,
}

/// Wraps a body so that a reader waiting on it longer than `idle` for the
/// next frame gets [`BodyStalled`]. Only time spent waiting counts: a
/// reader that is busy elsewhere between reads is never timed out, and a
/// body that is already complete costs no timer. The one timer is made on
/// the first wait and reset for each later one.
pub struct IdleTimeoutBody<B> {
    inner: B,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the last read was left waiting, so the timer is running.
    waiting: bool,
}

impl<B> IdleTimeoutBody<B> {
    /// `inner`, whose reads fail after `idle` without a frame.
    pub fn new(inner: B, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: None,
            waiting: false,
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
            this.waiting = false;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let idle = this.idle;
        let timer = match &mut this.timer {
            Some(timer) if this.waiting => timer,
            Some(timer) => {
                timer.as_mut().reset(Instant::now() + idle);
                timer
            }
            None => this
                .timer
                .insert(Box::pin(tokio::time::sleep_until(Instant::now() + idle))),
        };
        this.waiting = true;
        ready!(timer.as_mut().poll(cx));
        this.waiting = false;
        Poll::Ready(Some(Err(Box::new(BodyStalled { idle }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `error` as wasi:http reports a failed body read to a guest: a stall is a
/// read timeout, a broken stream hyper's error.
pub(crate) fn wasi_http_error(error: BodyError) -> wasmtime_wasi_http::Error {
    if error.is::<BodyStalled>() {
        return wasmtime_wasi_http::Error::ConnectionReadTimeout;
    }
    match error.downcast::<hyper::Error>() {
        Ok(e) => wasmtime_wasi_http::Error::Hyper(*e),
        Err(e) => wasmtime_wasi_http::Error::InternalError(Some(e.to_string())),
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

    #[test]
    fn a_stall_reaches_a_guest_as_a_read_timeout() {
        let stalled: BodyError = Box::new(BodyStalled {
            idle: Duration::from_secs(1),
        });
        assert!(matches!(
            wasi_http_error(stalled),
            wasmtime_wasi_http::Error::ConnectionReadTimeout
        ));
        let other: BodyError = "the peer reset the stream".into();
        assert!(matches!(
            wasi_http_error(other),
            wasmtime_wasi_http::Error::InternalError(Some(message)) if message.contains("reset")
        ));
    }
}
