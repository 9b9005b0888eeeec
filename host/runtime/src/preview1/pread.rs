//! The preview1 adapter's answer to a positional read of stdin, corrected.
//!
//! A `wasm32-wasip1` program that reads stdin with a positional read (Zig
//! 0.17's default `std.Io.File.Reader`, for one) calls `fd_pread(0, ...)`
//! first and falls back to plain reads when the answer is `ESPIPE`: what a
//! pipe answers on POSIX, and what wasmtime's own preview1 implementation
//! answers for stdin. The preview1 adapter that turns such a program into a
//! component answers `EINVAL` instead: its `fd_pread` looks for a file
//! descriptor and calls any other stream invalid. Zig takes `EINVAL` for a
//! bug and the program fails with `error: ReadFailed`.
//!
//! wharf gives guests no files, so in a wharf guest every `EINVAL` from the
//! adapter's `fd_pread` comes from that check. [`correct_adapter`] adds one
//! function to the adapter module that calls its `fd_pread` and turns
//! `EINVAL` into `ESPIPE`, and points the adapter's `fd_pread` export at
//! it. Imports, exports and types are unchanged, so the component around
//! the adapter still fits together. Everything else the adapter does
//! (including `fd_pwrite` and `fd_seek`, which answer `ESPIPE` already) is
//! left alone.

use crate::world::binary::{Section, push_section, reassemble, sections};
use wasm_encoder::{Encode, Function, Instruction, ValType};
use wasmparser::{
    BinaryReader, ExportSectionReader, ExternalKind, FunctionSectionReader, ImportSectionReader,
    TypeRef, TypeSectionReader,
};

/// Names this correction. It is part of the engine tag, so code compiled
/// before it (or under another version of it) is never loaded from disk.
pub(crate) const CORRECTION_TAG: &str = "preview1-pread-espipe-1";

/// A custom section that marks an adapter as corrected.
const MARKER: &str = "wharf:preview1-pread-espipe";

const ERRNO_INVAL: i32 = 28;
const ERRNO_SPIPE: i32 = 70;

/// Section ids, in components and in core modules.
const CUSTOM_SECTION: u8 = 0;
const COMPONENT_CORE_MODULE_SECTION: u8 = 1;
const COMPONENT_COMPONENT_SECTION: u8 = 4;
const MODULE_TYPE_SECTION: u8 = 1;
const MODULE_IMPORT_SECTION: u8 = 2;
const MODULE_FUNCTION_SECTION: u8 = 3;
const MODULE_EXPORT_SECTION: u8 = 7;
const MODULE_CODE_SECTION: u8 = 10;

/// `component` with the `fd_pread` of every preview1 adapter inside it
/// corrected, or `None` when it has no adapter to correct. A binary that
/// does not parse is left for the compiler to report.
pub fn correct_adapter(component: &[u8]) -> Option<Vec<u8>> {
    correct_component(component, 0)
}

/// How deep nested components are searched for an adapter. Toolchains nest
/// a level or two; deeper binaries are left as they are, so a crafted one
/// cannot exhaust the stack before the compiler has validated it.
const MAX_NESTING: usize = 16;

fn correct_component(component: &[u8], depth: usize) -> Option<Vec<u8>> {
    if depth > MAX_NESTING {
        return None;
    }
    let sections = sections(component)?;
    let replaced: Vec<Option<Vec<u8>>> = sections
        .iter()
        .map(|section| match section.id {
            COMPONENT_CORE_MODULE_SECTION => correct_module(section.contents),
            COMPONENT_COMPONENT_SECTION => correct_component(section.contents, depth + 1),
            _ => None,
        })
        .collect();
    if replaced.iter().all(Option::is_none) {
        return None;
    }
    Some(reassemble(component, &sections, &replaced))
}

/// The name of a custom section, from its contents.
fn custom_name(contents: &[u8]) -> Option<&str> {
    BinaryReader::new(contents, 0).read_string().ok()
}

/// What [`correct_module`] needs to know about a core module.
#[derive(Default)]
struct ModuleFacts {
    /// Whether it imports a WASI 0.2 interface, as an adapter does.
    imports_wasi: bool,
    /// The type index of every function, imported ones first.
    function_types: Vec<u32>,
    /// How many functions are imported.
    imported_functions: u32,
    /// Whether each type index is a function of the `fd_pread` shape.
    is_pread_type: Vec<bool>,
    /// The function `fd_pread` is exported as.
    pread: Option<u32>,
}

