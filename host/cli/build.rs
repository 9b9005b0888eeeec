//! Embeds the Rust guest SDK (`guests/sdk`, with its WIT) so that
//! `wharf new --lang rust` can vendor it into a new project.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let sdk = manifest_dir
        .join("../../guests/sdk")
        .canonicalize()
        .expect("guests/sdk exists");
    let wit = manifest_dir
        .join("../../wit")
        .canonicalize()
        .expect("wit exists");
    println!("cargo:rerun-if-changed={}", sdk.display());
    println!("cargo:rerun-if-changed={}", wit.display());

    // What a published wharf-sdk package holds; anything else lying in the
    // directory (build output, editor files) stays out.
    let mut files = Vec::new();
    for part in [
        "Cargo.toml",
        "README.md",
        "src",
        "wit",
        "macro/Cargo.toml",
        "macro/src",
    ] {
        let path = sdk.join(part);
        if std::fs::metadata(&path).expect("SDK part exists").is_dir() {
            collect(&sdk, &path, &mut files);
        } else {
            files.push((part.to_owned(), path));
        }
    }
    files.sort();
    assert!(
        files.iter().any(|(path, _)| path == "wit/world.wit"),
        "guests/sdk/wit must lead to the world (a link to ../../wit)"
    );
    let mut code = String::from(
        "/// The SDK's files: path inside the SDK directory, contents.\n\
         pub const SDK_FILES: &[(&str, &str)] = &[\n",
    );
    for (relative, absolute) in &files {
        println!("cargo:rerun-if-changed={}", absolute.display());
        code += &format!(
            "    ({relative:?}, include_str!({:?})),\n",
            absolute.to_str().expect("UTF-8 path")
        );
    }
    code += "];\n";
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("sdk_files.rs");
    std::fs::write(out, code).expect("writing sdk_files.rs");
}

/// Every file under `dir` (following the `wit` link), skipping hidden ones,
/// as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("reading the SDK directory")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        // `metadata` follows links, so `wit` is read as the directory it names.
        let metadata = std::fs::metadata(&path).expect("SDK file metadata");
        if metadata.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("under the SDK root")
                .components()
                .map(|part| part.as_os_str().to_str().expect("UTF-8 path"))
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
}
