//! The wasmtime engine wharf runs every guest on, and the epoch ticker.

use crate::RuntimeConfig;
use std::sync::{Mutex, OnceLock};
use wasmtime::{Config, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Builds the engine: component model, epoch interruption, copy-on-write
/// memory images and the pooling instance allocator sized from `config`.
pub(crate) fn build(config: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let instances = config.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // A component is a handful of core modules (the app, plus shims that
        // wit-component adds); adapted preview1 modules carry a second memory.
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
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
