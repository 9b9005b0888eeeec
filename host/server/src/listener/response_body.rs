//! The body a listener sends: the dispatch's response body, holding its
//! request's place among the client's requests in flight and its access
//! record until it ends.

use super::clients::InFlight;
use crate::observe::AccessRecord;
use crate::observe::access::BodyEnd;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use wharf_runtime::GuestBody;

/// A response body on its way to the client.
pub(super) struct ServedBody {
    body: GuestBody,
    in_flight: Option<InFlight>,
    record: Option<AccessRecord>,
    sent: u64,
    /// Its length, when its head declared one.
    length: Option<u64>,
}

impl ServedBody {
    /// The body of `response` (to a HEAD request if `head`), holding
    /// `in_flight` (if the request was counted) and `record` until it ends.
    pub(super) fn wrap(
        response: http::Response<GuestBody>,
        head: bool,
        in_flight: Option<InFlight>,
        record: AccessRecord,
    ) -> http::Response<Self> {
        let status = response.status();
        // hyper sends no body for these, whatever their head declares.
        let bodiless = head
            || status.is_informational()
            || status == http::StatusCode::NO_CONTENT
            || status == http::StatusCode::NOT_MODIFIED;
        let declared = if bodiless {
            Some(0)
        } else {
            response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|length| length.to_str().ok()?.parse().ok())
        };
        response.map(|body| Self {
            length: declared.or(body.size_hint().exact()),
            body,
            in_flight,
            record: Some(record),
            sent: 0,
        })
    }

    fn end(&mut self, how: BodyEnd) {
        self.in_flight = None;
        if let Some(record) = self.record.take() {
            record.finish(self.sent, how);
        }
    }
}

impl Body for ServedBody {
    type Data = bytes::Bytes;
    type Error = <GuestBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => self.end(BodyEnd::Failed),
            Poll::Ready(None) => self.end(BodyEnd::Complete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for ServedBody {
    fn drop(&mut self) {
        // hyper drops a body without polling it to its end once it has
        // sent the length its head declared, or the body said it was done.
        let how = if self.length == Some(self.sent) || self.body.is_end_stream() {
            BodyEnd::Complete
        } else {
            BodyEnd::ClientGone
        };
        self.end(how);
    }
}
