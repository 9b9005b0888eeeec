//! Flags that tune the runtime, shared by every serving subcommand.

use bytesize::ByteSize;
use std::sync::Arc;
use std::time::Duration;
use wharf_runtime::{CompilerMode, KeyValueLimits, OriginRule, OutboundPolicy, RuntimeConfig};

/// Limits on guests. Each flag also reads an environment variable.
#[derive(clap::Args, Clone, Debug)]
pub struct RuntimeArgs {
    /// Instances alive at once across all apps; sizes the instance pool.
    /// Requests beyond it get 503 with `Retry-After`.
    #[arg(long, env = "WHARF_MAX_INSTANCES", default_value_t = RuntimeConfig::default().max_instances)]
    max_instances: u32,

    /// Instances one app may hold at once, its live deployment and previews
    /// together, so that no app can take every slot from the others.
    /// Requests beyond it get 503 with `Retry-After`. Default: half of
    /// --max-instances under `wharf serve`; all of them under `wharf run`,
    /// which serves one app.
    #[arg(long, env = "WHARF_MAX_INSTANCES_PER_APP")]
    max_instances_per_app: Option<u32>,

    /// Linear memory one instance may use. A guest that needs more traps (500).
    #[arg(long, env = "WHARF_MAX_MEMORY", default_value = "128MiB")]
    max_memory: ByteSize,

    /// Wall-clock budget per request. A guest still running at the deadline is
    /// stopped; if it has not responded yet the client gets 504.
    #[arg(long, env = "WHARF_REQUEST_DEADLINE", default_value = "30s", value_parser = humantime::parse_duration)]
    deadline: Duration,

    /// Largest request body passed to a guest. Larger bodies get 413.
    #[arg(long, env = "WHARF_MAX_REQUEST_BODY", default_value = "10MiB")]
    max_request_body: ByteSize,

    /// CPU time one request's guest may use (such as `50ms`), counted
    /// while it runs, waits not counted; past it the guest is stopped and
    /// the client gets 503. Without it only --deadline bounds a request.
    #[arg(long, env = "WHARF_CPU_TIME", value_parser = humantime::parse_duration)]
    cpu_time: Option<Duration>,

    /// Most stdout plus stderr one request may write to the log.
    #[arg(long, env = "WHARF_MAX_GUEST_LOG", default_value = "1MiB")]
    max_guest_log: ByteSize,

    /// An origin guests may send outbound HTTP requests to: `*`,
    /// `https://api.example.com`, `http://*.internal:8080` or
    /// `http://127.0.0.1:9000`. Repeat it, or separate with commas in the
    /// variable. Without one, every outbound request is denied. Under `*`
    /// private, loopback and link-local addresses stay denied; name the
    /// host to reach one.
    #[arg(
        long = "allow-outbound",
        env = "WHARF_ALLOW_OUTBOUND",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    allow_outbound: Vec<OriginRule>,

    /// Most outbound HTTP requests one incoming request may make.
    #[arg(long, env = "WHARF_MAX_OUTBOUND_REQUESTS", default_value_t = OutboundPolicy::default().max_requests)]
    max_outbound_requests: u32,

    /// Longest wait for an outbound request to connect, and then for its
    /// response to begin. A guest may ask for less.
    #[arg(long, env = "WHARF_OUTBOUND_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    outbound_timeout: Duration,

    /// Most key-value data (keys plus values) each app may keep. A write
    /// past it fails in the guest with an error that says so.
    #[arg(long, env = "WHARF_KV_QUOTA", default_value = "64MiB")]
    kv_quota: ByteSize,

    /// How components are compiled. `auto` compiles a component not seen
    /// before with Winch, to answer its first request soon, then with
    /// Cranelift in the background, and switches new requests to that code.
    /// `cranelift` compiles optimized code only; `winch` quick code only.
    #[arg(long, env = "WHARF_COMPILER", default_value_t = CompilerMode::Auto, value_name = "auto|cranelift|winch")]
    compiler: CompilerMode,
}

impl RuntimeArgs {
    /// The limits on each app's key-value data.
    pub fn keyvalue_limits(&self) -> KeyValueLimits {
        KeyValueLimits {
            quota_bytes: self.kv_quota.as_u64(),
            ..KeyValueLimits::default()
        }
    }

    /// The share of the instance pool of the one app `wharf run` serves.
    pub fn single_app_share(&self) -> u32 {
        self.max_instances_per_app.unwrap_or(self.max_instances)
    }

    /// The runtime configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<RuntimeConfig> {
        anyhow::ensure!(self.max_instances > 0, "--max-instances must be at least 1");
        let max_instances_per_app = self
            .max_instances_per_app
            .unwrap_or(self.max_instances.div_ceil(2));
        anyhow::ensure!(
            (1..=self.max_instances).contains(&max_instances_per_app),
            "--max-instances-per-app must be between 1 and --max-instances ({})",
            self.max_instances
        );
        anyhow::ensure!(
            !self.deadline.is_zero(),
            "--deadline must be longer than zero"
        );
        anyhow::ensure!(
            self.cpu_time.is_none_or(|cpu| !cpu.is_zero()),
            "--cpu-time must be longer than zero"
        );
        Ok(RuntimeConfig {
            cpu_time: self.cpu_time,
            max_instances: self.max_instances,
            max_instances_per_app,
            max_memory_bytes: self.max_memory.as_u64(),
            request_deadline: self.deadline,
            max_request_body_bytes: self.max_request_body.as_u64(),
            max_guest_log_bytes: usize::try_from(self.max_guest_log.as_u64())?,
            compiler: self.compiler,
            outbound: Arc::new(OutboundPolicy {
                rules: self.allow_outbound.clone(),
                max_requests: self.max_outbound_requests,
                connect_timeout: self.outbound_timeout,
                first_byte_timeout: self.outbound_timeout,
                ..OutboundPolicy::default()
            }),
        })
    }
}
