//! `wharf run`: one component from disk, through the real binary.
//!
//! Every guest in `guests/` has a test here named after it; the
//! `foreach_guest!` check below fails the build when one is missing.

use crate::harness::{Upstream, Wharf, client, sha256_hex, wharf_cli};
use crate::toolchains;
use anyhow::{Context, Result};
use std::time::{Duration, Instant};
use wharf_test_artifacts as guests;

macro_rules! assert_guest_has_test {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
wharf_test_artifacts::foreach_guest!(assert_guest_has_test);

/// Bytes 4..8 of a component: its version and layer, where a core module
/// has `[1, 0, 0, 0]`.
const COMPONENT_LAYER: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];

/// The request id a response carries.
fn request_id(response: &reqwest::Response) -> String {
    response.headers()["wharf-request-id"]
        .to_str()
        .expect("ascii header")
        .to_owned()
}

#[tokio::test]
async fn hello() -> Result<()> {
    let server = Wharf::run(guests::HELLO, &[])?;
    let response = client().get(server.url("/greet?x=1")).send().await?;
    assert_eq!(response.status(), 200);
    let digest = format!("sha256-{}", sha256_hex(guests::HELLO)?);
    assert_eq!(response.headers()["wharf-digest"], digest.as_str());
    let id = request_id(&response);
    assert_eq!(response.text().await?, "Hello from wharf!\n");

    // The guest's stdout reached the log, tagged with the request id.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log();
        if log.lines().any(|line| {
            line.contains("hello guest handling /greet?x=1")
                && line.contains(&format!("request_id={id}"))
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "guest stdout not in the log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn hello_v2() -> Result<()> {
    let server = Wharf::run(guests::HELLO_V2, &[])?;
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "Hello from wharf, v2!\n");
    Ok(())
}

/// A wasm32-wasip1 core module is adapted into a component and served.
#[tokio::test]
async fn hello_wasip1() -> Result<()> {
    let bytes = std::fs::read(guests::HELLO_WASIP1)?;
    assert_eq!(&bytes[4..8], [1, 0, 0, 0], "the artifact is a core module");
    let server = Wharf::run(guests::HELLO_WASIP1, &[])?;
    let response = client().get(server.url("/core")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "Hello from wharf!\n");
    let log = server.wait_for_log("hello guest handling /core")?;
    assert!(log.contains("adapted=true"), "log: {log}");
    Ok(())
}

/// Forwarding headers from a client that is not a trusted proxy never reach
/// the guest, which learns the client's address from wharf; from a trusted
/// proxy they do, and the client is the nearest untrusted hop, in the
/// guest's `wharf-client-ip` and `REMOTE_ADDR` and in the access log.
#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() -> Result<()> {
    let forwarded = |server: &Wharf| {
        client()
            .get(server.url("/client"))
            .header("x-forwarded-for", "203.0.113.9, 198.51.100.7")
            .header("forwarded", "for=192.0.2.44;proto=https")
            .header("x-forwarded-proto", "https")
            .header("wharf-client-ip", "6.6.6.6")
            .send()
    };
    let direct = Wharf::run(guests::CGI, &[])?;
    let answer = forwarded(&direct).await?.text().await?;
    assert_eq!(
        answer,
        "remote=127.0.0.1 client=127.0.0.1 x-forwarded-for= forwarded= x-forwarded-proto=\n"
    );

    let behind = Wharf::run(
        guests::CGI,
        &["--trusted-proxy", "127.0.0.1,198.51.100.0/24"],
    )?;
    let answer = forwarded(&behind).await?.text().await?;
    assert_eq!(
        answer,
        "remote=203.0.113.9 client=203.0.113.9 x-forwarded-for=203.0.113.9, 198.51.100.7 \
         forwarded=for=192.0.2.44;proto=https x-forwarded-proto=https\n",
        "X-Forwarded-For is read past the trusted hops, and Forwarded is not read"
    );
    let rfc = Wharf::run(
        guests::CGI,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy-header",
            "forwarded",
        ],
    )?;
    let answer = forwarded(&rfc).await?.text().await?;
    assert!(answer.starts_with("remote=192.0.2.44 "), "{answer}");
    let log = behind.wait_for_log("client=203.0.113.9")?;
    assert!(log.contains("wharf::access"), "{log}");

    let refused = Wharf::run(guests::CGI, &["--trusted-proxy", "10.0.0.0/33"]);
    let message = refused
        .err()
        .context("a bad network is refused")?
        .to_string();
    assert!(message.contains("10.0.0.0/33"), "{message}");
    Ok(())
}

