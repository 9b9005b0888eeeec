//! `wharf new`: scaffolded projects build with their one command and serve.

use crate::harness::{Wharf, client, wharf_cli};
use anyhow::{Context, Result, ensure};
use std::path::Path;
use std::process::Command;

/// Runs `command` in `dir` with the host build's variables removed, so it
/// builds the project as an app author's shell would.
fn build(command: &mut Command, dir: &Path) -> Result<()> {
    let output = command
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()?;
    ensure!(
        output.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

fn scaffold(name: &str, lang: &str, dir: &Path) -> Result<()> {
    let dir = dir.to_str().expect("utf-8");
    let (status, stdout, stderr) = wharf_cli(&["new", name, "--lang", lang, "--dir", dir])?;
    ensure!(status.success(), "wharf new failed: {stderr}");
    ensure!(stdout.contains("wharf deploy"), "{stdout}");
    Ok(())
}

#[tokio::test]
async fn a_new_rust_project_builds_and_serves() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let project = tmp.path().join("demo-app");
    scaffold("demo-app", "rust", &project)?;
    build(Command::new("cargo").args(["build", "--release"]), &project)?;
    let wasm = project.join("target/wasm32-wasip2/release/demo_app.wasm");
    let server = Wharf::run(wasm.to_str().expect("utf-8"), &[])?;
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "Hello from demo-app!\n");
    Ok(())
}

/// The Rust examples build with `cargo component build` too (a
/// wasm32-wasip1 build, adapted by cargo-component), and `router` serves.
#[tokio::test]
async fn the_examples_build_with_cargo_component() -> Result<()> {
    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests");
    // Beside the other guest builds, so repeated runs are incremental.
    let target_dir = Path::new(wharf_test_artifacts::ROUTER)
        .parent()
        .and_then(Path::parent)
        .expect("guests are built under the target directory")
        .join("guests-component");
    let examples = ["hello", "echo", "router", "fetch"];
    let packages: Vec<&str> = examples.iter().flat_map(|name| ["-p", name]).collect();
    // cargo-component adapts only what cargo rebuilds; a fresh crate keeps
    // whatever file is there. Cleaning the examples (not their
    // dependencies) makes every run build and adapt them.
    build(
        Command::new("cargo")
            .args(["clean", "--release", "--target", "wasm32-wasip1"])
            .args(&packages)
            .arg("--target-dir")
            .arg(&target_dir),
        &guests,
    )?;
    build(
        Command::new("cargo")
            .args(["component", "build", "--release", "--locked"])
            .args(&packages)
            .arg("--target-dir")
            .arg(&target_dir)
            .env("PATH", tools_path()?),
        &guests,
    )?;
    for example in examples {
        let wasm = target_dir.join(format!("wasm32-wasip1/release/{example}.wasm"));
        let bytes = std::fs::read(&wasm)
            .with_context(|| format!("cargo component build wrote no {}", wasm.display()))?;
        ensure!(
            bytes.get(4..8) == Some(&[0x0d, 0x00, 0x01, 0x00][..]),
            "{} is not a component",
            wasm.display()
        );
    }
    let wasm = target_dir.join("wasm32-wasip1/release/router.wasm");
    let server = Wharf::run(wasm.to_str().expect("utf-8"), &[])?;
    let response = client().get(server.url("/hello/wasip1")).send().await?;
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = response.json().await?;
    assert_eq!(json["greeting"], "Hello, wasip1!");
    Ok(())
}

/// `PATH` with the directory scripts/setup.sh installs tools into in front,
/// failing with what to run when cargo-component is not there.
fn tools_path() -> Result<std::ffi::OsString> {
    let tools = std::env::var_os("WHARF_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").expect("HOME is set")).join(".cache/wharf/tools")
        })
        .join("bin");
    let mut dirs = vec![tools.clone()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    ensure!(
        dirs.iter().any(|dir| dir.join("cargo-component").is_file()),
        "cargo-component is not installed (looked in {} and PATH); run scripts/setup.sh --tests",
        tools.display()
    );
    Ok(std::env::join_paths(dirs)?)
}

#[tokio::test]
async fn a_new_zig_project_builds_and_serves() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let project = tmp.path().join("demo-zig");
    scaffold("demo-zig", "zig", &project)?;
    build(
        Command::new("python3").args([
            "-m",
            "ziglang",
            "build-exe",
            "main.zig",
            "-target",
            "wasm32-wasi",
            "-O",
            "ReleaseSmall",
            "-femit-bin=demo-zig.wasm",
        ]),
        &project,
    )?;
    let wasm = project.join("demo-zig.wasm");
    let server = Wharf::run(wasm.to_str().expect("utf-8"), &[])?;
    let response = client().post(server.url("/hi")).body("abc").send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await?,
        "Hello from demo-zig! (POST /hi, 3 body bytes)\n"
    );
    Ok(())
}

#[tokio::test]
async fn new_refuses_a_non_empty_directory_and_bad_names() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    std::fs::write(tmp.path().join("keep.txt"), "mine")?;
    let dir = tmp.path().to_str().expect("utf-8");
    let (status, _, stderr) = wharf_cli(&["new", "demo", "--dir", dir])?;
    assert!(!status.success());
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt"))?,
        "mine"
    );
    let (status, _, stderr) = wharf_cli(&["new", "Bad_Name"])?;
    assert!(!status.success());
    assert!(stderr.contains("not a valid app name"), "{stderr}");
    Ok(())
}
