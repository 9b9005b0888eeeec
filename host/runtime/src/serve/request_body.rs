//! [`BodyFaults`]: how reading a request body fell short.

use crate::idle_body::BodyStalled;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
