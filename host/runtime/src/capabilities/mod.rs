//! What a guest can reach, one folder or file per capability, each with its
//! host implementation, its limits and its tests:
//!
//! - `wasi.rs`: the WASI 0.2 interfaces of `wasi:http/proxy` and what
//!   language runtimes import at start-up, from wasmtime-wasi;
//! - `config.rs`: `wasi:config/store`;
//! - `keyvalue/`: `wasi:keyvalue`, behind [`KeyValueStore`];
//! - `deployment.rs`: `wharf:app/deployment` ([`DeploymentFacts`]);
//! - `outbound/`: outbound HTTP and `wasi:sockets`, under an
//!   [`OutboundPolicy`];
//! - `guest_log.rs`: guest stdout and stderr, to the server's log and the
//!   app's [`GuestLogSink`];
//! - `app.rs`: [`AppContext`], everything per app a request can reach;
//! - `state.rs`: [`HostState`], one per instance's store.
//!
//! A new capability adds its folder here, a line in [`add_to_linker`], and
//! its interfaces in `wit/world.wit` and the world's check (`world/`).

mod app;
mod config;
mod deployment;
mod guest_log;
mod keyvalue;
mod outbound;
mod state;
mod wasi;

pub use app::{AppContext, InstanceShare, RequestLimits};
pub use deployment::DeploymentFacts;
pub use guest_log::{GuestLine, GuestLogSink};
pub use keyvalue::{
    Bucket, KeyValueError, KeyValueFuture, KeyValueLimits, KeyValueStore, MemoryKeyValue,
};
pub use outbound::{OriginRule, OriginRuleError, OutboundPolicy, ResolveAddressStream};
pub(crate) use state::HostState;

use wasmtime::component::Linker;

/// Links every interface of the `wharf:app` world to its implementation.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasi::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    keyvalue::add_to_linker(linker)?;
    deployment::add_to_linker(linker)?;
    outbound::add_to_linker(linker)?;
    Ok(())
}
