//! Tunables for the engine, the instance pool and per-request limits.

use std::time::Duration;

/// Everything an operator can tune about how guests run.
///
/// The defaults fit a small machine (a few cores, a few GiB) and are safe:
/// every request has a deadline, a memory cap and a body cap.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// How many instances may be alive at once, across all apps. This sizes
    /// wasmtime's pooling allocator; a request beyond it is refused with 503.
    pub max_instances: u32,
    /// How many of those one app may hold at once, its live deployment and
    /// previews together, so that one app (a flood of stalled uploads, a
    /// slow dependency) cannot take every slot from the others. A request
    /// beyond it is refused with 503.
    pub max_instances_per_app: u32,
    /// Most linear memory one instance may grow to, in bytes. A guest that
    /// tries to grow past it sees allocation fail and traps, which is a 500.
    pub max_memory_bytes: u64,
    /// Wall-clock budget for one request, from the start of instantiation to
    /// the end of the response body. Past it the guest is stopped; a request
    /// still waiting for its response head gets 504.
    pub request_deadline: Duration,
    /// Largest request body a guest is given, in bytes. Larger bodies get 413.
    pub max_request_body_bytes: u64,
    /// Most CPU time one request's guest may use (threads' CPU time while
    /// it runs, waits not counted), checked at every epoch tick; past it
    /// the guest is stopped and the request gets 503. `None`: only the
    /// deadline bounds it.
    pub cpu_time: Option<Duration>,
    /// Largest amount of stdout plus stderr one request may log, in bytes.
    /// Output beyond it is dropped with one warning.
    pub max_guest_log_bytes: usize,
    /// Which origins guests may send outbound HTTP requests to, and the
    /// limits on those requests. The default allows none.
    pub outbound: std::sync::Arc<crate::OutboundPolicy>,
    /// Which compiler turns components into machine code.
    pub compiler: CompilerMode,
}

/// How components are compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompilerMode {
    /// A component never compiled before is compiled with Winch, which is
    /// several times faster to compile, so its first request is answered
    /// soon; Cranelift then compiles it again in the background, and new
    /// requests move to that code when it is ready. Requests already
    /// running finish on the code they started on. Only Cranelift's code is
    /// kept on disk and shared.
    #[default]
    Auto,
    /// Cranelift only: optimized code, slower to compile.
    Cranelift,
    /// Winch only: fast to compile, slower to run.
    Winch,
}

/// A compiler name wharf does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown compiler `{0}`: use auto, cranelift or winch")]
pub struct UnknownCompiler(pub String);

impl std::str::FromStr for CompilerMode {
    type Err = UnknownCompiler;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "cranelift" => Ok(Self::Cranelift),
            "winch" => Ok(Self::Winch),
            other => Err(UnknownCompiler(other.to_owned())),
        }
    }
}

impl std::fmt::Display for CompilerMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cranelift => "cranelift",
            Self::Winch => "winch",
        })
    }
}

impl RuntimeConfig {
    /// How often the process-wide epoch ticker fires. Guests yield to the
    /// scheduler and have their deadline checked at this period.
    pub const EPOCH_TICK: Duration = Duration::from_millis(10);
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_instances: 1000,
            max_instances_per_app: 500,
            max_memory_bytes: 128 << 20,
            request_deadline: Duration::from_secs(30),
            max_request_body_bytes: 10 << 20,
            cpu_time: None,
            max_guest_log_bytes: 1 << 20,
            outbound: Default::default(),
            compiler: CompilerMode::default(),
        }
    }
}
