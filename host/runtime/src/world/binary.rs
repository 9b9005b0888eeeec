//! The sections of a WebAssembly binary, walked without parsing what is in
//! them, so a large component's nested modules cost nothing to step over.

use wasm_encoder::Encode;
use wasmparser::BinaryReader;

/// The bytes of a binary's preamble (magic and version).
pub(crate) const PREAMBLE: usize = 8;

/// One section of a module or component: its id and its contents.
pub(crate) struct Section<'a> {
    pub(crate) id: u8,
    pub(crate) contents: &'a [u8],
}

/// The sections of a module or component, after the preamble, or `None`
/// when the binary is cut short or malformed.
pub(crate) fn sections(binary: &[u8]) -> Option<Vec<Section<'_>>> {
    let mut reader = BinaryReader::new(binary.get(PREAMBLE..)?, PREAMBLE);
    let mut sections = Vec::new();
    while !reader.eof() {
        let id = reader.read_u8().ok()?;
        let size = reader.read_var_u32().ok()?;
        let contents = reader.read_bytes(usize::try_from(size).ok()?).ok()?;
        sections.push(Section { id, contents });
    }
    Some(sections)
}

/// Writes `binary`'s preamble, then each of its `sections`, with the
/// contents of the i-th replaced where `replaced[i]` has new contents.
pub(crate) fn reassemble(
    binary: &[u8],
    sections: &[Section<'_>],
    replaced: &[Option<Vec<u8>>],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(binary.len() + 64);
    out.extend_from_slice(&binary[..PREAMBLE]);
    for (section, new) in sections.iter().zip(replaced) {
        push_section(
            &mut out,
            section.id,
            new.as_deref().unwrap_or(section.contents),
        );
    }
    out
}

/// Appends one section to `out`.
pub(crate) fn push_section(out: &mut Vec<u8>, id: u8, contents: &[u8]) {
    out.push(id);
    contents.len().encode(out);
    out.extend_from_slice(contents);
}
