//! Starting the real `wharf` binary and talking to it.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a server may take to print its listening line.
const STARTUP: Duration = Duration::from_secs(60);

/// A running `wharf` process. Killed when dropped.
pub struct Wharf {
    child: Child,
    base: String,
    admin: Option<String>,
    metrics: Option<String>,
    tls: Option<String>,
    log: Arc<Mutex<String>>,
}

/// Which of its listeners a line of `wharf serve` announces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Announced {
    Public,
    Tls,
    Admin,
    Metrics,
}

impl Wharf {
    /// Runs `wharf run COMPONENT --listen 127.0.0.1:0 ARGS...` and waits until
    /// it prints the address it bound. Compiled code is kept between runs in
    /// one directory for the whole suite, not in the user's cache, unless
    /// `ARGS` name another `--cache-dir`.
    pub fn run(component: &str, args: &[&str]) -> Result<Self> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wharf"));
        command
            .args(["run", component, "--listen", "127.0.0.1:0"])
            .args(args)
            .env(
                "WHARF_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-cache"),
            );
        Self::start(command, false, false, false)
    }

    /// Runs `wharf serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0
    /// --data-dir DATA_DIR ARGS...` with `env` (and `--metrics-listen
    /// 127.0.0.1:0` unless `ARGS` say otherwise), and waits until it prints
    /// the public and admin addresses.
    pub fn serve(data_dir: &Path, args: &[&str], env: &[(&str, String)]) -> Result<Self> {
        Self::serve_listening("127.0.0.1:0", data_dir, args, env)
    }

    /// [`Wharf::serve`] with the public listener on `listen`, for a server
    /// that must come back on the same address after a restart.
    pub fn serve_listening(
        listen: &str,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Result<Self> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wharf"));
        command
            .args(["serve", "--listen", listen, "--admin-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("WHARF_ADMIN_TOKEN");
        if !args.contains(&"--metrics-listen") {
            command.args(["--metrics-listen", "127.0.0.1:0"]);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let metrics_off = args.windows(2).any(|w| w == ["--metrics-listen", "off"]);
        let with_tls = args.contains(&"--tls-listen");
        Self::start(command, true, !metrics_off, with_tls)
    }

    /// Starts `command`, a server of another build (the container image's
    /// entrypoint), and waits until it prints its public, admin and metrics
    /// addresses.
    pub fn serve_command(command: Command) -> Result<Self> {
        Self::start(command, true, true, false)
    }

    fn start(
        mut command: Command,
        with_admin: bool,
        with_metrics: bool,
        with_tls: bool,
    ) -> Result<Self> {
        let mut child = command
            .env("WHARF_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning wharf")?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, listening) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                for (prefix, which) in [
                    ("listening on https://", Announced::Tls),
                    ("listening on http://", Announced::Public),
                    ("admin listening on ", Announced::Admin),
                    ("metrics listening on ", Announced::Metrics),
                ] {
                    if let Some(addr) = line.strip_prefix(prefix) {
                        let addr = match which {
                            Announced::Public => format!("http://{addr}"),
                            Announced::Tls => format!("https://{addr}"),
                            _ => addr.to_owned(),
                        };
                        let _ = found.send((which, addr));
                    }
                }
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + STARTUP;
        let (mut base, mut admin, mut metrics, mut tls): (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = (None, None, None, None);
        loop {
            if let Some(base) = &base
                && (admin.is_some() || !with_admin)
                && (metrics.is_some() || !with_metrics)
                && (tls.is_some() || !with_tls)
            {
                return Ok(Self {
                    child,
                    base: base.clone(),
                    admin,
                    metrics,
                    tls,
                    log,
                });
            }
            match listening.recv_timeout(Duration::from_millis(50)) {
                Ok((Announced::Admin, addr)) => admin = Some(addr),
                Ok((Announced::Public, addr)) => base = Some(addr),
                Ok((Announced::Metrics, addr)) => metrics = Some(addr),
                Ok((Announced::Tls, addr)) => tls = Some(addr),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Some(status) = child.try_wait()? {
                        std::thread::sleep(Duration::from_millis(100));
                        bail!(
                            "wharf exited with {status} before listening:\n{}",
                            log.lock().expect("log lock")
                        );
                    }
                }
                Err(_) => bail!(
                    "wharf did not print its listening line:\n{}",
                    log.lock().expect("log lock")
                ),
            }
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The admin API's base URL, `http://127.0.0.1:PORT`.
    pub fn admin(&self) -> &str {
        self.admin.as_deref().expect("started with `serve`")
    }

    /// The metrics listener's base URL, `http://127.0.0.1:PORT`.
    pub fn metrics(&self) -> &str {
        self.metrics
            .as_deref()
            .expect("started with `serve` and a metrics listener")
    }

    /// The TLS listener's base URL, `https://127.0.0.1:PORT`.
    pub fn tls(&self) -> &str {
        self.tls.as_deref().expect("started with --tls-listen")
    }

    /// The public listener's port.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    /// GETs `path` with `Host: HOST` (plus the port), as a browser would for
    /// `http://HOST:PORT/PATH`.
    pub async fn get_host(&self, host: &str, path: &str) -> Result<reqwest::Response> {
        Ok(client()
            .get(self.url(path))
            .header(reqwest::header::HOST, format!("{host}:{}", self.port()))
            .send()
            .await?)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Waits up to 5 s for `needle` to appear in the log (log lines are
    /// written by a background thread, a moment after the event), and
    /// returns the log.
    pub fn wait_for_log(&self, needle: &str) -> Result<String> {
        self.wait_for_log_within(needle, Duration::from_secs(5))
    }

    /// Waits up to `timeout` for `needle` to appear in the log, for work
    /// the server does in the background (such as compiling).
    pub fn wait_for_log_within(&self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return Ok(log);
            }
            if Instant::now() > deadline {
                bail!("`{needle}` not in the log after {timeout:?}:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Sends a Unix signal to the server.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) on a pid we spawned and have not reaped.
        #[expect(unsafe_code, reason = "libc::kill has no safe wrapper in std")]
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits up to `timeout` for the server to exit.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("wharf still running after {timeout:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Wharf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `wharf ARGS...` to completion and returns its status and stderr.
pub fn wharf_cli(args: &[&str]) -> Result<(ExitStatus, String, String)> {
    wharf_cli_env(args, &[])
}

/// Runs `wharf ARGS...` with extra environment variables.
pub fn wharf_cli_env(
    args: &[&str],
    env: &[(&str, String)],
) -> Result<(ExitStatus, String, String)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wharf"));
    command
        .args(args)
        .stdin(Stdio::null())
        .env_remove("WHARF_SERVER")
        .env_remove("WHARF_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output()?;
    Ok((
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// A port free on 127.0.0.1 now, for a process that must keep one address
/// across restarts or cannot pick its own (haproxy). Another process may
/// take it before it is bound again; port 0 is better wherever it works.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The hex SHA-256 of a file, computed independently of wharf.
pub fn sha256_hex(path: &str) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path)?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// An HTTP client that never reuses connections across tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// A plain HTTP server on 127.0.0.1 for guests to call: it answers every
/// request with 200, `upstream saw METHOD PATH`, and counts the requests.
pub struct Upstream {
    /// The port it listens on.
    pub port: u16,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    traceparents: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Starts it on the current tokio runtime.
    pub async fn start() -> Result<Self> {
        use hyper::service::service_fn;
        use std::sync::atomic::Ordering;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let traceparents = Arc::new(Mutex::new(Vec::new()));
        let (counter, seen) = (hits.clone(), traceparents.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counter, seen) = (counter.clone(), seen.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            counter.fetch_add(1, Ordering::SeqCst);
                            if let Some(value) = request.headers().get("traceparent") {
                                let value = value.to_str().unwrap_or_default().to_owned();
                                seen.lock().expect("traceparents lock").push(value);
                            }
                            let text =
                                format!("upstream saw {} {}\n", request.method(), request.uri());
                            async move {
                                hyper::Response::builder()
                                    .header("content-type", "text/x-upstream")
                                    .body(http_body_util::Full::new(bytes::Bytes::from(text)))
                            }
                        });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Self {
            port,
            hits,
            traceparents,
            task,
        })
    }

    /// The `traceparent` headers of the requests it has answered.
    pub fn traceparents(&self) -> Vec<String> {
        self.traceparents.lock().expect("traceparents lock").clone()
    }

    /// How many requests it has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A component that exports the HTTP handler's name but imports
/// `acme:clock/tower@1.0.0`, an interface wharf does not provide. Written
/// in the component text format, since no toolchain would build one on
/// purpose.
pub fn component_importing_unknown_interface() -> Result<Vec<u8>> {
    Ok(wat::parse_str(
        r#"(component
            (import "acme:clock/tower@1.0.0" (instance))
            (instance $handler)
            (export "wasi:http/incoming-handler@0.2.12" (instance $handler)))"#,
    )?)
}
