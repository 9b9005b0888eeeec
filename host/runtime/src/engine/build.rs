//! The wasmtime engine wharf runs every guest on, and the epoch ticker.

use crate::RuntimeConfig;
use std::sync::{Mutex, OnceLock};
use wasmtime::{
    Config, Enabled, Engine, EngineWeak, InstanceAllocationStrategy, OptLevel,
    PoolingAllocationConfig, Strategy,
};

/// Bytes at the start of each linear memory kept resident between instances.
const KEEP_RESIDENT_MEMORY: usize = 1 << 20;
/// Bytes of each table kept resident between instances.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
/// Bytes of each async stack kept resident between instances.
const KEEP_RESIDENT_STACK: usize = 64 << 10;
/// Slots released before their memory is decommitted in one go.
const DECOMMIT_BATCH: usize = 16;

/// Which code generator an engine compiles with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// The optimizing compiler.
    Cranelift,
    /// The baseline compiler: one pass, no optimization.
    Winch,
}

impl std::fmt::Display for Compiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cranelift => "cranelift",
            Self::Winch => "winch",
        })
    }
}

/// What an engine's code is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Code that is kept, on disk and in the shared store.
    Kept,
    /// Code compiled as fast as possible, served until the kept code is
    /// ready.
    Provisional,
}

/// Builds an engine compiling with `compiler` for `purpose`: component
/// model, epoch interruption, copy-on-write memory images and the pooling
/// instance allocator sized from `config`. Each engine has its own pool.
pub(crate) fn build(
    config: &RuntimeConfig,
    compiler: Compiler,
    purpose: Purpose,
) -> wasmtime::Result<Engine> {
    let instances = config.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // A component is a handful of core modules (the app, plus shims that
        // wit-component adds); adapted preview1 modules carry a second memory.
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
        // Every request gets a fresh instance, so the cost of resetting a
        // slot is paid per request. Keeping the low pages of memories,
        // tables and stacks resident (and wiping them with memset) avoids a
        // page fault per touched page and an madvise, with its TLB
        // shootdown, per instance; PAGEMAP_SCAN (Linux 6.7+) lets the reset
        // touch only the pages the guest dirtied. Decommits of the rest are
        // batched.
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .async_stack_keep_resident(KEEP_RESIDENT_STACK)
        .pagemap_scan(Enabled::Auto)
        .decommit_batch_size(DECOMMIT_BATCH);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        // wharf serves wasi:http 0.2 and wasi:cli 0.2, which need none of
        // the component-model-async machinery. Turning it off keeps its
        // per-store set-up out of every request, and with it the "future
        // dropped" error (and, under RUST_BACKTRACE, the backtrace) that
        // wasmtime otherwise builds when it drops each store.
        .concurrency_support(false)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .strategy(match compiler {
            Compiler::Cranelift => Strategy::Cranelift,
            Compiler::Winch => Strategy::Winch,
        });
    if purpose == Purpose::Provisional {
        // Winch compiles the guest's functions, but Cranelift still
        // compiles the trampolines between host and guest: unoptimized,
        // they compile faster, and provisional code is served only until
        // its recompile is done.
        wasm.cranelift_opt_level(OptLevel::None);
    }
    let engine = Engine::new(&wasm)?;
    EpochTicker::register(&engine);
    Ok(engine)
}

/// One thread for the whole process that advances the epoch of every live
/// engine each [`RuntimeConfig::EPOCH_TICK`], so that running guests yield
/// and have their deadlines checked.
struct EpochTicker;

impl EpochTicker {
    fn engines() -> &'static Mutex<Vec<EngineWeak>> {
        static ENGINES: OnceLock<Mutex<Vec<EngineWeak>>> = OnceLock::new();
        ENGINES.get_or_init(|| {
            std::thread::Builder::new()
                .name("wharf-epoch".into())
                .spawn(Self::run)
                .expect("spawning the epoch ticker thread");
            Mutex::new(Vec::new())
        })
    }

    fn register(engine: &Engine) {
        let mut engines = Self::engines().lock().unwrap_or_else(|e| e.into_inner());
        engines.push(engine.weak());
    }

    fn run() {
        loop {
            std::thread::sleep(RuntimeConfig::EPOCH_TICK);
            let mut engines = Self::engines().lock().unwrap_or_else(|e| e.into_inner());
            engines.retain(|weak| match weak.upgrade() {
                Some(engine) => {
                    engine.increment_epoch();
                    true
                }
                None => false,
            });
        }
    }
}