/// Without `--listen`, a platform's `PORT` is where the public listener
/// binds, on every interface, as Cloud Run, Heroku and Fly expect.
#[tokio::test]
async fn port_from_the_environment_is_honoured() -> Result<()> {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["run", guests::HELLO])
        .env("PORT", port.to_string())
        .env_remove("WHARF_LISTEN")
        .env(
            "WHARF_CACHE_DIR",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-cache"),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("piped")?;
    let announced = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("listening on "));
    let answer = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await;
    child.kill()?;
    child.wait()?;
    assert_eq!(
        announced,
        Some(format!("listening on http://0.0.0.0:{port}"))
    );
    assert_eq!(answer?.text().await?, "Hello from wharf!\n");
    Ok(())
}

/// A plain WASI command is served CGI-style, streaming both ways.
#[tokio::test]
async fn cgi() -> Result<()> {
    let server = Wharf::run(guests::CGI, &[])?;
    let port = server.url("").rsplit(':').next().expect("port").to_owned();
    let response = client()
        .post(server.url("/echo?a=1"))
        .header("content-type", "text/plain")
        .body("hi there")
        .send()
        .await?;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-cgi"], "yes");
    assert!(response.headers().contains_key("wharf-request-id"));
    assert_eq!(
        response.text().await?,
        format!("method=POST path=/echo query=a=1 type=text/plain port={port} body=hi there\n")
    );

    let response = client().get(server.url("/plain")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.text().await?, "plain output\n");

    let response = client().get(server.url("/missing")).send().await?;
    assert_eq!(response.status(), 404);
    assert_eq!(response.text().await?, "no such page\n");

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = no_redirects.get(server.url("/redirect")).send().await?;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/elsewhere");

    let response = client().get(server.url("/inject")).send().await?;
    assert_eq!(response.status(), 502);
    assert!(response.headers().get("set-cookie").is_none());
    let body = response.text().await?;
    assert!(body.contains("malformed CGI response"), "{body}");

    // 1 MiB in through stdin, 3 MB out through stdout, neither held whole.
    let response = client()
        .post(server.url("/count"))
        .body(vec![b'a'; 1 << 20])
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "read 1048576 bytes\n");
    let response = client()
        .get(server.url("/big?bytes=3000000"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await?.len(), 3_000_000);

    let response = client().get(server.url("/fail")).send().await?;
    assert_eq!(response.status(), 500);
    let body = response.text().await?;
    // WASI 0.2 carries only success or failure, which wasmtime reports as 1.
    assert!(body.contains("exited with status 1"), "{body}");
    server.wait_for_log("cgi guest failing on purpose")?;
    Ok(())
}

/// A Zig program built for wasm32-wasi, adapted at build time into a
/// wasi:cli/run component, is served CGI-style, and reads stdin with Zig's
/// default reader to the end, whatever the body's size and framing.
#[tokio::test]
async fn zig_cgi() -> Result<()> {
    let bytes = std::fs::read(guests::ZIG_CGI)?;
    assert_eq!(&bytes[4..8], COMPONENT_LAYER, "the artifact is a component");
    let server = Wharf::run(guests::ZIG_CGI, &[])?;
    let response = client()
        .post(server.url("/x/y?q=1"))
        .body("hello zig")
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-guest"], "zig");
    assert_eq!(
        response.text().await?,
        "zig cgi: method=POST path=/x/y query=q=1 body_bytes=9\n"
    );
    toolchains::zig_reads_whole_bodies(&server.url("/x"), None).await
}

