//! Turning a WASI preview1 core module into a component, as `cargo
//! component` and `wasm-tools component new` do, so app authors can deploy
//! what older toolchains build.

use crate::LoadError;
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_component::ComponentEncoder;

/// Which preview1 adapter a core module needs, judged from its exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// It exports `wasi:http/incoming-handler#handle`: an HTTP app.
    Proxy,
    /// It exports `_start`: a command, which becomes `wasi:cli/run`.
    Command,
    /// Anything else: a library of exports.
    Reactor,
}

impl Adapter {
    fn bytes(self) -> &'static [u8] {
        match self {
            Adapter::Proxy => WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER,
            Adapter::Command => WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
            Adapter::Reactor => WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        }
    }

    /// The adapter `module` needs.
    pub fn for_module(module: &[u8]) -> Result<Self, LoadError> {
        let mut is_command = false;
        for payload in wasmparser::Parser::new(0).parse_all(module) {
            let payload = payload.map_err(|e| LoadError::Adapt(e.into()))?;
            if let wasmparser::Payload::ExportSection(exports) = payload {
                for export in exports {
                    let export = export.map_err(|e| LoadError::Adapt(e.into()))?;
                    if export.name.starts_with("wasi:http/incoming-handler@") {
                        return Ok(Adapter::Proxy);
                    }
                    is_command |= export.name == "_start";
                }
            }
        }
        Ok(if is_command {
            Adapter::Command
        } else {
            Adapter::Reactor
        })
    }
}

/// Wraps a core module built for `wasm32-wasip1` into a component with the
/// preview1 adapter it needs. The module's own component-type sections (as
/// wit-bindgen emits) say which WASI 0.2 interfaces it uses directly.
pub fn adapt_core_module(module: &[u8]) -> Result<Vec<u8>, LoadError> {
    let adapter = Adapter::for_module(module)?;
    let adapt = LoadError::Adapt;
    ComponentEncoder::default()
        .validate(true)
        .module(module)
        .map_err(adapt)?
        .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter.bytes())
        .map_err(adapt)?
        .encode()
        .map_err(adapt)
}

/// Bytes ready to compile and store as a component.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// A component: the input, or the input adapted.
    pub bytes: Vec<u8>,
    /// Whether the input was a core module that wharf adapted.
    pub adapted: bool,
}

/// Accepts a component as is and adapts a WASI preview1 core module; refuses
/// anything that is not WebAssembly.
pub fn prepare(bytes: Vec<u8>) -> Result<Prepared, LoadError> {
    if wasmparser::Parser::is_component(&bytes) {
        Ok(Prepared {
            bytes,
            adapted: false,
        })
    } else if wasmparser::Parser::is_core_wasm(&bytes) {
        Ok(Prepared {
            bytes: adapt_core_module(&bytes)?,
            adapted: true,
        })
    } else {
        Err(LoadError::NotWasm)
    }
}
