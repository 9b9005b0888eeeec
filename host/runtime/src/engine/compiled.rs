//! A component compiled by one engine and linked against the host: what a
//! request instantiates.

use crate::capabilities::HostState;
use crate::engine::Compiler;
use crate::world::{self, AppKind, Interfaces, capabilities};
use crate::{LoadError, capabilities as host_capabilities};
use std::sync::Arc;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi::p2::bindings::CommandPre;
use wharf_store::Digest;

/// One engine and the host linked into it. Code compiled by one engine
/// runs only in stores of that engine.
pub(crate) struct LinkedEngine {
    pub(crate) compiler: Compiler,
    pub(crate) engine: Engine,
    linker: Linker<HostState>,
}

impl LinkedEngine {
    /// Links every capability of the `wharf:app` world into `engine`.
    pub(crate) fn new(engine: Engine, compiler: Compiler) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        host_capabilities::add_to_linker(&mut linker)?;
        Ok(Self {
            compiler,
            engine,
            linker,
        })
    }

    /// Checks `component` against the `wharf:app` world and
    /// pre-instantiates it.
    pub(crate) fn link(
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
        let pre_instance = match kind {
            AppKind::Http => {
                PreInstance::Http(world::AppPre::new(instance_pre).map_err(LoadError::Link)?)
            }
            AppKind::Command => {
                PreInstance::Command(CommandPre::new(instance_pre).map_err(LoadError::Link)?)
            }
        };
        Ok(CompiledComponent(Arc::new(Compiled {
            digest,
            pre_instance,
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
    pre_instance: PreInstance,
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

/// A component pre-instantiated for its kind: what each request
/// instantiates.
#[derive(Clone)]
pub(crate) enum PreInstance {
    /// Exports `wasi:http/incoming-handler`.
    Http(world::AppPre<HostState>),
    /// Exports `wasi:cli/run`, served CGI-style.
    Command(CommandPre<HostState>),
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
        match self.0.pre_instance {
            PreInstance::Http(_) => AppKind::Http,
            PreInstance::Command(_) => AppKind::Command,
        }
    }

    /// What a request instantiates.
    pub(crate) fn pre_instance(&self) -> &PreInstance {
        &self.0.pre_instance
    }

    /// The engine whose stores run it.
    pub(crate) fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// Which compiler made its code.
    pub fn compiler(&self) -> Compiler {
        self.0.compiler
    }

    /// Whether this is quick code to serve with until the code to keep
    /// ([`Purpose::Kept`](crate::Purpose::Kept)) is ready.
    pub fn is_provisional(&self) -> bool {
        self.0.provisional
    }

    /// Its machine code in wasmtime's precompiled format, for the disk
    /// cache and the shared store; [`Runtime::deserialize`](crate::Runtime::deserialize)
    /// loads it again.
    pub fn serialize(&self) -> Result<Vec<u8>, LoadError> {
        self.0.component.serialize().map_err(LoadError::Compile)
    }
}
