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
//!    component with the preview1 adapter, for deploys of older builds. Before
//!    any compile, [`check_bytes`] refuses what wharf cannot serve, and
//!    [`correct_adapter`] makes a preview1 adapter inside the component
//!    answer a positional read of stdin as a pipe does.
//! 5. Guests reach the network only as their app's [`OutboundPolicy`]
//!    allows: outbound HTTP, and `wasi:sockets` (`outbound/`).

mod app;
mod artifacts;
mod background;
mod binary;
mod cgi;
mod config;
mod engine;
mod error;
mod guest_log;
mod host;
mod http;
mod keyvalue;
mod outbound;
mod preview1;
mod request_id;
mod world;

pub use app::{AppContext, DeploymentFacts};
pub use config::{CompilerMode, RuntimeConfig};
pub use engine::Compiler;
pub use error::{EngineError, InvokeError, LoadError};
pub use http::GuestBody;
pub use keyvalue::{KeyValueError, KeyValueFuture, KeyValueLimits, KeyValueStore, MemoryKeyValue};
pub use outbound::{OriginRule, OriginRuleError, OutboundPolicy};
pub use preview1::{Adapter, Prepared, adapt_core_module, correct_adapter, prepare};
pub use request_id::RequestId;
pub use world::{
    AppKind, CAPABILITIES, CLI_RUN_EXPORT, HTTP_HANDLER_EXPORT, Interfaces, PROVIDED_IMPORTS,
    capabilities, check_bytes,
};

use host::HostState;
use std::sync::Arc;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wharf_store::{Digest, VerifiedArtifact};

/// The engines, the host functions every guest links against, and the
/// instance slots requests draw from. One per process.
pub struct Runtime {
    /// Compiles the code that is kept, on disk and in the shared store:
    /// Cranelift, or Winch under [`CompilerMode::Winch`].
    main: Backend,
    /// Winch, for the first compile of a component under
    /// [`CompilerMode::Auto`].
    quick: Option<Backend>,
    /// Shared with each request's guest task, which reports its limits.
    config: Arc<RuntimeConfig>,
    instance_slots: Arc<Semaphore>,
    artifacts: Option<artifacts::ArtifactCache>,
    engine_tag: String,
    background: background::BackgroundPool,
}

/// One engine and the host linked into it. Code compiled by one engine
/// runs only in stores of that engine.
struct Backend {
    compiler: Compiler,
    engine: Engine,
    linker: Linker<HostState>,
}

impl Backend {
    fn new(
        config: &RuntimeConfig,
        compiler: Compiler,
        purpose: engine::Purpose,
    ) -> Result<Self, EngineError> {
        let engine = engine::build(config, compiler, purpose).map_err(EngineError)?;
        let mut linker = Linker::new(&engine);
        add_host_interfaces(&mut linker).map_err(EngineError)?;
        Ok(Self {
            compiler,
            engine,
            linker,
        })
    }

    /// Checks `component` against the `wharf:app` world and
    /// pre-instantiates it.
    fn link(
        &self,
        digest: Digest,
        component: Component,
        provisional: bool,
    ) -> Result<CompiledComponent, LoadError> {
        let image = component.image_range();
        let code_bytes = image.end.addr().saturating_sub(image.start.addr());
        let (interfaces, kind) = world::check(&self.engine, &component)?;
        let uses_sockets = capabilities(&interfaces.imports)
            .iter()
            .any(|capability| capability == "wasi:sockets");
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
        Ok(CompiledComponent(Arc::new(Compiled {
            digest,
            entry,
            component,
            engine: self.engine.clone(),
            compiler: self.compiler,
            provisional,
            interfaces,
            uses_sockets,
            code_bytes,
            digest_header: ::http::HeaderValue::from_str(&digest.to_string())
                .expect("a digest is always a valid header value"),
        })))
    }
}

/// A component compiled and linked against the host, ready to be
/// instantiated once per request. A clone is one reference count.
#[derive(Clone)]
pub struct CompiledComponent(Arc<Compiled>);

