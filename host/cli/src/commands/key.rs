//! `wharf key`: print the object-store key of a file.

use anyhow::Context;
use std::path::PathBuf;
use wharf_store::BlobKey;

/// Print the key a component is stored under:
/// `application/wasm/{size}b/sha256-{hex}.wasm`.
#[derive(clap::Args)]
pub struct KeyCommand {
    /// The file to name.
    file: PathBuf,
}

impl KeyCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        println!("{}", BlobKey::of(&bytes));
        Ok(())
    }
}
