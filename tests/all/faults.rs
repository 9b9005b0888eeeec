//! Faults seen from the outside: what a client receives when a guest does
//! not finish, through the real binary.

use crate::harness::Wharf;
use anyhow::{Context, Result, ensure};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wharf_test_artifacts as guests;

/// Sends `echo` a request that declares 100,000 bytes and sends 5,000, so
/// the guest streams the 5,000 back and then waits for the rest until the
/// deadline stops it. Returns everything the server wrote, and how long
/// the connection stayed open.
async fn stalled_echo(server: &Wharf) -> Result<(Vec<u8>, Duration)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
    let head = "POST / HTTP/1.1\r\nHost: echo.localhost\r\nContent-Length: 100000\r\n\r\n";
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&[b'x'; 5000]).await?;
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
        .await
        .context("the server never closed the connection")??;
    Ok((received, started.elapsed()))
}

/// A wasi:http response the deadline stopped must not look complete: over
/// HTTP/1.1 the connection closes without the last chunk.
#[tokio::test]
async fn a_response_stopped_by_the_deadline_is_cut_off_over_http1() -> Result<()> {
    let server = Wharf::run(guests::ECHO, &["--deadline", "2s"])?;
    let (received, open_for) = stalled_echo(&server).await?;
    let text = String::from_utf8_lossy(&received);
    ensure!(text.starts_with("HTTP/1.1 200"), "{text:.200}");
    ensure!(
        text.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{text:.300}"
    );
    let echoed = text.matches('x').count();
    assert_eq!(echoed, 5000, "the 5,000 bytes sent came back");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the body ended with the last chunk, as if complete: {:?}",
        &text[text.len().saturating_sub(40)..]
    );
    assert!(
        open_for >= Duration::from_millis(1900),
        "closed at {open_for:?}"
    );
    server.wait_for_log("deadline")?;
    Ok(())
}

/// Over HTTP/2 the stream is reset with an error, so reading the body
/// fails rather than ending.
#[tokio::test]
async fn a_response_stopped_by_the_deadline_is_cut_off_over_http2() -> Result<()> {
    let server = Wharf::run(guests::ECHO, &["--deadline", "2s"])?;
    let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(futures::stream::unfold(receiver, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    }));
    let request = client
        .post(server.url("/"))
        .header("content-length", "100000")
        .body(body)
        .send();
    sender.send(Ok(vec![b'x'; 5000])).await?;
    let response = request.await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let read = tokio::time::timeout(Duration::from_secs(20), response.bytes())
        .await
        .context("the body never ended")?;
    assert!(
        read.is_err(),
        "the body read as complete: {:?} bytes",
        read.map(|body| body.len())
    );
    drop(sender);
    Ok(())
}

/// Reads from `stream` until the server closes it or `within` passes;
/// returns what arrived and whether it closed.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    within: Duration,
) -> Result<(Vec<u8>, bool)> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(within, stream.read_to_end(&mut received))
        .await
        .is_ok();
    Ok((received, closed))
}

/// A client that sends its request head a byte at a time (slowloris) is
/// closed at `--header-read-timeout`, while other requests are answered.
#[tokio::test]
async fn a_slow_request_head_is_closed_at_the_header_timeout() -> Result<()> {
    let server = Wharf::run(guests::HELLO, &["--header-read-timeout", "1s"])?;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: hello.localhost\r\nX-Slow: ")
        .await?;
    let started = Instant::now();
    let dripping = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if slow.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    let answered = async {
        let response = crate::harness::client().get(server.url("/")).send().await?;
        anyhow::Ok(response.status())
    };
    let ((), status) = tokio::join!(dripping, answered);
    assert_eq!(status?, 200, "others are served meanwhile");
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await?;
    assert!(closed, "the slow client was never closed");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

/// An idle keep-alive connection is closed at `--header-read-timeout`.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() -> Result<()> {
    let server = Wharf::run(guests::HELLO, &["--header-read-timeout", "1s"])?;
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
    idle.write_all(b"GET / HTTP/1.1\r\nHost: hello.localhost\r\n\r\n")
        .await?;
    let started = Instant::now();
    let (received, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await?;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "the idle connection stayed open");
    let open_for = started.elapsed();
    assert!(
        open_for >= Duration::from_millis(900),
        "closed at {open_for:?}"
    );
    Ok(())
}
