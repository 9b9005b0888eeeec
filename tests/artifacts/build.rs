//! Builds every guest with scripts/build-guests.sh and generates, for each,
//! a path constant and an entry in the `foreach_guest!` macro.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
    let target_dir = out_dir.ancestors().nth(4).expect("target directory");
    let guests_dir = target_dir.join("guests");

    for path in ["guests", "scripts/build-guests.sh"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let status = Command::new("bash")
        .arg(root.join("scripts/build-guests.sh"))
        .arg(&guests_dir)
        // Flags meant for the host build must not leak into the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running scripts/build-guests.sh");
    assert!(status.success(), "building the guests failed");

    let mut names: Vec<String> = std::fs::read_dir(&guests_dir)
        .expect("guests were built")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "wasm").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();

    let mut code = String::new();
    for name in &names {
        let constant = name.to_uppercase().replace('-', "_");
        let path = guests_dir.join(format!("{name}.wasm"));
        code += &format!(
            "/// Path of the built `{name}` guest.\npub const {constant}: &str = {:?};\n",
            path_str(&path)
        );
    }
    code += "/// Calls `$mac!(guest_name)` once for every guest in guests/.\n#[macro_export]\nmacro_rules! foreach_guest {\n    ($mac:ident) => {\n";
    for name in &names {
        code += &format!("        $mac!({});\n", name.replace('-', "_"));
    }
    code += "    };\n}\n";
    std::fs::write(out_dir.join("guests.rs"), code).expect("writing guests.rs");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
