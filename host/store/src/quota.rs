//! What stored app data counts against its app's quota, the same wherever
//! it is kept (the registry database, or memory under `wharf run`).

/// What each key-value entry costs beyond its bucket, key and value bytes:
/// an estimate of the entry's own overhead, so that many tiny entries
/// cannot take far more space than the quota says.
pub const KV_ENTRY_OVERHEAD: u64 = 64;

/// Bytes a key-value entry counts against its app's quota: its bucket
/// name, key and value, plus [`KV_ENTRY_OVERHEAD`].
pub fn kv_entry_bytes(bucket: &str, key: &str, value: &[u8]) -> u64 {
    (bucket.len() + key.len() + value.len()) as u64 + KV_ENTRY_OVERHEAD
}
