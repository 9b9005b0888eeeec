//! Guests from other toolchains, unchanged: a Zig command that reads stdin
//! with Zig's default reader, as a core module and adapted, and a Python
//! wasi:http handler built with componentize-py, through `wharf run` (in
//! run.rs, one test per guest) and `wharf deploy` (here).

use crate::harness::client;
use crate::serve::AdminSession;
use anyhow::{Result, ensure};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use wharf_test_artifacts as guests;

/// The body sizes a Zig command must read to the end: empty, small, and
/// larger than any buffer on the way.
const BODY_SIZES: [usize; 3] = [0, 5, 1 << 20];

/// Posts bodies of every [`BODY_SIZES`], each once with `Content-Length`
/// and once streamed without it, to the `zig-cgi` guest at `url` (with
/// `Host: host` when given), and checks that it read each one whole.
pub(crate) async fn zig_reads_whole_bodies(url: &str, host: Option<&str>) -> Result<()> {
    for size in BODY_SIZES {
        for declared in [true, false] {
            let body = vec![b'z'; size];
            let mut request = client().post(url);
            if let Some(host) = host {
                request = request.header(reqwest::header::HOST, host);
            }
            request = if declared {
                request.body(body)
            } else {
                let chunks = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
                request.body(reqwest::Body::wrap_stream(chunks))
            };
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await?;
            ensure!(
                status == 200,
                "{size} bytes, content-length {declared}: {status} {text}"
            );
            ensure!(
                text.ends_with(&format!(" body_bytes={size}\n")),
                "{size} bytes, content-length {declared}: {text}"
            );
        }
    }
    Ok(())
}

/// The Python guest's routes at `url(path)`, with `Host: host` when given:
/// a greeting, a request header echoed, and a 1 MiB body streamed back.
pub(crate) async fn python_serves(url: impl Fn(&str) -> String, host: Option<&str>) -> Result<()> {
    let with_host = |request: reqwest::RequestBuilder| match host {
        Some(host) => request.header(reqwest::header::HOST, host),
        None => request,
    };
    let response = with_host(client().get(url("/"))).send().await?;
    ensure!(response.status() == 200, "GET /: {}", response.status());
    ensure!(response.headers()["x-guest"] == "python");
    ensure!(response.text().await? == "Hello from Python!\n");

    let response = with_host(client().get(url("/header")))
        .header("x-name", "wharf")
        .send()
        .await?;
    ensure!(response.status() == 200);
    ensure!(response.headers()["x-echo"] == "wharf");
    ensure!(response.text().await? == "hello, wharf\n");

    let body: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let chunks = futures::stream::iter(
        body.chunks(64 * 1024)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = with_host(client().post(url("/echo")))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await?;
    ensure!(
        response.status() == 200,
        "POST /echo: {}",
        response.status()
    );
    let echoed = response.bytes().await?;
    ensure!(echoed.len() == body.len(), "echoed {} bytes", echoed.len());
    ensure!(echoed == body, "the echo differs from what was sent");
    Ok(())
}

/// A TCP listener on loopback that records what each connection sends.
pub(crate) struct Listener {
    listener: tokio::net::TcpListener,
    pub(crate) port: u16,
}

impl Listener {
    pub(crate) async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        Ok(Self { listener, port })
    }

    /// What the next connection sent, or `None` if none came within a second.
    pub(crate) async fn next_message(&self) -> Result<Option<String>> {
        let accepted = tokio::time::timeout(Duration::from_secs(1), self.listener.accept()).await;
        let Ok(accepted) = accepted else {
            return Ok(None);
        };
        let (mut stream, _) = accepted?;
        let mut message = String::new();
        stream.read_to_string(&mut message).await?;
        Ok(Some(message))
    }
}

/// Asks the Python guest at `url` to open a TCP connection to `port`, and
/// returns its answer.
pub(crate) async fn python_connects(url: &str, host: Option<&str>, port: u16) -> Result<String> {
    let mut request = client().get(format!("{url}/connect?port={port}"));
    if let Some(host) = host {
        request = request.header(reqwest::header::HOST, host);
    }
    let response = request.send().await?;
    ensure!(response.status() == 200, "{}", response.status());
    Ok(response.text().await?)
}

/// Both Zig artifacts, deployed: the core module (which wharf adapts and
/// stores adapted) and the component adapted at build time (stored as it
/// is), read every body whole.
#[tokio::test]
async fn deployed_zig_commands_read_stdin_with_the_default_reader() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    for (file, app, adapted) in [
        (guests::ZIG_CGI_CORE, "zig-core", true),
        (guests::ZIG_CGI, "zig-adapted", false),
    ] {
        let deployed = d.deploy(file, app, &[])?;
        assert_eq!(deployed.adapted, adapted, "{app}");
        let host = format!("{app}.localhost:{}", d.server.port());
        zig_reads_whole_bodies(&d.server.url("/p"), Some(&host)).await?;
    }
    Ok(())
}

/// A Python app deployed to `wharf serve` is refused nothing it needs: its
/// deploy lists wasi:sockets as a capability, it serves, and its sockets
/// reach only what its outbound rules allow.
#[tokio::test]
async fn deployed_python_app_serves_and_its_sockets_follow_its_rules() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let deployed = d.deploy(guests::PYTHON_HTTP, "py", &[])?;
    assert!(
        deployed
            .capabilities
            .iter()
            .any(|capability| capability == "wasi:sockets"),
        "capabilities: {:?}",
        deployed.capabilities
    );
    let host = format!("py.localhost:{}", d.server.port());
    python_serves(|path| d.server.url(path), Some(&host)).await?;

    let listener = Listener::start().await?;
    let answer = python_connects(&d.server.url(""), Some(&host), listener.port).await?;
    assert!(answer.starts_with("refused"), "{answer}");
    assert_eq!(listener.next_message().await?, None);

    let rule = format!("http://127.0.0.1:{}", listener.port);
    let settings: serde_json::Value = d.cli(&["settings", "py", "--allow-outbound", &rule])?;
    assert!(settings.to_string().contains(&rule), "{settings}");
    // Settings reach the routes through the change feed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = python_connects(&d.server.url(""), Some(&host), listener.port).await?;
        if answer == "connected\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        listener.next_message().await?.as_deref(),
        Some("hello from python\n")
    );
    Ok(())
}
