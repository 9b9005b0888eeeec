//! The container image `scripts/build-image.sh` builds (`make test` builds
//! it as `localhost/wharf:test` before the suite runs).
//!
//! podman builds the image and exports its root filesystem; the test then
//! starts the image's entrypoint in that filesystem the way a container
//! runtime would: chroot, the image's working directory, user and
//! environment. `podman run` cannot start containers on the machines this
//! suite runs on (crun: "cgroups in hybrid mode not supported"), so chroot
//! stands in for the runtime; everything it starts is the image's own.

use crate::harness::{Wharf, client, free_port, wharf_cli_env};
use anyhow::{Context, Result, bail, ensure};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use wharf_test_artifacts as guests;

/// The image under test: `WHARF_TEST_IMAGE`, or what `make test` builds.
fn image() -> String {
    std::env::var("WHARF_TEST_IMAGE").unwrap_or_else(|_| "localhost/wharf:test".to_owned())
}

/// What a runtime reads from the image to start it.
#[derive(Debug)]
struct ImageConfig {
    uid: u32,
    gid: u32,
    env: Vec<(String, String)>,
    working_dir: String,
    command: Vec<String>,
    health_check: Vec<String>,
}

impl ImageConfig {
    fn inspect(image: &str) -> Result<Self> {
        let output = Command::new("podman")
            .args(["image", "inspect", image])
            .output()
            .context("running podman (scripts/setup.sh --tests installs it)")?;
        ensure!(
            output.status.success(),
            "no image {image}: build it with `scripts/build-image.sh {image}`\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let inspected: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let image = &inspected[0];
        let config = &image["Config"];
        let strings = |value: &serde_json::Value| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let user = config["User"].as_str().unwrap_or_default();
        let (uid, gid) = user
            .split_once(':')
            .with_context(|| format!("the image's user `{user}` is not UID:GID"))?;
        let env = strings(&config["Env"])
            .into_iter()
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        let mut command = strings(&config["Entrypoint"]);
        command.extend(strings(&config["Cmd"]));
        // Docker-format images keep the health check beside the config.
        let health = if config["Healthcheck"].is_object() {
            &config["Healthcheck"]
        } else {
            &image["Healthcheck"]
        };
        let health_check = strings(&health["Test"]);
        Ok(Self {
            uid: uid.parse()?,
            gid: gid.parse()?,
            env,
            working_dir: config["WorkingDir"].as_str().unwrap_or("/").to_owned(),
            command,
            health_check,
        })
    }

    fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|(n, v)| (n == name).then_some(v.as_str()))
    }

    /// `argv` in the image's root filesystem `root`, as its user, in its
    /// working directory, with its environment and then `overrides`.
    fn command_in(&self, root: &Path, argv: &[String], overrides: &[(&str, String)]) -> Command {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).env_clear();
        command.envs(self.env.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        for (name, value) in overrides {
            command.env(name, value);
        }
        let root = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).expect("path");
        let working_dir = std::ffi::CString::new(self.working_dir.as_str()).expect("path");
        let (uid, gid) = (self.uid, self.gid);
        // SAFETY: between fork and exec only async-signal-safe calls run:
        // chroot, chdir, setgroups, setgid and setuid.
        #[expect(unsafe_code, reason = "entering the image's root as its user")]
        unsafe {
            command.pre_exec(move || {
                for rc in [
                    libc::chroot(root.as_ptr()),
                    libc::chdir(working_dir.as_ptr()),
                    libc::setgroups(0, std::ptr::null()),
                    libc::setgid(gid),
                    libc::setuid(uid),
                ] {
                    if rc != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        command
    }
}

/// Unpacks the image's root filesystem into `root`.
fn export(image: &str, root: &Path) -> Result<()> {
    let created = Command::new("podman").args(["create", image]).output()?;
    ensure!(
        created.status.success(),
        "podman create: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let id = String::from_utf8(created.stdout)?.trim().to_owned();
    let mut export = Command::new("podman")
        .args(["export", &id])
        .stdout(Stdio::piped())
        .spawn()?;
    let unpacked = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(root)
        .stdin(export.stdout.take().expect("piped"))
        .status()?;
    let exported = export.wait()?;
    let removed = Command::new("podman").args(["rm", &id]).output()?;
    ensure!(
        exported.success() && unpacked.success(),
        "podman export failed"
    );
    ensure!(removed.status.success(), "podman rm {id} failed");
    Ok(())
}

/// The image holds wharf without debug sections, its libraries and CA
/// certificates, a non-root user owning `/data` alone, and a health check;
/// its entrypoint binds `$PORT`, takes a deploy made from outside, answers
/// for the app, passes its own health check, and drains cleanly on SIGTERM.
#[tokio::test]
async fn the_image_serves_an_app_deployed_from_outside() -> Result<()> {
    let image = image();
    let config = ImageConfig::inspect(&image)?;
    assert_ne!(config.uid, 0, "the image runs as root: {config:?}");
    assert_eq!(config.env("WHARF_DATA_DIR"), Some("/data"), "{config:?}");
    assert_eq!(
        config.health_check.first().map(String::as_str),
        Some("CMD"),
        "{config:?}"
    );

    let unpacked = tempfile::tempdir()?;
    let root = unpacked.path();
    export(&image, root)?;
    let data = std::fs::metadata(root.join("data"))?;
    assert_eq!((data.uid(), data.gid()), (config.uid, config.gid));
    assert_eq!(data.permissions().mode() & 0o777, 0o700);
    let sections = Command::new("readelf")
        .args(["--section-headers", "--wide"])
        .arg(root.join("usr/local/bin/wharf"))
        .output()?;
    ensure!(sections.status.success(), "readelf failed");
    let sections = String::from_utf8(sections.stdout)?;
    assert!(sections.contains(".text"), "{sections}");
    assert!(
        !sections.contains(".debug_info") && !sections.contains(".debug_line"),
        "the binary in the image keeps its debug sections:\n{sections}"
    );
    assert!(root.join("etc/ssl/certs/ca-certificates.crt").is_file());
    let passwd = std::fs::read_to_string(root.join("etc/passwd"))?;
    assert!(
        passwd.contains(&format!(":{}:{}:", config.uid, config.gid)),
        "{passwd}"
    );

    // What an operator passes with `-e`: a port of its own, and the admin
    // and metrics listeners on loopback, where the test reaches them.
    let port = free_port()?;
    let overrides = [
        ("PORT", port.to_string()),
        ("WHARF_ADMIN_LISTEN", "127.0.0.1:0".to_owned()),
        ("WHARF_METRICS_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    let mut server = Wharf::serve_command(config.command_in(root, &config.command, &overrides))?;
    assert_eq!(server.url(""), format!("http://0.0.0.0:{port}"));

    let token = std::fs::read_to_string(root.join("data/admin-token"))
        .context("the server keeps its token in /data")?;
    let cli = [
        ("WHARF_SERVER", server.admin().to_owned()),
        ("WHARF_TOKEN", token.trim().to_owned()),
    ];
    let (status, _, stderr) = wharf_cli_env(&["deploy", guests::HELLO, "--app", "hello"], &cli)?;
    ensure!(status.success(), "deploy: {stderr}");
    let response = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", format!("hello.localhost:{port}"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "Hello from wharf!\n");
    // The compiled code is kept in the data directory, for the next start.
    let compiled: Vec<_> = std::fs::read_dir(root.join("data/compiled"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert!(
        compiled.iter().any(|name| name.ends_with(".cwasm")),
        "{compiled:?}\n{}",
        server.log()
    );

    // The health check asks the metrics listener the environment names.
    let metrics = server.metrics().trim_start_matches("http://").to_owned();
    let probe = config
        .command_in(
            root,
            &config.health_check[1..],
            &[("WHARF_METRICS_LISTEN", metrics)],
        )
        .output()?;
    assert!(
        probe.status.success(),
        "health check failed: {}",
        String::from_utf8_lossy(&probe.stderr)
    );

    server.signal(libc::SIGTERM);
    let status = server.wait(Duration::from_secs(30))?;
    let log = server.log();
    assert!(status.success(), "{status}: {log}");
    if !log.contains("stopped accepting; draining") {
        bail!("no drain in the log:\n{log}");
    }
    let warnings: Vec<_> = log
        .lines()
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
        .collect();
    assert!(warnings.is_empty(), "{log}");
    Ok(())
}