/// What a [`CompiledComponent`] shares between its clones.
struct Compiled {
    digest: Digest,
    entry: Entry,
    component: Component,
    engine: Engine,
    compiler: Compiler,
    provisional: bool,
    interfaces: Interfaces,
    /// Whether it imports any of `wasi:sockets`, so that its requests need
    /// socket access set up.
    uses_sockets: bool,
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
        self.0.digest
    }

    /// The digest as a response header value, made once.
    pub fn digest_header(&self) -> &::http::HeaderValue {
        &self.0.digest_header
    }

    /// What the component imports and exports.
    pub fn interfaces(&self) -> &Interfaces {
        &self.0.interfaces
    }

    /// Whether it imports any of `wasi:sockets`.
    pub(crate) fn uses_sockets(&self) -> bool {
        self.0.uses_sockets
    }

    /// The size of its compiled code in bytes: what it costs to keep it.
    pub fn code_bytes(&self) -> usize {
        self.0.code_bytes
    }

    /// Whether it is served as an HTTP handler or CGI-style.
    pub fn kind(&self) -> AppKind {
        match self.0.entry {
            Entry::Http(_) => AppKind::Http,
            Entry::Command(_) => AppKind::Command,
        }
    }

    /// Which compiler made its code.
    pub fn compiler(&self) -> Compiler {
        self.0.compiler
    }

    /// Whether this is quick code to serve with until
    /// [`Runtime::compile`] has made the code to keep.
    pub fn is_provisional(&self) -> bool {
        self.0.provisional
    }

    /// Its machine code in wasmtime's precompiled format, for
    /// [`wharf_store::SharedArtifacts`].
    pub fn serialize(&self) -> Result<Vec<u8>, LoadError> {
        self.0.component.serialize().map_err(LoadError::Compile)
    }
}

impl Runtime {
    /// Builds the engines and the host linker.
    pub fn new(config: RuntimeConfig) -> Result<Self, EngineError> {
        use engine::Purpose::{Kept, Provisional};
        let (main, quick) = match config.compiler {
            CompilerMode::Auto => (
                Backend::new(&config, Compiler::Cranelift, Kept)?,
                Some(Backend::new(&config, Compiler::Winch, Provisional)?),
            ),
            CompilerMode::Cranelift => (Backend::new(&config, Compiler::Cranelift, Kept)?, None),
            CompilerMode::Winch => (Backend::new(&config, Compiler::Winch, Kept)?, None),
        };
        let instance_slots = Arc::new(Semaphore::new(config.max_instances as usize));
        let engine_tag = artifacts::engine_tag(&main.engine);
        let artifacts = match &config.artifact_dir {
            Some(dir) => match artifacts::ArtifactCache::open(dir, &engine_tag) {
                Ok(cache) => Some(cache),
                Err(e) => {
                    tracing::warn!("not keeping compiled code on disk: {e}");
                    None
                }
            },
            None => None,
        };
        Ok(Self {
            main,
            quick,
            config: Arc::new(config),
            instance_slots,
            artifacts,
            engine_tag,
            background: background::BackgroundPool::default(),
        })
    }

    /// The limits this runtime enforces.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Names the main engine's configuration: code compiled by an engine
    /// with another tag must not be loaded here. It is 16 hex digits of a
    /// SHA-256 over [`Engine::precompile_compatibility_hash`] and the
    /// version of the preview1 adapter correction, so
    /// servers of one build and configuration agree on it.
    pub fn engine_tag(&self) -> &str {
        &self.engine_tag
    }

    /// Compiles `bytes` into the code to keep (loading it from the disk
    /// cache when it is there, and saving it there when not), checks it
    /// against the `wharf:app` world and pre-instantiates it. This is
    /// CPU-bound and can take seconds for a large component; call it off the
    /// async executor.
    pub fn compile(&self, bytes: &[u8]) -> Result<CompiledComponent, LoadError> {
        let digest = check_is_component(bytes)?;
        if let Some(compiled) = self.load_cached(&digest) {
            return compiled;
        }
        self.compile_to_keep(digest, &compilable(bytes))
    }

    /// [`compile`](Self::compile) on threads at the lowest CPU priority,
    /// for a compile no request waits on (replacing provisional code, say):
    /// requests get the CPU first and the compile takes what is left.
    pub fn compile_in_background(&self, bytes: &[u8]) -> Result<CompiledComponent, LoadError> {
        self.background.run(|| self.compile(bytes))
    }

