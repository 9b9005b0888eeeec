//! `wasi:config/store`: the app's configuration, values and secrets alike.

use super::HostState;
use crate::world::generated::wasi::config::store as config;
use wasmtime::component::{HasSelf, Linker};

/// Links `wasi:config/store`.
pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    config::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        Ok(self.app.config.get(&key).cloned())
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, config::Error> {
        Ok(self
            .app
            .config
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }
}