/// Reads what the correction needs from a module's sections.
fn facts(sections: &[Section<'_>]) -> Option<ModuleFacts> {
    let mut facts = ModuleFacts::default();
    let pread_params = [
        ValType::I32,
        ValType::I32,
        ValType::I32,
        ValType::I64,
        ValType::I32,
    ];
    for section in sections {
        let reader = BinaryReader::new(section.contents, 0);
        match section.id {
            MODULE_TYPE_SECTION => {
                for group in TypeSectionReader::new(reader).ok()? {
                    for ty in group.ok()?.into_types() {
                        let is_pread = match &ty.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(func) => {
                                func.results() == [wasmparser::ValType::I32]
                                    && func.params().len() == pread_params.len()
                                    && func
                                        .params()
                                        .iter()
                                        .zip(pread_params)
                                        .all(|(have, want)| same_type(*have, want))
                            }
                            _ => false,
                        };
                        facts.is_pread_type.push(is_pread);
                    }
                }
            }
            MODULE_IMPORT_SECTION => {
                for import in ImportSectionReader::new(reader).ok()?.into_imports() {
                    let import = import.ok()?;
                    facts.imports_wasi |= import.module.starts_with("wasi:");
                    if let TypeRef::Func(ty) = import.ty {
                        facts.function_types.push(ty);
                        facts.imported_functions += 1;
                    }
                }
            }
            MODULE_FUNCTION_SECTION => {
                for ty in FunctionSectionReader::new(reader).ok()? {
                    facts.function_types.push(ty.ok()?);
                }
            }
            MODULE_EXPORT_SECTION => {
                for export in ExportSectionReader::new(reader).ok()? {
                    let export = export.ok()?;
                    if export.name == "fd_pread" && export.kind == ExternalKind::Func {
                        facts.pread = Some(export.index);
                    }
                }
            }
            _ => {}
        }
    }
    Some(facts)
}

fn same_type(have: wasmparser::ValType, want: ValType) -> bool {
    matches!(
        (have, want),
        (wasmparser::ValType::I32, ValType::I32) | (wasmparser::ValType::I64, ValType::I64)
    )
}

/// The module with its `fd_pread` export corrected, if it is a preview1
/// adapter (it imports WASI 0.2 and exports `fd_pread` of the preview1
/// shape) not corrected before.
fn correct_module(module: &[u8]) -> Option<Vec<u8>> {
    let sections = sections(module)?;
    if sections
        .iter()
        .any(|s| s.id == CUSTOM_SECTION && custom_name(s.contents) == Some(MARKER))
    {
        return None;
    }
    let has = |id| sections.iter().any(|s| s.id == id);
    if !has(MODULE_FUNCTION_SECTION) || !has(MODULE_CODE_SECTION) {
        return None;
    }
    let facts = facts(&sections)?;
    let pread = facts.pread.filter(|_| facts.imports_wasi)?;
    let pread_type = *facts.function_types.get(usize::try_from(pread).ok()?)?;
    if !facts
        .is_pread_type
        .get(usize::try_from(pread_type).ok()?)
        .copied()
        .unwrap_or(false)
    {
        return None;
    }
    let corrected = u32::try_from(facts.function_types.len()).ok()?;

    let mut replaced = Vec::with_capacity(sections.len() + 1);
    for section in &sections {
        replaced.push(match section.id {
            MODULE_FUNCTION_SECTION => Some(append_item(section.contents, |out| {
                pread_type.encode(out);
            })?),
            MODULE_CODE_SECTION => Some(append_item(section.contents, |out| {
                corrected_pread(pread).encode(out);
            })?),
            MODULE_EXPORT_SECTION => Some(redirect_export(section.contents, pread, corrected)?),
            _ => None,
        });
    }
    let mut out = reassemble(module, &sections, &replaced);
    let mut marker = Vec::new();
    MARKER.encode(&mut marker);
    push_section(&mut out, CUSTOM_SECTION, &marker);
    Some(out)
}

/// A vector section's contents with one more item, written by `write`.
fn append_item(contents: &[u8], write: impl FnOnce(&mut Vec<u8>)) -> Option<Vec<u8>> {
    let mut reader = BinaryReader::new(contents, 0);
    let count = reader.read_var_u32().ok()?;
    let items = &contents[reader.current_position()..];
    let mut out = Vec::with_capacity(contents.len() + 32);
    count.checked_add(1)?.encode(&mut out);
    out.extend_from_slice(items);
    write(&mut out);
    Some(out)
}

/// The body of the corrected `fd_pread`: calls `original` with the same
/// arguments and answers `ESPIPE` where it answered `EINVAL`.
fn corrected_pread(original: u32) -> Function {
    let result = 5;
    let mut body = Function::new([(1, ValType::I32)]);
    for param in 0..5 {
        body.instruction(&Instruction::LocalGet(param));
    }
    body.instruction(&Instruction::Call(original))
        .instruction(&Instruction::LocalTee(result))
        .instruction(&Instruction::I32Const(ERRNO_SPIPE))
        .instruction(&Instruction::LocalGet(result))
        .instruction(&Instruction::I32Const(ERRNO_INVAL))
        .instruction(&Instruction::I32Ne)
        // The original answer unless it was EINVAL, else ESPIPE.
        .instruction(&Instruction::Select)
        .instruction(&Instruction::End);
    body
}