/// `wharf run` compiles a component it has not run before quickly, serves,
/// switches to optimized code in the background, and keeps that code in its
/// cache directory, where the next run finds it.
#[tokio::test]
async fn run_keeps_optimized_code_for_the_next_run() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().to_str().expect("utf-8");
    let args = ["--cache-dir", cache_dir];
    let server = Wharf::run(guests::HELLO_V2, &args)?;
    let log = server.wait_for_log("compiled quickly")?;
    assert!(log.contains("compiler=winch"), "log: {log}");
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.text().await?, "Hello from wharf, v2!\n");
    server.wait_for_log_within("switched to recompiled code", Duration::from_secs(120))?;
    drop(server);
    let kept = std::fs::read_dir(cache.path())?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "cwasm"))
        .count();
    assert_eq!(kept, 1, "one component's code is kept");

    let server = Wharf::run(guests::HELLO_V2, &args)?;
    let log = server.wait_for_log("loaded its compiled code from the cache")?;
    assert!(log.contains("compiler=cranelift"), "log: {log}");
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.text().await?, "Hello from wharf, v2!\n");
    Ok(())
}

/// The same Zig program as the core module Zig builds, which wharf adapts.
#[tokio::test]
async fn zig_cgi_core() -> Result<()> {
    let bytes = std::fs::read(guests::ZIG_CGI_CORE)?;
    assert_eq!(&bytes[4..8], [1, 0, 0, 0], "the artifact is a core module");
    let server = Wharf::run(guests::ZIG_CGI_CORE, &[])?;
    toolchains::zig_reads_whole_bodies(&server.url("/x"), None).await?;
    let log = server.wait_for_log("adapted=")?;
    assert!(log.contains("adapted=true"), "log: {log}");
    Ok(())
}

/// A Python wasi:http handler built with componentize-py serves as it is,
/// although CPython imports wasi:sockets.
#[tokio::test]
async fn python_http() -> Result<()> {
    let server = Wharf::run(guests::PYTHON_HTTP, &[])?;
    toolchains::python_serves(|path| server.url(path), None).await
}

/// A Python app's sockets reach a loopback listener only when a rule names
/// that address and port; a catch-all does not open loopback.
#[tokio::test]
async fn python_sockets_reach_only_what_the_rules_allow() -> Result<()> {
    let listener = toolchains::Listener::start().await?;
    let port = listener.port;
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1).max(1));
    // Each refusal is logged with its reason.
    for (refusing, logged) in [
        (vec![], "the app has no outbound rules"),
        (vec!["--allow-outbound", "*"], "it is a non-public address"),
        (
            vec!["--allow-outbound", &other_port],
            "no outbound rule allows this host and port",
        ),
    ] {
        let server = Wharf::run(guests::PYTHON_HTTP, &refusing)?;
        let answer = toolchains::python_connects(&server.url(""), None, port).await?;
        assert!(answer.starts_with("refused"), "{refusing:?}: {answer}");
        assert_eq!(listener.next_message().await?, None, "{refusing:?}");
        server.wait_for_log(logged)?;
    }
    let rule = format!("http://127.0.0.1:{port}");
    let server = Wharf::run(guests::PYTHON_HTTP, &["--allow-outbound", &rule])?;
    let answer = toolchains::python_connects(&server.url(""), None, port).await?;
    assert_eq!(answer, "connected\n");
    assert_eq!(
        listener.next_message().await?.as_deref(),
        Some("hello from python\n")
    );
    Ok(())
}

