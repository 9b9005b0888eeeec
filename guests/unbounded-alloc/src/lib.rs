//! Allocates 1 MiB after 1 MiB until memory runs out, to exercise the
//! per-instance memory limit.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct UnboundedAlloc;

wasi::http::proxy::export!(UnboundedAlloc);

impl Guest for UnboundedAlloc {
    fn handle(_request: IncomingRequest, _response_out: ResponseOutparam) {
        let mut held: Vec<Vec<u8>> = Vec::new();
        loop {
            held.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&held);
        }
    }
}
