//! wharf's WebAssembly runtime: compiled components in, HTTP responses out.
//!
//! 1. [`Runtime::new`] builds one wasmtime engine for the process, with the
//!    pooling instance allocator, copy-on-write memory images and epoch
//!    interruption driven by a single ticker thread ([`RuntimeConfig`] sizes it).
//! 2. [`Runtime::compile`] turns component bytes into a [`CompiledComponent`]:
//!    it checks the component against the `wharf:app` world in `wit/`
//!    ([`LoadError`] names what does not fit) and pre-instantiates it once.
//! 3. [`Runtime::handle`] serves one request with a fresh instance, enforcing
//!    the instance, memory, body-size and deadline limits ([`InvokeError`]
//!    says which one was hit). A component that exports `wasi:cli/run`
//!    instead of the HTTP handler is served CGI-style ([`AppKind::Command`]). Guest stdout and stderr go to the log, tagged
//!    with the [`RequestId`].
//! 4. [`prepare`] passes components through and [`adapt_core_module`] wraps a WASI preview1 core module into a
//!    component with the preview1 adapter, for deploys of older builds.

mod adapt;
mod app;
mod artifacts;
mod cgi;
mod config;
mod engine;
mod error;
mod guest_log;
mod host;
mod http;
mod keyvalue;
mod outbound;
mod request_id;
mod world;

pub use adapt::{Adapter, Prepared, adapt_core_module, prepare};
pub use app::{AppContext, DeploymentFacts};
pub use config::RuntimeConfig;
pub use error::{EngineError, InvokeError, LoadError};
pub use http::GuestBody;
pub use keyvalue::{
    KeyValueError, KeyValueFuture, KeyValueLimits, KeyValueStore, MemoryKeyValue, next_counter,
};
pub use outbound::{OriginRule, OriginRuleError, OutboundPolicy};
pub use request_id::RequestId;
pub use world::{
    AppKind, CAPABILITIES, CLI_RUN_EXPORT, HTTP_HANDLER_EXPORT, Interfaces, PROVIDED_IMPORTS,
    capabilities,
};

use host::HostState;
use std::sync::Arc;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wharf_store::Digest;

/// The engine, the host functions every guest links against, and the
/// instance slots requests draw from. One per process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    config: RuntimeConfig,
    instance_slots: Arc<Semaphore>,
    artifacts: Option<artifacts::ArtifactCache>,
}

/// A component compiled and linked against the host, ready to be
/// instantiated once per request. Cheap to clone.
#[derive(Clone)]
pub struct CompiledComponent {
    digest: Digest,
    entry: Entry,
    interfaces: Arc<Interfaces>,
    code_bytes: usize,
    digest_header: ::http::HeaderValue,
}

/// How a compiled component is entered, by its kind.
#[derive(Clone)]
enum Entry {
    Http(world::AppPre<HostState>),
    Command(wasmtime_wasi::p2::bindings::CommandPre<HostState>),
}

impl CompiledComponent {
    /// The SHA-256 of the component's bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The digest as a response header value, made once.
    pub fn digest_header(&self) -> &::http::HeaderValue {
        &self.digest_header
    }

    /// What the component imports and exports.
    pub fn interfaces(&self) -> &Interfaces {
        &self.interfaces
    }

    /// The size of its compiled code in bytes: what it costs to keep it.
    pub fn code_bytes(&self) -> usize {
        self.code_bytes
    }

    /// Whether it is served as an HTTP handler or CGI-style.
    pub fn kind(&self) -> AppKind {
        match self.entry {
            Entry::Http(_) => AppKind::Http,
            Entry::Command(_) => AppKind::Command,
        }
    }
}

impl Runtime {
    /// Builds the engine and the host linker.
    pub fn new(config: RuntimeConfig) -> Result<Self, EngineError> {
        let engine = engine::build(&config).map_err(EngineError)?;
        let mut linker = Linker::new(&engine);
        add_host_interfaces(&mut linker).map_err(EngineError)?;
        let instance_slots = Arc::new(Semaphore::new(config.max_instances as usize));
        let artifacts = match &config.artifact_dir {
            Some(dir) => match artifacts::ArtifactCache::open(dir, &engine) {
                Ok(cache) => Some(cache),
                Err(e) => {
                    tracing::warn!("not keeping compiled code on disk: {e}");
                    None
                }
            },
            None => None,
        };
        Ok(Self {
            engine,
            linker,
            config,
            instance_slots,
            artifacts,
        })
    }

    /// The limits this runtime enforces.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Compiles `bytes`, checks them against the `wharf:app` world and
    /// pre-instantiates them. This is CPU-bound and can take seconds for a
    /// large component; call it off the async executor.
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledComponent, LoadError> {
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(LoadError::CoreModule);
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(LoadError::NotWasm);
        }
        let digest = Digest::of(bytes);
        let cached = self
            .artifacts
            .as_ref()
            .and_then(|cache| cache.load(&self.engine, &digest));
        let component = match cached {
            Some(component) => {
                tracing::info!(%digest, "loaded precompiled code");
                component
            }
            None => {
                let component = Component::new(&self.engine, bytes).map_err(LoadError::Compile)?;
                if let Some(cache) = &self.artifacts {
                    cache.store(&digest, &component);
                }
                component
            }
        };
        let image = component.image_range();
        let code_bytes = image.end.addr().saturating_sub(image.start.addr());
        let (interfaces, kind) = world::check(&self.engine, &component)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(LoadError::Link)?;
        let entry = match kind {
            AppKind::Http => {
                Entry::Http(world::AppPre::new(instance_pre).map_err(LoadError::Link)?)
            }
            AppKind::Command => Entry::Command(
                wasmtime_wasi::p2::bindings::CommandPre::new(instance_pre)
                    .map_err(LoadError::Link)?,
            ),
        };
        Ok(CompiledComponent {
            digest,
            entry,
            interfaces: Arc::new(interfaces),
            code_bytes,
            digest_header: ::http::HeaderValue::from_str(&digest.to_string())
                .expect("a digest is always a valid header value"),
        })
    }
}

/// Links every interface of the `wharf:app` world to its wasmtime-wasi or
/// wasmtime-wasi-http implementation.
fn add_host_interfaces(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::filesystem::WasiFilesystem;
    use wasmtime_wasi::p2::bindings::{cli, filesystem, random};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::{cli::WasiCliView, filesystem::WasiFilesystemView, random::WasiRandomView};

    // wasi:http/proxy: io, clocks, random, stdio and http.
    wasmtime_wasi_http::p2::add_to_linker_async(linker)?;
    // What language runtimes import at start-up.
    let l = linker;
    cli::environment::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    filesystem::types::add_to_linker::<_, WasiFilesystem>(l, HostState::filesystem)?;
    filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, HostState::filesystem)?;
    random::insecure::add_to_linker::<_, WasiRandom>(l, HostState::random)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, HostState::random)?;
    // wharf's own: config, key-value and deployment facts.
    use crate::world::generated::{wasi::config, wasi::keyvalue, wharf::app::deployment};
    use wasmtime::component::HasSelf;
    config::store::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    keyvalue::store::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    keyvalue::atomics::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    keyvalue::batch::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    deployment::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    Ok(())
}
