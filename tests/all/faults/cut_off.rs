//! What a client receives when a guest does not finish its response.

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
