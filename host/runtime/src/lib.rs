//! wharf's WebAssembly runtime: compiled components in, HTTP responses out.
//!
//! The crate is in rooms:
//!
//! - `engine/`: [`Runtime::new`] builds the wasmtime engines for the
//!   process, with the pooling instance allocator, copy-on-write memory
//!   images and epoch interruption ([`RuntimeConfig`] sizes it). Its
//!   primitives turn component bytes into a [`CompiledComponent`]:
//!   [`Runtime::compile`] for a [`Purpose`], [`Runtime::deserialize`] of
//!   code compiled before, each checked against the `wharf:app` world and
//!   pre-instantiated once. Where code is kept, and when it is compiled
//!   again, is the server's component cache.
//! - `serve/`: [`Runtime::handle`] serves one request with a fresh instance,
//!   enforcing the instance, memory, body-size and deadline limits
//!   ([`InvokeError`] says which one was hit). A component that exports
//!   `wasi:cli/run` instead of the HTTP handler is served CGI-style
//!   ([`AppKind::Command`]).
//! - `capabilities/`: what a guest can reach, one folder per capability:
//!   config, key-value ([`KeyValueStore`]), deployment facts, outbound HTTP
//!   and sockets ([`OutboundPolicy`]), and guest stdout and stderr, which go
//!   to the log tagged with the [`RequestId`].
//! - `world/`: the `wharf:app` world from `wit/`; [`check_bytes`] refuses
//!   what wharf cannot serve before any compile ([`LoadError`] names what
//!   does not fit).
//! - `preview1/`: [`prepare`] passes components through and
//!   `adapt_core_module` wraps a WASI preview1 core module into a
//!   component; `correct_adapter` makes a preview1 adapter inside a
//!   component answer a positional read of stdin as a pipe does.
//!
//! - `idle_body.rs`: [`IdleTimeoutBody`], a body whose bytes must keep
//!   arriving, for requests and for the responses to outbound requests;
//! - `metrics.rs`: the outbound and key-value counts, through the
//!   `metrics` facade;
//! - `trace_context.rs`: the spans exported as traces, and W3C trace
//!   context in and out;
//! - `thread_priority.rs`: lowering a thread's CPU priority, for the
//!   long-running lane here and the server's background compiles.
//!
//! wharf runs on Linux only: the instance pool here, and the server's
//! compiled-code directory and background compile threads, use Linux
//! interfaces.

pub mod authority;
mod capabilities;
mod engine;
mod error;
mod idle_body;
pub mod metrics;
mod preview1;
#[cfg(test)]
mod properties;
mod serve;
pub mod thread_priority;
pub mod trace_context;
mod world;

pub use capabilities::{
    AppContext, Bucket, DeploymentFacts, GuestLine, GuestLogSink, InstanceShare, KeyValueError,
    KeyValueFuture, KeyValueLimits, KeyValueStore, MemoryKeyValue, OriginRule, OriginRuleError,
    OutboundPolicy, RequestLimits, ResolveAddressStream,
};
pub use engine::{
    CompiledComponent, Compiler, CompilerMode, Purpose, Runtime, RuntimeConfig, UnknownCompiler,
};
pub use error::{EngineError, InvokeError, LoadError};
pub use idle_body::{BodyError, BodyStalled, IdleTimeoutBody};
pub use preview1::{Prepared, prepare};
pub use serve::{CLIENT_IP_HEADER, GuestBody, RequestId, host_body};
pub use world::{AppKind, Interfaces, capabilities, check_bytes};
