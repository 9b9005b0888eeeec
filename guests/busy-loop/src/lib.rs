//! Spins forever without responding, to exercise the request deadline.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct BusyLoop;

wasi::http::proxy::export!(BusyLoop);

impl Guest for BusyLoop {
    fn handle(_request: IncomingRequest, _response_out: ResponseOutparam) {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}