/// A Zig wasi:http handler on `wit-bindgen c` bindings reads a streamed
/// body of 1 MiB and answers.
#[tokio::test]
async fn zig_http() -> Result<()> {
    let bytes = std::fs::read(guests::ZIG_HTTP)?;
    assert_eq!(&bytes[4..8], COMPONENT_LAYER, "the artifact is a component");
    let server = Wharf::run(guests::ZIG_HTTP, &[])?;
    let response = client()
        .put(server.url("/upload?name=a"))
        .body(vec![7u8; 1 << 20])
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-guest"], "zig-http");
    assert_eq!(
        response.text().await?,
        "zig http: method=PUT path=/upload?name=a body_bytes=1048576\n"
    );
    Ok(())
}

/// A CGI request body over the limit gets 413, streamed or declared.
#[tokio::test]
async fn cgi_request_body_limit() -> Result<()> {
    let server = Wharf::run(guests::CGI, &["--max-request-body", "1KiB"])?;
    let response = client()
        .post(server.url("/count"))
        .body(vec![b'a'; 4096])
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    let chunks = futures::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 1024])));
    let response = client()
        .post(server.url("/count"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    Ok(())
}

#[tokio::test]
async fn echo() -> Result<()> {
    let server = Wharf::run(guests::ECHO, &[])?;
    // 1 MiB of bytes that are not all alike, so a reordering would show.
    let body: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let response = client()
        .post(server.url("/"))
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let echoed = response.bytes().await?;
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "echoed bytes differ");
    Ok(())
}

#[tokio::test]
async fn echo_streams_a_chunked_body() -> Result<()> {
    let server = Wharf::run(guests::ECHO, &[])?;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64u8).map(|i| Ok(vec![i; 16 * 1024])).collect();
    let expected: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.as_ref().expect("ok").clone())
        .collect();
    let response = client()
        .post(server.url("/"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await? == expected, "echoed bytes differ");
    Ok(())
}

