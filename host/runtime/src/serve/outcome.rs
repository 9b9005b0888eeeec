//! How a guest's run ended, for the response body it was writing: a body
//! the guest did not finish ends cleanly only if the guest's run succeeded. A run stopped by the
//! deadline, a trap or the memory limit ends its body with an error frame
//! instead, so the server cuts the response off where the client can see
//! it: HTTP/1.1 closes the connection without the last chunk, HTTP/2 resets
//! the stream with an error code. Both the `wasi:http` path and the CGI
//! path end their bodies this way.

use super::GuestBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Why a guest's run failed, as the cut-off body reports it.
pub(crate) type Failure = String;

/// Sends how the run ended to its body; dropping it unsent (a task that
/// panicked) counts as a failure. Sending never waits, and a body that is
/// gone (no response was sent) is no error.
pub(crate) type OutcomeSender = oneshot::Sender<Result<(), Failure>>;

/// Where a body learns how its run ended.
pub(crate) type OutcomeReceiver = oneshot::Receiver<Result<(), Failure>>;

/// A channel from a run to the body it writes.
pub(crate) fn outcome_channel() -> (OutcomeSender, OutcomeReceiver) {
    oneshot::channel()
}

/// A response body that ends as its guest's run did; see the module docs.
pub(crate) struct EndsWithRun<B> {
    inner: B,
    /// How the run ended, until the inner body has ended and it is read.
    outcome: Option<oneshot::Receiver<Result<(), Failure>>>,
}

impl<B> EndsWithRun<B> {
    /// Wraps `inner`, whose run reports through `outcome`.
    pub(crate) fn new(inner: B, outcome: OutcomeReceiver) -> Self {
        Self {
            inner,
            outcome: Some(outcome),
        }
    }
}

impl<B> Body for EndsWithRun<B>
where
    B: Body<Data = Bytes, Error = wasmtime_wasi_http::Error> + Unpin,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(mut outcome) = self.outcome.take() else {
            return Poll::Ready(None);
        };
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => {
                self.outcome = Some(outcome);
                return Poll::Pending;
            }
            Poll::Ready(Some(frame)) => {
                self.outcome = Some(outcome);
                return Poll::Ready(Some(frame));
            }
            Poll::Ready(None) => None,
        };
        // The guest has stopped writing. A run that failed reported so
        // before its store was dropped, which is what ended a body it did
        // not finish; a run still going finished its body itself.
        Poll::Ready(match outcome.try_recv() {
            Ok(Ok(())) | Err(oneshot::error::TryRecvError::Empty) => frame,
            Ok(Err(failure)) => Some(Err(wasmtime_wasi_http::Error::InternalError(Some(failure)))),
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(
                wasmtime_wasi_http::Error::InternalError(Some("the guest's task stopped".into())),
            )),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.outcome.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `response` with its body wrapped in [`EndsWithRun`].
pub(crate) fn ends_with_run(
    response: http::Response<GuestBody>,
    outcome: OutcomeReceiver,
) -> http::Response<GuestBody> {
    response.map(|body| EndsWithRun::new(body, outcome).boxed_unsync())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn body(text: &'static str) -> Full<Bytes> {
        Full::new(Bytes::from_static(text.as_bytes()))
    }

    async fn frames(
        body: EndsWithRun<
            http_body_util::combinators::UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>,
        >,
    ) -> (Vec<Bytes>, Option<String>) {
        let mut body = std::pin::pin!(body);
        let mut data = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => data.extend(frame.into_data().ok()),
                Err(e) => return (data, Some(e.to_string())),
            }
        }
        (data, None)
    }

    fn boxed(
        text: &'static str,
    ) -> http_body_util::combinators::UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error> {
        body(text).map_err(|never| match never {}).boxed_unsync()
    }

    #[tokio::test]
    async fn a_successful_run_ends_the_body_cleanly() {
        let (outcome, receiver) = outcome_channel();
        let body = EndsWithRun::new(boxed("all of it"), receiver);
        outcome.send(Ok(())).expect("body waits");
        assert_eq!(frames(body).await, (vec![Bytes::from("all of it")], None));
    }

    #[tokio::test]
    async fn a_failed_run_ends_the_body_with_an_error() {
        let (outcome, receiver) = outcome_channel();
        let body = EndsWithRun::new(boxed("part of it"), receiver);
        outcome
            .send(Err("stopped at the deadline".into()))
            .expect("body waits");
        let (data, error) = frames(body).await;
        assert_eq!(data, vec![Bytes::from("part of it")]);
        assert!(error.expect("cut off").contains("stopped at the deadline"));
    }

    #[tokio::test]
    async fn a_run_that_never_reports_counts_as_failed() {
        let (outcome, receiver) = outcome_channel();
        let body = EndsWithRun::new(boxed("part of it"), receiver);
        drop(outcome);
        assert!(frames(body).await.1.is_some());
    }
}
