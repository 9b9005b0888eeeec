//! The errors a caller of the runtime can match on.

use std::time::Duration;

/// Why a component could not be loaded. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file (it does not start with the `\\0asm` magic number)")]
    NotWasm,
    /// The bytes are a core module, which wharf does not serve as an HTTP app.
    #[error(
        "this is a core WebAssembly module, not a component; build it for \
         `--target wasm32-wasip2`, or adapt it with `wasm-tools component new`"
    )]
    CoreModule,
    /// A core module could not be adapted into a component.
    #[error(
        "this core module cannot be adapted into a component: {0:#}; build it for \
         `--target wasm32-wasip2`, or with `cargo component build`"
    )]
    Adapt(#[source] anyhow::Error),
    /// The component's sections are malformed.
    #[error("the component is malformed: {0}; build it again")]
    Malformed(wasmparser::BinaryReaderError),
    /// wasmtime rejected the component while compiling it.
    #[error("the component failed to compile: {0:#}")]
    Compile(wasmtime::Error),
    /// The component imports interfaces wharf does not provide.
    #[error(
        "the component imports {}, which wharf does not provide to apps; \
         apps may import wasi:http/proxy@0.2.x, wasi:sockets@0.2.x, and the wasi:cli, \
         wasi:filesystem and wasi:random interfaces that language runtimes need \
         (see wit/world.wit)",
        imports.join(", ")
    )]
    UnsupportedImports {
        /// Every offending import, with its version.
        imports: Vec<String>,
    },
    /// The component exports neither `wasi:http/incoming-handler@0.2.x`
    /// nor `wasi:cli/run@0.2.x`.
    #[error(
        "the component exports neither wasi:http/incoming-handler@0.2.x nor wasi:cli/run@0.2.x \
         (it exports: {}); build it for the wasi:http/proxy world, or as a command",
        if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") }
    )]
    MissingHandler {
        /// What the component does export.
        exports: Vec<String>,
    },
    /// Precompiled code was made by an engine of another configuration,
    /// so it must not be loaded here.
    #[error(
        "the precompiled code was compiled for engine {code_engine}, and this server runs {engine}"
    )]
    OtherEngine {
        /// The engine tag the code was compiled for.
        code_engine: String,
        /// This runtime's engine tag.
        engine: String,
    },
    /// Linking against the host failed for a reason the checks above missed.
    #[error("the component cannot be linked against wharf's host: {0:#}")]
    Link(wasmtime::Error),
}

/// Why a request to a guest produced no guest response. The server turns each
/// into a status code; the details are already in the log under the request id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// Every instance slot is busy. Answer 503 and ask the client to retry.
    #[error("all {max_instances} instance slots are busy")]
    Overloaded {
        /// The configured number of slots.
        max_instances: u32,
    },
    /// The app already holds its whole share of the instance slots, so that
    /// it cannot starve the other apps. Answer 503 and ask the client to
    /// retry.
    #[error("the app already runs {share} requests, its share of the instance slots")]
    AppOverloaded {
        /// The configured share (`--max-instances-per-app`).
        share: u32,
    },
    /// The request body is larger than the limit. Answer 413.
    #[error("the request body is larger than the {limit}-byte limit")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The client stopped sending the request body for longer than the body
    /// idle timeout before the guest responded. Answer 408.
    #[error("the client sent no bytes of the request body for {idle:?}")]
    BodyStalled {
        /// The configured body idle timeout.
        idle: Duration,
    },
    /// The guest did not respond within the deadline. Answer 504.
    #[error("the app did not respond within {deadline:?}")]
    DeadlineExceeded {
        /// The configured deadline.
        deadline: Duration,
    },
    /// The guest used more CPU time than its limit and was stopped.
    /// Answer 503.
    #[error("the app used more than its CPU time of {limit:?} for one request")]
    CpuTimeExceeded {
        /// The app's CPU time per request.
        limit: Duration,
    },
    /// The guest tried to grow its memory past the limit and trapped. Answer 500.
    #[error("the app exceeded its memory limit of {limit} bytes")]
    MemoryLimitExceeded {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The guest trapped. Answer 500.
    #[error("the app crashed while handling the request")]
    Trapped,
    /// A command's output had a malformed CGI header block (an invalid
    /// name, a bare CR, a bad status). Answer 502.
    #[error("the app sent a malformed CGI response: {0}")]
    BadCgiResponse(String),
    /// A command exited with a failure status. Answer 500.
    #[error("the app exited with status {0}")]
    Exited(i32),
    /// The guest returned without sending a response. Answer 500.
    #[error("the app returned without sending a response")]
    NoResponse,
    /// The guest sent an error code instead of a response. Answer 500.
    #[error("the app answered with an error: {0}")]
    GuestError(String),
    /// The host failed to set the request up or to see it through. Answer
    /// 500.
    #[error(
        "internal error: {what}{}",
        source.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
    )]
    Internal {
        /// What failed.
        what: &'static str,
        /// Why, when something else said.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl InvokeError {
    /// [`InvokeError::Internal`]: `what` failed, for no reason given.
    pub(crate) fn internal(what: &'static str) -> Self {
        Self::Internal { what, source: None }
    }

    /// [`InvokeError::Internal`]: `what` failed because of `source`.
    pub(crate) fn internal_because(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Internal {
            what,
            source: Some(source.into()),
        }
    }
}

/// The engine could not be set up with the requested configuration, for
/// example because the instance pool cannot reserve its address space.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly engine: {0:#}")]
pub struct EngineError(pub(crate) wasmtime::Error);
