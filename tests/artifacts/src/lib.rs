//! Paths of the guests in `guests/`, built for the test suite.
//!
//! The build script runs `scripts/build-guests.sh`, so `cargo test` always
//! serves freshly built guests. [`foreach_guest!`] lists every guest, which
//! lets the suite fail to compile when a guest has no test.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
