//! End-to-end tests: the real `wharf` binary, on 127.0.0.1 with port 0,
//! serving real components built from `guests/`.

mod faults;
mod harness;
mod image;
mod new;
mod run;
mod serve;
mod toolchains;
