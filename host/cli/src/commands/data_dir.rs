//! Where `wharf serve` keeps its state when no directory is given.

use std::path::PathBuf;

/// `$WHARF_DATA_DIR`, else `$XDG_DATA_HOME/wharf`, else
/// `~/.local/share/wharf`, else `./.wharf`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WHARF_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("wharf");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/wharf"),
        None => PathBuf::from(".wharf"),
    }
}

/// The admin token file inside a data directory.
pub fn token_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("admin-token")
}
