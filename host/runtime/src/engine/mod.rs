//! The engines, the instance slots, and the compile primitives: compile for
//! a purpose, load code compiled before, link. Where compiled code is kept
//! and when it is compiled again is the caller's business (the server's
//! component cache).

mod build;
mod compiled;
mod config;
mod tag;

pub use build::{Compiler, Purpose};
pub use compiled::CompiledComponent;
pub(crate) use compiled::PreInstance;
pub use config::{CompilerMode, RuntimeConfig, UnknownCompiler};

use crate::preview1::correct_adapter;
use crate::world::check_bytes;
use crate::{EngineError, LoadError};
use compiled::LinkedEngine;
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;
use wasmtime::component::Component;
use wharf_store::Digest;

/// The engines, the host functions every guest links against, and the
/// instance slots requests draw from. One per process.
pub struct Runtime {
    /// Compiles the code that is kept, on disk and in the shared store:
    /// Cranelift, or Winch under [`CompilerMode::Winch`].
    main: LinkedEngine,
    /// Winch, for the first compile of a component under
    /// [`CompilerMode::Auto`].
    quick: Option<LinkedEngine>,
    /// Shared with each request's guest task, which reports its limits.
    pub(crate) config: Arc<RuntimeConfig>,
    pub(crate) instance_slots: Arc<Semaphore>,
    engine_tag: String,
}

impl Runtime {
    /// Builds the engines and the host linker.
    pub fn new(config: RuntimeConfig) -> Result<Self, EngineError> {
        use Purpose::{Kept, Provisional};
        let linked = |compiler, purpose| {
            build::build(&config, compiler, purpose)
                .and_then(|engine| LinkedEngine::new(engine, compiler))
                .map_err(EngineError)
        };
        let (main, quick) = match config.compiler {
            CompilerMode::Auto => (
                linked(Compiler::Cranelift, Kept)?,
                Some(linked(Compiler::Winch, Provisional)?),
            ),
            CompilerMode::Cranelift => (linked(Compiler::Cranelift, Kept)?, None),
            CompilerMode::Winch => (linked(Compiler::Winch, Kept)?, None),
        };
        let instance_slots = Arc::new(Semaphore::new(config.max_instances as usize));
        let engine_tag = tag::engine_tag(&main.engine);
        Ok(Self {
            main,
            quick,
            config: Arc::new(config),
            instance_slots,
            engine_tag,
        })
    }

    /// The limits this runtime enforces.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// How many instance slots requests hold now, of
    /// [`RuntimeConfig::max_instances`].
    pub fn instances_in_use(&self) -> u32 {
        let free = u32::try_from(self.instance_slots.available_permits()).unwrap_or(u32::MAX);
        self.config.max_instances.saturating_sub(free)
    }

    /// Names the main engine's configuration: code compiled by an engine
    /// with another tag must not be loaded here. It is 16 hex digits of a
    /// SHA-256 over [`wasmtime::Engine::precompile_compatibility_hash`] and
    /// the version of the preview1 adapter correction, so servers of one
    /// build and configuration agree on it.
    pub fn engine_tag(&self) -> &str {
        &self.engine_tag
    }

    /// Checks `bytes` against the `wharf:app` world, compiles them for
    /// `purpose` and pre-instantiates the result. This is CPU-bound and can
    /// take seconds for a large component; call it off the async executor.
    ///
    /// [`Purpose::Provisional`] compiles with Winch under
    /// [`CompilerMode::Auto`], and the result [is provisional]: the caller
    /// should compile it again for [`Purpose::Kept`] and switch. Without a
    /// quick engine, or for a component that uses what Winch cannot compile
    /// (tail calls, exceptions, GC), it compiles the code to keep instead.
    ///
    /// [is provisional]: CompiledComponent::is_provisional
    pub fn compile(&self, bytes: &[u8], purpose: Purpose) -> Result<CompiledComponent, LoadError> {
        let digest = check_is_component(bytes)?;
        let code = compilable(bytes);
        if let (Purpose::Provisional, Some(quick)) = (purpose, &self.quick) {
            match Component::new(&quick.engine, &code) {
                Ok(component) => return quick.link(digest, component, true),
                Err(e) => {
                    tracing::info!(%digest, "Winch cannot compile this component, so Cranelift will: {e:#}");
                }
            }
        }
        let component = Component::new(&self.main.engine, &code).map_err(LoadError::Compile)?;
        self.main.link(digest, component, false)
    }

    /// Loads the code of the component with `digest` from `code`, as
    /// [`CompiledComponent::serialize`] wrote it, and links it. A failure to
    /// load the code itself is [`LoadError::Compile`].
    ///
    /// # Safety
    ///
    /// `code` must come from [`CompiledComponent::serialize`] of code kept by
    /// a runtime with this [`engine_tag`](Self::engine_tag), unchanged:
    /// wasmtime runs the machine code in it as it is. wasmtime checks its
    /// header and version, nothing more.
    #[expect(
        unsafe_code,
        reason = "loading precompiled code is unsafe in wasmtime's API"
    )]
    pub unsafe fn deserialize(
        &self,
        digest: Digest,
        code: &[u8],
    ) -> Result<CompiledComponent, LoadError> {
        // SAFETY: the caller vouches for `code`, as this function requires.
        let component = unsafe { Component::deserialize(&self.main.engine, code) }
            .map_err(LoadError::Compile)?;
        self.main.link(digest, component, false)
    }

    /// [`deserialize`](Self::deserialize) from the file at `path`, mapped
    /// rather than read.
    ///
    /// # Safety
    ///
    /// As for [`deserialize`](Self::deserialize), for the file's contents,
    /// which nobody may change while the code is in use.
    #[expect(
        unsafe_code,
        reason = "loading precompiled code is unsafe in wasmtime's API"
    )]
    pub unsafe fn deserialize_file(
        &self,
        digest: Digest,
        path: &Path,
    ) -> Result<CompiledComponent, LoadError> {
        // SAFETY: the caller vouches for the file, as this function requires.
        let component = unsafe { Component::deserialize_file(&self.main.engine, path) }
            .map_err(LoadError::Compile)?;
        self.main.link(digest, component, false)
    }
}

/// What is compiled for the component `bytes`: the bytes themselves, or a
/// copy with its preview1 adapter corrected ([`correct_adapter`]).
fn compilable(bytes: &[u8]) -> Cow<'_, [u8]> {
    match correct_adapter(bytes) {
        Some(corrected) => Cow::Owned(corrected),
        None => Cow::Borrowed(bytes),
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
