//! The two object-store operations blobs and shared artifacts both need:
//! a read that tells "absent" from failure, and a write that never
//! replaces an object another writer created first. Both are counted and
//! timed (`crate::metrics`).

use crate::metrics::{Operation, record};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use std::time::Instant;

/// The bytes at `path`, or `None` if nothing is stored there.
pub(crate) async fn read(
    objects: &dyn ObjectStore,
    path: &Path,
) -> Result<Option<Bytes>, object_store::Error> {
    let started = Instant::now();
    let bytes = match objects.get(path).await {
        Ok(result) => result.bytes().await,
        Err(e) => Err(e),
    };
    let read = match bytes {
        Ok(bytes) => Ok(Some(bytes)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    };
    let size = match &read {
        Ok(Some(bytes)) => Some(bytes.len()),
        Ok(None) => Some(0),
        Err(_) => None,
    };
    record(Operation::Read, started, size);
    read
}

/// Writes `payload` at `path` with `mode`, and says whether it wrote:
/// under [`PutMode::Create`] an object someone else created first is kept
/// and `false` returned. A store without conditional writes (Garage) is
/// written unconditionally, so callers write only what any racing writer
/// would write the same.
pub(crate) async fn write(
    objects: &dyn ObjectStore,
    path: &Path,
    payload: PutPayload,
    mode: PutMode,
) -> Result<bool, object_store::Error> {
    let started = Instant::now();
    let size = payload.content_length();
    let written = write_once(objects, path, payload, mode).await;
    record(
        Operation::Write,
        started,
        written
            .as_ref()
            .ok()
            .map(|&wrote| if wrote { size } else { 0 }),
    );
    written
}

async fn write_once(
    objects: &dyn ObjectStore,
    path: &Path,
    payload: PutPayload,
    mode: PutMode,
) -> Result<bool, object_store::Error> {
    match objects.put_opts(path, payload.clone(), mode.into()).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Ok(false),
        Err(object_store::Error::NotImplemented { .. }) => {
            objects.put(path, payload).await?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}
