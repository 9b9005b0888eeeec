//! A CPU-bound handler for the benchmarks: `?rounds=N` rounds of integer
//! mixing (default 300,000, about 1 ms on the machines bench/ runs on), and
//! the result as text.

use wharf_sdk::{Error, Request, Response, Result, handler};

/// Rounds when the request names none.
const DEFAULT_ROUNDS: u64 = 300_000;

#[handler]
fn work(request: Request) -> Result<Response> {
    let rounds = match request.query_param("rounds") {
        Some(rounds) => rounds.parse().map_err(|_| {
            Error::bad_request(format!("rounds must be a whole number, not {rounds:?}"))
        })?,
        None => DEFAULT_ROUNDS,
    };
    Ok(Response::text(format!("{}\n", mix(rounds))))
}

/// xorshift64 with a counter folded in, so no round can be skipped.
fn mix(rounds: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(i);
    }
    x
}