    /// Compiles `bytes` quickly, without looking in the disk cache (the
    /// caller has looked there already, and in the shared store). Under
    /// [`CompilerMode::Auto`] the compile is Winch's and the result [is
    /// provisional]: the caller should compile it again with
    /// [`compile_in_background`](Self::compile_in_background) and switch.
    /// A component that uses what Winch cannot compile (tail calls,
    /// exceptions, GC) goes straight to Cranelift.
    ///
    /// [is provisional]: CompiledComponent::is_provisional
    pub fn compile_quickly(&self, bytes: &[u8]) -> Result<CompiledComponent, LoadError> {
        let digest = check_is_component(bytes)?;
        let code = compilable(bytes);
        let Some(quick) = &self.quick else {
            return self.compile_to_keep(digest, &code);
        };
        match Component::new(&quick.engine, &code) {
            Ok(component) => quick.link(digest, component, true),
            Err(e) => {
                tracing::info!(%digest, "Winch cannot compile this component, so Cranelift will: {e:#}");
                self.compile_to_keep(digest, &code)
            }
        }
    }

    /// Compiles `code` (the component with `digest`, as [`compilable`]
    /// made it) with the main engine and saves the code on disk.
    fn compile_to_keep(&self, digest: Digest, code: &[u8]) -> Result<CompiledComponent, LoadError> {
        let component = Component::new(&self.main.engine, code).map_err(LoadError::Compile)?;
        if let Some(cache) = &self.artifacts {
            cache.store(&digest, &component);
        }
        self.main.link(digest, component, false)
    }

    /// The component with `digest` from the disk cache, if it is there:
    /// the code to keep, never provisional.
    pub fn load_cached(&self, digest: &Digest) -> Option<Result<CompiledComponent, LoadError>> {
        let component = self.artifacts.as_ref()?.load(&self.main.engine, digest)?;
        tracing::info!(%digest, "loaded precompiled code");
        Some(self.main.link(*digest, component, false))
    }

    /// Loads code another server compiled and sealed, after
    /// [`wharf_store::SharedArtifacts`] verified its seal. Code sealed for
    /// another engine configuration is refused. The code is saved in the
    /// disk cache too, so a restart finds it there.
    pub fn load_shared(&self, code: VerifiedArtifact) -> Result<CompiledComponent, LoadError> {
        if code.engine_tag() != self.engine_tag {
            return Err(LoadError::Compile(wasmtime::format_err!(
                "the shared artifact was compiled for engine {}, and this server runs {}",
                code.engine_tag(),
                self.engine_tag
            )));
        }
        let digest = code.digest();
        let component = match &self.artifacts {
            Some(cache) => {
                cache.store_bytes(&digest, code.code());
                cache.load(&self.main.engine, &digest)
            }
            None => None,
        };
        let component = match component {
            Some(component) => component,
            // SAFETY: the bytes carry a valid HMAC made with the cluster
            // secret over this digest, this engine tag and the code, so
            // they were serialized by a wharf server holding the secret,
            // with an engine of this configuration. wasmtime checks the
            // header and version again.
            #[expect(
                unsafe_code,
                reason = "loading precompiled code is unsafe in wasmtime's API"
            )]
            None => unsafe { Component::deserialize(&self.main.engine, code.code()) }
                .map_err(LoadError::Compile)?,
        };
        self.main.link(digest, component, false)
    }
}

/// What is compiled for the component `bytes`: the bytes themselves, or a
/// copy with its preview1 adapter corrected ([`correct_adapter`]).
fn compilable(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match correct_adapter(bytes) {
        Some(corrected) => std::borrow::Cow::Owned(corrected),
        None => std::borrow::Cow::Borrowed(bytes),
    }
}

/// Checks that `bytes` are a component that fits the world, before any
/// compile, and returns their digest.
fn check_is_component(bytes: &[u8]) -> Result<Digest, LoadError> {
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::NotWasm);
    }
    check_bytes(bytes)?;
    Ok(Digest::of(bytes))
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
    // Sockets: wasmtime-wasi's, checked by the app's outbound rules
    // (`outbound/sockets.rs`), with wharf's own name lookup and socket creation
    // below.
    {
        use wasmtime_wasi::p2::bindings::sockets;
        use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};
        let options = sockets::network::LinkOptions::default();
        sockets::network::add_to_linker::<_, WasiSockets>(l, &options, HostState::sockets)?;
        sockets::instance_network::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
        sockets::tcp::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
        sockets::udp::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
        sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
    }
    // wharf's own: config, key-value, deployment facts and name lookups.
    use crate::world::generated::wasi::sockets::{ip_name_lookup, tcp_create_socket};
    use crate::world::generated::{wasi::config, wasi::keyvalue, wharf::app::deployment};
    use wasmtime::component::HasSelf;
    config::store::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    keyvalue::store::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    keyvalue::atomics::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    keyvalue::batch::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    deployment::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    ip_name_lookup::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    tcp_create_socket::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    Ok(())
}
