//! `wharf new`: scaffold a guest project.

use anyhow::{Context, bail};
use std::path::PathBuf;
use wharf_registry::AppName;

/// The language of a new project.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Lang {
    /// A wasi:http component in Rust, built with `cargo build --release`.
    Rust,
    /// A CGI-style command in Zig, built with `zig build-exe`.
    Zig,
}

/// The files of each template: path in the project, contents.
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../templates/rust/cargo-config.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
    ("README.md", include_str!("../../templates/rust/README.md")),
    (".gitignore", include_str!("../../templates/rust/gitignore")),
];
// The Rust guest SDK, embedded by build.rs and vendored into new Rust
// projects under `vendor/wharf-sdk`.
include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));
/// Where a Rust project keeps its copy of the SDK.
const SDK_DIR: &str = "vendor/wharf-sdk";

const ZIG: &[(&str, &str)] = &[
    ("main.zig", include_str!("../../templates/zig/main.zig")),
    ("README.md", include_str!("../../templates/zig/README.md")),
    (".gitignore", include_str!("../../templates/zig/gitignore")),
];

/// Create a new app project that builds with one command and deploys with
/// `wharf deploy`. Its README says how.
#[derive(clap::Args)]
pub struct NewCommand {
    /// The app's name, also its directory and its `--app` when deployed.
    name: AppName,

    /// The language.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,

    /// Where to create it [default: ./NAME].
    #[arg(long)]
    dir: Option<PathBuf>,
}

impl NewCommand {
    pub fn execute(self) -> anyhow::Result<()> {
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(self.name.as_str()));
        if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
            bail!(
                "{} already exists and is not empty; pick another --dir",
                dir.display()
            );
        }
        let files = match self.lang {
            Lang::Rust => RUST,
            Lang::Zig => ZIG,
        };
        let name = self.name.as_str();
        let crate_name = name.replace('-', "_");
        for (path, template) in files {
            let path = dir.join(path);
            let text = template
                .replace("{{name}}", name)
                .replace("{{crate}}", &crate_name);
            write_file(&path, &text)?;
        }
        if let Lang::Rust = self.lang {
            for (path, contents) in SDK_FILES {
                write_file(&dir.join(SDK_DIR).join(path), contents)?;
            }
        }
        println!("created {} in {}", name, dir.display());
        match self.lang {
            Lang::Rust => println!(
                "build it with `cargo build --release` there, then \
                 `wharf deploy target/wasm32-wasip2/release/{crate_name}.wasm --app {name}`"
            ),
            Lang::Zig => println!(
                "build it with `python3 -m ziglang build-exe main.zig -target wasm32-wasi \
                 -O ReleaseSmall -femit-bin={name}.wasm` there, then \
                 `wharf deploy {name}.wasm --app {name}`"
            ),
        }
        Ok(())
    }
}

/// Writes `contents` to `path`, creating its directory.
fn write_file(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}
