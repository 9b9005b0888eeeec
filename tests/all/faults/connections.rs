//! Slow, idle and too many connections: each is closed or refused at its
//! named limit while other clients keep being served.

use super::{OTHER_CLIENT, client_from, connect_from, read_until_closed};
use crate::harness::Wharf;
use anyhow::{Context, Result};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use wharf_test_artifacts as guests;

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

/// An HTTP/2 connection with no request in flight is closed at
/// `--idle-timeout` (HTTP/2 has no header timer to do it).
#[tokio::test]
async fn an_idle_http2_connection_is_closed_at_the_idle_timeout() -> Result<()> {
    use http_body_util::BodyExt;
    let server = Wharf::run(guests::HELLO, &["--idle-timeout", "1s"])?;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(server.url("/"))
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())?;
    let response = sender.send_request(request).await?;
    assert_eq!(response.status(), 200);
    response.into_body().collect().await?;
    let idle_from = Instant::now();
    // The sender stays alive, so only the server can end the connection.
    let ended = tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .context("the idle HTTP/2 connection stayed open")?;
    ended??;
    let idle_for = idle_from.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&idle_for),
        "closed after {idle_for:?} idle"
    );
    drop(sender);
    Ok(())
}

/// One client opening 10,000 connections (and keeping them idle) holds no
/// more than `--max-connections-per-client` of them; the rest are closed
/// at once, and another client is served meanwhile.
#[tokio::test]
async fn ten_thousand_connections_from_one_client_leave_room_for_others() -> Result<()> {
    const FLOOD: usize = 10_000;
    const PER_CLIENT: usize = 256;
    let open_files = wharf_server::raise_open_file_limit()?;
    anyhow::ensure!(
        open_files as usize > FLOOD + 200,
        "this test holds {FLOOD} connections; the open-file limit is {open_files}"
    );
    let per_client = PER_CLIENT.to_string();
    // The header timer is long, so the cap (not the timer) does the work.
    let server = Wharf::run(
        guests::HELLO,
        &[
            "--header-read-timeout",
            "120s",
            "--max-connections-per-client",
            &per_client,
        ],
    )?;
    let port = server.port();
    let started = Instant::now();
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD / 500 {
        let batch = futures::future::join_all(
            (0..500).map(|_| tokio::net::TcpStream::connect(("127.0.0.1", port))),
        )
        .await;
        for connection in batch {
            flood.push(connection?);
        }
    }
    let opened_in = started.elapsed();

    let other = client_from(OTHER_CLIENT);
    let asked = Instant::now();
    let response = other
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?;
    let answered_in = asked.elapsed();
    assert_eq!(response.status(), 200, "another client is served");

    // Wait for the server to close what it will. A connection that looks
    // open may also be one the kernel's full accept queue never handed to
    // the server; a request on it tells the two apart.
    for _ in 0..50 {
        if flood.iter().filter(|c| is_open(c)).count() <= PER_CLIENT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut held = 0;
    for connection in flood.iter_mut().filter(|c| is_open(c)) {
        let request = b"GET / HTTP/1.1\r\nHost: hello.localhost\r\n\r\n";
        if connection.write_all(request).await.is_ok()
            && super::read_status(connection, Duration::from_secs(5))
                .await
                .is_ok_and(|status| status == 200)
        {
            held += 1;
        }
    }
    println!(
        "{FLOOD} idle connections from one client, opened in {opened_in:?}: the server \
         held {held} (cap {PER_CLIENT}) and closed the rest; another client answered 200 \
         in {answered_in:?}"
    );
    assert!(
        held <= PER_CLIENT,
        "the server held {held} connections from one client"
    );
    assert!(held > 0, "the client's first connections are kept");
    Ok(())
}

/// Whether the server has not closed `connection` (a read would block
/// rather than see the end).
fn is_open(connection: &tokio::net::TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        connection.try_read(&mut byte),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}

/// A client with `--max-requests-per-client` requests in flight gets 503
/// for the next one; another client does not.
#[tokio::test]
async fn a_client_is_held_to_its_requests_in_flight() -> Result<()> {
    let server = Wharf::run(guests::SLOW, &["--max-requests-per-client", "2"])?;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
        stream
            .write_all(b"GET /?ms=8000 HTTP/1.1\r\nHost: slow.localhost\r\n\r\n")
            .await?;
        slow.push(stream);
    }
    // Both count once the server has read their heads: ask until it says so.
    let asked = Instant::now();
    let refused = loop {
        let response = crate::harness::client()
            .get(server.url("/?ms=0"))
            .send()
            .await?;
        if response.status() == 503 || asked.elapsed() > Duration::from_secs(6) {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let message = refused.text().await?;
    assert!(message.contains("--max-requests-per-client"), "{message}");
    let other = client_from(OTHER_CLIENT)
        .get(server.url("/?ms=0"))
        .send()
        .await?;
    assert_eq!(other.status(), 200, "another client is not held to it");
    for mut stream in slow {
        let status = super::read_status(&mut stream, Duration::from_secs(15)).await?;
        assert_eq!(status, 200);
    }
    Ok(())
}

/// A connection past `--max-connections-per-client` is closed at once, and
/// the client is served again once one of its connections closes.
#[tokio::test]
async fn a_client_at_its_connection_cap_is_served_again_after_one_closes() -> Result<()> {
    let server = Wharf::run(guests::HELLO, &["--max-connections-per-client", "2"])?;
    let first = connect_from(OTHER_CLIENT, server.port()).await?;
    let _second = connect_from(OTHER_CLIENT, server.port()).await?;
    let mut third = connect_from(OTHER_CLIENT, server.port()).await?;
    let (_, closed) = read_until_closed(&mut third, Duration::from_secs(5)).await?;
    assert!(closed, "the third connection was kept");
    drop(first);
    // The server notices the close before the next connection arrives.
    let mut fourth = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut candidate = connect_from(OTHER_CLIENT, server.port()).await?;
        candidate
            .write_all(b"GET / HTTP/1.1\r\nHost: hello.localhost\r\n\r\n")
            .await?;
        if let Ok(status) = super::read_status(&mut candidate, Duration::from_secs(2)).await {
            fourth = Some(status);
            break;
        }
    }
    assert_eq!(fourth, Some(200), "the client was never served again");
    Ok(())
}