/// The export section's contents with the `fd_pread` function export
/// pointing at `to` instead of `from`. Only that index is rewritten.
fn redirect_export(contents: &[u8], from: u32, to: u32) -> Option<Vec<u8>> {
    let mut reader = BinaryReader::new(contents, 0);
    let count = reader.read_var_u32().ok()?;
    for _ in 0..count {
        let name = reader.read_string().ok()?;
        let kind = reader.read_u8().ok()?;
        let index_start = reader.current_position();
        let index = reader.read_var_u32().ok()?;
        let index_end = reader.current_position();
        // 0x00 is the function kind.
        if name == "fd_pread" && kind == 0x00 && index == from {
            let mut out = Vec::with_capacity(contents.len() + 4);
            out.extend_from_slice(&contents[..index_start]);
            to.encode(&mut out);
            out.extend_from_slice(&contents[index_end..]);
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER;

    /// A core module that reads stdin positionally (`fd_pread(0, ...)`),
    /// as Zig's default reader does first, and writes the errno it got to
    /// stdout as two decimal digits.
    fn reads_stdin_positionally() -> Vec<u8> {
        wat::parse_str(
            r#"(module
                (import "wasi_snapshot_preview1" "fd_pread"
                    (func $pread (param i32 i32 i32 i64 i32) (result i32)))
                (import "wasi_snapshot_preview1" "fd_write"
                    (func $write (param i32 i32 i32 i32) (result i32)))
                (memory (export "memory") 1)
                (func (export "_start") (local $errno i32)
                    ;; one iovec at 16: 8 bytes at 64
                    (i32.store (i32.const 16) (i32.const 64))
                    (i32.store (i32.const 20) (i32.const 8))
                    (local.set $errno (call $pread (i32.const 0) (i32.const 16) (i32.const 1)
                        (i64.const 0) (i32.const 32)))
                    (i32.store8 (i32.const 128)
                        (i32.add (i32.const 48) (i32.div_u (local.get $errno) (i32.const 10))))
                    (i32.store8 (i32.const 129)
                        (i32.add (i32.const 48) (i32.rem_u (local.get $errno) (i32.const 10))))
                    ;; one ciovec at 0: the two digits
                    (i32.store (i32.const 0) (i32.const 128))
                    (i32.store (i32.const 4) (i32.const 2))
                    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 40)))))"#,
        )
        .expect("valid text")
    }

    /// Runs `component` as a command with `stdin` as its standard input,
    /// under plain wasmtime-wasi, and returns what it wrote to stdout.
    async fn stdout_of(component: &[u8], stdin: &'static [u8]) -> String {
        use wasmtime::component::{Component, Linker, ResourceTable};
        use wasmtime_wasi::p2::bindings::Command;
        use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
        use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

        struct State(WasiCtx, ResourceTable);
        impl WasiView for State {
            fn ctx(&mut self) -> WasiCtxView<'_> {
                WasiCtxView {
                    ctx: &mut self.0,
                    table: &mut self.1,
                }
            }
        }
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link WASI");
        let stdout = MemoryOutputPipe::new(64);
        let wasi = WasiCtx::builder()
            .stdin(MemoryInputPipe::new(stdin))
            .stdout(stdout.clone())
            .build();
        let mut store = wasmtime::Store::new(&engine, State(wasi, ResourceTable::new()));
        let component = Component::new(&engine, component).expect("compiles");
        let command = Command::instantiate_async(&mut store, &component, &linker)
            .await
            .expect("instantiates");
        let _ = command.wasi_cli_run().call_run(&mut store).await;
        String::from_utf8(stdout.contents().to_vec()).expect("digits")
    }

    /// The behaviour itself: through the upstream adapter a positional read
    /// of stdin answers EINVAL (28); corrected, ESPIPE (70), as a pipe.
    #[tokio::test]
    async fn a_positional_read_of_stdin_answers_espipe_once_corrected() {
        let component =
            crate::preview1::adapt_core_module(&reads_stdin_positionally()).expect("adapts");
        assert_eq!(stdout_of(&component, b"body").await, "28");
        let corrected = correct_adapter(&component).expect("it carries the adapter");
        assert_eq!(stdout_of(&corrected, b"body").await, "70");
    }

    #[test]
    fn the_adapter_itself_is_corrected_once() {
        let adapter = WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER;
        let corrected = correct_module(adapter).expect("the command adapter has fd_pread");
        wasmparser::Validator::new()
            .validate_all(&corrected)
            .expect("the corrected adapter is valid");
        assert!(correct_module(&corrected).is_none(), "corrected twice");
    }

    #[test]
    fn modules_that_are_not_adapters_are_left_alone() {
        assert!(correct_module(&reads_stdin_positionally()).is_none());
        assert!(correct_adapter(b"not wasm at all").is_none());
    }

    #[test]
    fn an_adapted_component_is_corrected_and_still_valid() {
        let component =
            crate::preview1::adapt_core_module(&reads_stdin_positionally()).expect("adapts");
        let corrected = correct_adapter(&component).expect("it carries the adapter");
        assert_ne!(corrected, component);
        wasmparser::Validator::new()
            .validate_all(&corrected)
            .expect("the corrected component is valid");
        assert!(correct_adapter(&corrected).is_none(), "corrected twice");
    }
}
