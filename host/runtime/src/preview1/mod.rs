//! WASI preview1 programs as components: adapting a core module with the
//! preview1 adapter, and correcting the one answer of that adapter that
//! breaks unchanged programs.
//!
//! 1. [`prepare`] accepts a component as is and adapts a `wasm32-wasip1`
//!    core module with the adapter it needs (`adapt_core_module`).
//! 2. [`correct_adapter`] runs on every component before it is compiled.
//!    Where a component carries a preview1 adapter (whether wharf or
//!    `wasm-tools component new --adapt` put it there), it makes the
//!    adapter's `fd_pread` answer `ESPIPE` for stdin, as wasmtime's own
//!    preview1 implementation and POSIX do, instead of `EINVAL`. The stored
//!    bytes and their digest are never changed: the correction is made
//!    to the copy that is compiled.

mod adapt;
mod pread;

#[cfg(test)]
use adapt::adapt_core_module;
pub use adapt::{Prepared, prepare};
pub(crate) use pread::CORRECTION_TAG;
pub use pread::correct_adapter;
