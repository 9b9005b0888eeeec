//! The two object-store operations blobs and shared artifacts both need:
//! a read that tells "absent" from failure, and a write that never
//! replaces an object another writer created first.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};

/// The bytes at `path`, or `None` if nothing is stored there.
pub(crate) async fn read(
    objects: &dyn ObjectStore,
    path: &Path,
) -> Result<Option<Bytes>, object_store::Error> {
    let bytes = match objects.get(path).await {
        Ok(result) => result.bytes().await,
        Err(e) => Err(e),
    };
    match bytes {
        Ok(bytes) => Ok(Some(bytes)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
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