/// 100 MiB through `echo` in an instance capped at 16 MiB of memory: the
/// SDK's streaming bodies never hold the whole body.
#[tokio::test]
async fn echo_streams_100_mib_in_16_mib_of_memory() -> Result<()> {
    use sha2::{Digest, Sha256};
    const CHUNK: usize = 256 * 1024;
    const CHUNKS: usize = 400; // 100 MiB
    let server = Wharf::run(
        guests::ECHO,
        &["--max-memory", "16MiB", "--max-request-body", "128MiB"],
    )?;
    let chunk =
        |i: usize| -> Vec<u8> { (0..CHUNK).map(|j| ((i * 31 + j * 7) % 251) as u8).collect() };
    let mut sent = Sha256::new();
    for i in 0..CHUNKS {
        sent.update(chunk(i));
    }
    let body = futures::stream::iter((0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(chunk(i))));
    let mut response = client()
        .post(server.url("/"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let mut received = Sha256::new();
    let mut length = 0;
    while let Some(piece) = response.chunk().await? {
        length += piece.len();
        received.update(&piece);
    }
    assert_eq!(length, CHUNK * CHUNKS);
    assert!(
        received.finalize() == sent.finalize(),
        "echoed bytes differ"
    );
    Ok(())
}

/// The SDK's router: path parameters, JSON in and out, 404 and 405.
#[tokio::test]
async fn router() -> Result<()> {
    let server = Wharf::run(guests::ROUTER, &[])?;
    let client = client();

    let response = client.get(server.url("/hello/ada")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let json: serde_json::Value = response.json().await?;
    assert_eq!(
        json,
        serde_json::json!({"greeting": "Hello, ada!", "name": "ada"})
    );

    let response = client
        .post(server.url("/sum"))
        .json(&serde_json::json!({"numbers": [1.5, 2, 3.5]}))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = response.json().await?;
    assert_eq!(json, serde_json::json!({"sum": 7.0, "count": 3}));

    let response = client.get(server.url("/files/a/b/c.txt")).send().await?;
    let json: serde_json::Value = response.json().await?;
    assert_eq!(json, serde_json::json!({"path": "a/b/c.txt"}));

    // Bad JSON is the client's fault, and the answer says what is wrong.
    let response = client
        .post(server.url("/sum"))
        .body("{\"numbers\": \"many\"}")
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let text = response.text().await?;
    assert!(
        text.contains("not valid JSON") && text.contains("expected a sequence"),
        "{text}"
    );

    let response = client
        .post(server.url("/sum"))
        .json(&serde_json::json!({"numbers": []}))
        .send()
        .await?;
    assert_eq!(response.status(), 400);

    let response = client.get(server.url("/sum")).send().await?;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");

    let response = client.get(server.url("/nowhere")).send().await?;
    assert_eq!(response.status(), 404);
    assert_eq!(response.text().await?, "no route for /nowhere\n");
    Ok(())
}

/// The `fetch` guest reaches an upstream that `--allow-outbound` names,
/// and nothing else.
#[tokio::test]
async fn fetch() -> Result<()> {
    let upstream = Upstream::start().await?;
    let other = Upstream::start().await?;
    let allowed = format!("http://127.0.0.1:{}", upstream.port);
    let server = Wharf::run(guests::FETCH, &["--allow-outbound", &allowed])?;
    let fetch = |url: String| client().get(server.url("/")).query(&[("url", url)]).send();

    let response = fetch(format!("{allowed}/data?x=1")).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/x-upstream");
    assert_eq!(response.text().await?, "upstream saw GET /data?x=1\n");
    assert_eq!(upstream.hits(), 1);

    // Another port on the same host is another origin.
    let response = fetch(format!("http://127.0.0.1:{}/", other.port)).await?;
    assert_eq!(response.status(), 502);
    let text = response.text().await?;
    assert!(text.contains("HttpRequestDenied"), "{text}");
    assert_eq!(other.hits(), 0);
    server.wait_for_log("denied outbound request")?;
    Ok(())
}

/// Under `*`, loopback stays out of reach, by address and by a name that
/// resolves to it, and so does every other private address.
#[tokio::test]
async fn fetch_under_a_catch_all_cannot_reach_private_addresses() -> Result<()> {
    let upstream = Upstream::start().await?;
    let server = Wharf::run(guests::FETCH, &["--allow-outbound", "*"])?;
    for url in [
        format!("http://127.0.0.1:{}/", upstream.port),
        format!("http://localhost:{}/", upstream.port),
        format!("http://[::ffff:127.0.0.1]:{}/", upstream.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
    ] {
        let response = client()
            .get(server.url("/"))
            .query(&[("url", &url)])
            .send()
            .await?;
        assert_eq!(response.status(), 502, "{url}");
        let text = response.text().await?;
        assert!(text.contains("DestinationIpProhibited"), "{url}: {text}");
    }
    assert_eq!(upstream.hits(), 0);
    Ok(())
}

/// Without `--allow-outbound` an app reaches nothing.
#[tokio::test]
async fn fetch_is_denied_by_default() -> Result<()> {
    let upstream = Upstream::start().await?;
    let server = Wharf::run(guests::FETCH, &[])?;
    let response = client()
        .get(server.url("/"))
        .query(&[("url", format!("http://127.0.0.1:{}/", upstream.port))])
        .send()
        .await?;
    assert_eq!(response.status(), 502);
    assert!(response.text().await?.contains("HttpRequestDenied"));
    assert_eq!(upstream.hits(), 0);
    Ok(())
}

/// A request may make only so many outbound requests.
#[tokio::test]
async fn outbound_requests_per_request_are_capped() -> Result<()> {
    let upstream = Upstream::start().await?;
    let allowed = format!("http://127.0.0.1:{}", upstream.port);
    let server = Wharf::run(
        guests::FETCH,
        &["--allow-outbound", &allowed, "--max-outbound-requests", "0"],
    )?;
    let response = client()
        .get(server.url("/"))
        .query(&[("url", format!("{allowed}/"))])
        .send()
        .await?;
    assert_eq!(response.status(), 502);
    assert_eq!(upstream.hits(), 0);
    server.wait_for_log("the request made too many")?;
    Ok(())
}

#[tokio::test]
async fn request_body_limit_answers_413() -> Result<()> {
    let server = Wharf::run(guests::ECHO, &["--max-request-body", "64KiB"])?;
    // Declared too large up front.
    let response = client()
        .post(server.url("/"))
        .body(vec![0u8; 64 * 1024 + 1])
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    // Exactly at the limit is fine.
    let response = client()
        .post(server.url("/"))
        .body(vec![7u8; 64 * 1024])
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await?.len(), 64 * 1024);
    Ok(())
}

#[tokio::test]
async fn trap() -> Result<()> {
    let server = Wharf::run(guests::TRAP, &[])?;
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.status(), 500);
    let id = request_id(&response);
    let body = response.text().await?;
    assert!(body.contains(&format!("request id {id}")), "body: {body}");
    server.wait_for_log("this guest traps on purpose")?;

    // The server goes on serving.
    let response = client().get(server.url("/healthy")).send().await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "still serving\n");
    Ok(())
}

/// The README's rules for a command's header block: at most 64 KiB, and a
/// broken block (a space before a colon) answers 502 instead of becoming
/// the body.
#[tokio::test]
async fn cgi_header_blocks_past_the_limit_or_broken_get_502() -> Result<()> {
    let server = Wharf::run(guests::CGI, &[])?;
    let response = client()
        .get(server.url("/long-head?bytes=60000"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-pad-000000"].len(), 984);
    assert_eq!(response.text().await?, "after a long head\n");
    let response = client()
        .get(server.url("/long-head?bytes=70000"))
        .send()
        .await?;
    assert_eq!(response.status(), 502);
    let body = response.text().await?;
    assert!(body.contains("longer than 65536 bytes"), "{body}");
    let response = client()
        .get(server.url("/space-before-colon"))
        .send()
        .await?;
    assert_eq!(response.status(), 502);
    let body = response.text().await?;
    assert!(body.contains("space before the colon"), "{body}");
    Ok(())
}

#[tokio::test]
async fn busy_loop() -> Result<()> {
    let deadline = Duration::from_secs(2);
    let server = Wharf::run(guests::BUSY_LOOP, &["--deadline", "2s"])?;
    let start = Instant::now();
    let response = client().get(server.url("/")).send().await?;
    let elapsed = start.elapsed();
    assert_eq!(response.status(), 504);
    assert!(
        elapsed >= deadline,
        "answered before the deadline: {elapsed:?}"
    );
    assert!(
        elapsed <= deadline + Duration::from_secs(1),
        "took {elapsed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn busy_loops_do_not_starve_other_requests() -> Result<()> {
    // Two executor threads on this machine; four spinning guests must still
    // each be stopped at their own deadline, which needs guests to yield.
    let server = Wharf::run(guests::BUSY_LOOP, &["--deadline", "2s"])?;
    let client = client();
    let start = Instant::now();
    let requests = (0..4).map(|_| client.get(server.url("/")).send());
    for response in futures::future::join_all(requests).await {
        assert_eq!(response?.status(), 504);
    }
    assert!(
        start.elapsed() <= Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn unbounded_alloc() -> Result<()> {
    let server = Wharf::run(guests::UNBOUNDED_ALLOC, &["--max-memory", "32MiB"])?;
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.status(), 500);
    let body = response.text().await?;
    assert!(
        body.contains("memory limit of 33554432 bytes"),
        "body: {body}"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_requests_all_succeed() -> Result<()> {
    let server = Wharf::run(guests::HELLO, &[])?;
    let client = client();
    let requests = (0..200).map(|i| client.get(server.url(&format!("/{i}"))).send());
    let responses = futures::future::join_all(requests).await;
    for response in responses {
        let response = response?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await?, "Hello from wharf!\n");
    }
    Ok(())
}

#[tokio::test]
async fn full_pool_answers_503_with_retry_after() -> Result<()> {
    let server = Wharf::run(guests::SLOW, &["--max-instances", "1"])?;
    let client = client();
    let busy = tokio::spawn(client.get(server.url("/?ms=1500")).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = client.get(server.url("/?ms=0")).send().await?;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let busy = busy.await??;
    assert_eq!(busy.status(), 200);
    // The slot is free again.
    assert_eq!(client.get(server.url("/?ms=0")).send().await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn slow() -> Result<()> {
    // SIGTERM lets an in-flight request finish, refuses new ones, exits 0.
    let mut server = Wharf::run(guests::SLOW, &["--grace-period", "10s"])?;
    let client = client();
    let in_flight = tokio::spawn(client.get(server.url("/?ms=1500")).send());
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        crate::harness::client()
            .get(server.url("/?ms=0"))
            .send()
            .await
            .is_err(),
        "a new connection was accepted after SIGTERM"
    );

    let response = in_flight.await??;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "slept 1500 ms\n");
    let status = server.wait(Duration::from_secs(10))?;
    assert!(status.success(), "exit status {status}");
    Ok(())
}

/// Runs `wharf run COMPONENT`, expects it to refuse, and returns its stderr.
fn refused(component: &str) -> Result<String> {
    let (status, _, stderr) = wharf_cli(&["run", component, "--listen", "127.0.0.1:0"])?;
    assert!(!status.success(), "wharf served {component}:\n{stderr}");
    Ok(stderr)
}

/// A Rust app's `TcpStream::connect` by name: refused without a rule, and
/// with a rule for another host; allowed to the host and port a rule names,
/// through wharf's own name lookup.
#[tokio::test]
async fn uses_sockets() -> Result<()> {
    let listener = toolchains::Listener::start().await?;
    let port = listener.port;
    let connect = |server: &Wharf| {
        client()
            .get(server.url(&format!("/?to=localhost:{port}")))
            .send()
    };
    let other_host = format!("http://example.com:{port}");
    for refusing in [vec![], vec!["--allow-outbound", &other_host]] {
        let server = Wharf::run(guests::USES_SOCKETS, &refusing)?;
        let answer = connect(&server).await?.text().await?;
        assert!(answer.starts_with("refused"), "{refusing:?}: {answer}");
        assert_eq!(listener.next_message().await?, None, "{refusing:?}");
        server.wait_for_log("denied name lookup")?;
        // Nothing else was tried: the refused lookup ended it.
        assert!(!server.log().contains("denied socket"), "{}", server.log());
    }
    let rule = format!("http://localhost:{port}");
    let server = Wharf::run(guests::USES_SOCKETS, &["--allow-outbound", &rule])?;
    let answer = connect(&server).await?.text().await?;
    assert_eq!(answer, "connected\n");
    assert_eq!(
        listener.next_message().await?.as_deref(),
        Some("hello from rust\n")
    );
    Ok(())
}

/// A component importing an interface wharf does not provide is refused
/// before it is compiled, and the error names the import.
#[tokio::test]
async fn unknown_imports_are_refused_before_serving() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("imports-unknown.wasm");
    std::fs::write(
        &path,
        crate::harness::component_importing_unknown_interface()?,
    )?;
    let stderr = refused(path.to_str().expect("utf-8"))?;
    assert!(
        stderr.contains("acme:clock/tower@1.0.0"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("which wharf does not provide to apps"),
        "stderr: {stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn rejects_files_that_are_not_components() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("wharf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let core = dir.join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0")?;
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho hi\n")?;

    // An empty core module adapts into a component that exports nothing.
    let stderr = refused(core.to_str().expect("utf-8"))?;
    assert!(
        stderr.contains("exports neither wasi:http/incoming-handler@0.2.x nor wasi:cli/run@0.2.x"),
        "stderr: {stderr}"
    );
    let stderr = refused(junk.to_str().expect("utf-8"))?;
    assert!(
        stderr.contains("not a WebAssembly file"),
        "stderr: {stderr}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A client command whose reader has gone (`wharf key FILE | head -c0`)
/// ends by SIGPIPE, as Unix tools do, without a panic.
#[test]
fn a_closed_stdout_ends_a_command_quietly() -> Result<()> {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["key", guests::HELLO])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}",
        output.status
    );
    Ok(())
}

#[tokio::test]
async fn key_prints_the_content_address() -> Result<()> {
    let (status, stdout, _) = wharf_cli(&["key", guests::HELLO])?;
    assert!(status.success());
    let size = std::fs::metadata(guests::HELLO)?.len();
    let hex = sha256_hex(guests::HELLO)?;
    assert_eq!(
        stdout.trim(),
        format!("application/wasm/{size}b/sha256-{hex}.wasm")
    );
    Ok(())
}

/// `counter` keeps durable counters; under `wharf run` they live in memory.
/// Concurrent increments all count.
#[tokio::test]
async fn counter() -> Result<()> {
    let server = Wharf::run(guests::COUNTER, &[])?;
    let hits =
        futures::future::join_all((0..20).map(|_| client().post(server.url("/hits")).send())).await;
    for hit in hits {
        assert_eq!(hit?.status(), 200);
    }
    let response = client().get(server.url("/hits")).send().await?;
    assert_eq!(response.text().await?, "20\n");
    let response = client().post(server.url("/hits?by=5")).send().await?;
    assert_eq!(response.text().await?, "25\n");
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.text().await?, "hits=25\n");
    Ok(())
}

/// `config` reads `--config` values through wasi:config.
#[tokio::test]
async fn config() -> Result<()> {
    let server = Wharf::run(
        guests::CONFIG,
        &["--config", "greeting=Howdy", "--config", "api-token=abc123"],
    )?;
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(
        response.text().await?,
        "Howdy, world! The token has 6 characters.\n"
    );
    let response = client().get(server.url("/keys")).send().await?;
    assert_eq!(response.text().await?, "api-token\ngreeting\n");
    Ok(())
}

/// `whoami` reports the deployment facts: under `wharf run`, the app name
/// given and the file's digest.
#[tokio::test]
async fn whoami() -> Result<()> {
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let server = Wharf::run(guests::WHOAMI, &["--app", "me"])?;
    let response = client().get(server.url("/")).send().await?;
    assert_eq!(response.status(), 200);
    let facts: serde_json::Value = response.json().await?;
    assert_eq!(facts["app"], "me");
    assert_eq!(
        facts["digest"],
        format!("sha256-{}", sha256_hex(guests::WHOAMI)?)
    );
    assert_eq!(facts["preview"], false);
    // `wharf run` counts the file as deployed when it starts.
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let deployed_at = facts["deployed_at"].as_u64().expect("a number");
    assert!(
        (before.as_secs()..=after.as_secs()).contains(&deployed_at),
        "{deployed_at} is not between {before:?} and {after:?}"
    );
    Ok(())
}

/// `cpu`, the benchmarks' CPU-bound handler, computes what it should.
#[tokio::test]
async fn cpu() -> Result<()> {
    let server = Wharf::run(guests::CPU, &[])?;
    let response = client().get(server.url("/?rounds=3")).send().await?;
    assert_eq!(response.status(), 200);
    // Three rounds of the guest's mixing, worked out here.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..3u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(i);
    }
    assert_eq!(response.text().await?, format!("{x}\n"));
    let response = client().get(server.url("/?rounds=lots")).send().await?;
    assert_eq!(response.status(), 400);
    Ok(())
}
