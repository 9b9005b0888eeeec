//! Stalled request bodies and deploy uploads: each is given up at the body
//! idle timeout, and while they last they hold no more than their app's
//! share of the instance pool.

use super::{OTHER_CLIENT, client_from, read_status};
use crate::harness::{Wharf, client};
use crate::serve::AdminSession;
use anyhow::{Context, Result};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wharf_admin::api::AppList;
use wharf_test_artifacts as guests;

/// A request to the cgi guest's `/count` (which reads its whole body before
/// answering) that declares 1,000 bytes and sends 2.
async fn stalled_count(port: u16) -> Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"POST /count HTTP/1.1\r\nHost: cgi.localhost\r\nContent-Length: 1000\r\n\r\nab")
        .await?;
    Ok(stream)
}

/// A client that stops sending its body is answered 408 at
/// `--body-idle-timeout`, and the guest's instance is given back.
#[tokio::test]
async fn a_stalled_request_body_is_answered_408_at_the_body_idle_timeout() -> Result<()> {
    let server = Wharf::run(guests::CGI, &["--body-idle-timeout", "1s"])?;
    let started = Instant::now();
    let mut stalled = stalled_count(server.port()).await?;
    let status = read_status(&mut stalled, Duration::from_secs(10)).await?;
    let after = started.elapsed();
    assert_eq!(status, 408);
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(5)).contains(&after),
        "answered after {after:?}"
    );
    let response = client()
        .post(server.url("/count"))
        .body("abc")
        .send()
        .await?;
    assert_eq!(response.status(), 200, "the guest serves the next request");
    Ok(())
}

/// 1,000 stalled uploads to one app take its share of the instance pool
/// and no more: every other app keeps answering 200, and the app itself
/// recovers when the body idle timeout gives the stalls up.
#[tokio::test]
async fn stalled_uploads_to_one_app_leave_the_others_served() -> Result<()> {
    const STALLED: usize = 1_000;
    const INSTANCES: usize = 8;
    const SHARE: usize = INSTANCES / 2;
    let open_files = wharf_server::raise_open_file_limit()?;
    anyhow::ensure!(
        open_files as usize > STALLED + 200,
        "open-file limit {open_files}"
    );
    let session = AdminSession::embedded(&[
        "--max-instances",
        &INSTANCES.to_string(),
        "--body-idle-timeout",
        "20s",
        "--deadline",
        "60s",
        "--max-requests-per-client",
        "2000",
        "--max-connections-per-client",
        "2000",
    ])?;
    session.deploy(guests::CGI, "cgi", &[])?;
    session.deploy(guests::HELLO, "hello", &[])?;
    let port = session.server.port();

    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED / 250 {
        let batch = futures::future::join_all((0..250).map(|_| stalled_count(port))).await;
        for stream in batch {
            stalled.push(stream?);
        }
    }
    let other = client_from(OTHER_CLIENT);
    let get = |host: &'static str| {
        other
            .get(format!("http://127.0.0.1:{port}/count"))
            .header("host", format!("{host}.localhost:{port}"))
            .send()
    };
    // The stalls are all sent: the body idle timeout counts from here at
    // the earliest.
    let started = Instant::now();
    // Once the stalls hold the app's share, the app itself answers 503...
    let mut share_full = false;
    while started.elapsed() < Duration::from_secs(10) {
        if get("cgi").await?.status() == 503 {
            share_full = true;
            break;
        }
    }
    assert!(share_full, "the stalled app never reached its share");
    // ...and every other app 200.
    let mut hello_statuses = Vec::new();
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let asked = Instant::now();
        hello_statuses.push(get("hello").await?.status().as_u16());
        slowest = slowest.max(asked.elapsed());
    }
    let held_for = started.elapsed();
    assert!(
        held_for < Duration::from_secs(20),
        "the checks ran past the stalls' timeout ({held_for:?}); the figures would not hold"
    );

    let statuses = futures::future::join_all(
        stalled
            .iter_mut()
            .map(|stream| read_status(stream, Duration::from_secs(20))),
    )
    .await;
    let statuses: Vec<u16> = statuses.into_iter().collect::<Result<_>>()?;
    let timed_out = statuses.iter().filter(|&&s| s == 408).count();
    let refused = statuses.iter().filter(|&&s| s == 503).count();
    let recovered = get("cgi").await?.status();
    println!(
        "{STALLED} stalled uploads to one app on a pool of {INSTANCES}: {timed_out} held its \
         share and got 408 at the body idle timeout, {refused} got 503; another app answered \
         {}/50 requests 200 meanwhile (slowest {slowest:?}); the app answered {recovered} after",
        hello_statuses.iter().filter(|&&s| s == 200).count()
    );
    assert!(
        hello_statuses.iter().all(|&s| s == 200),
        "{hello_statuses:?}"
    );
    assert_eq!(timed_out, SHARE, "the app held exactly its share");
    assert_eq!(refused, STALLED - SHARE);
    // The refused requests' bodies were never read: the stalled guests are
    // the ones answered 408, and the app serves again.
    assert_eq!(recovered, 200);
    Ok(())
}

/// A deploy whose upload stalls is answered 408 at the body idle timeout
/// and records nothing.
#[tokio::test]
async fn a_stalled_deploy_upload_is_answered_408_and_deploys_nothing() -> Result<()> {
    let session = AdminSession::embedded(&["--body-idle-timeout", "1s"])?;
    let admin = session
        .server
        .admin()
        .trim_start_matches("http://")
        .to_owned();
    let component = std::fs::read(guests::HELLO)?;
    let mut upload = TcpStream::connect(&admin).await?;
    let head = format!(
        "POST /v1/apps/stalled/deployments HTTP/1.1\r\nHost: {admin}\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        session.token(),
        component.len()
    );
    upload.write_all(head.as_bytes()).await?;
    upload.write_all(&component[..1000]).await?;
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut upload, &mut answer),
    )
    .await
    .context("no answer to the stalled upload")??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("stalled"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let apps: AppList = session.cli(&["apps"])?;
    assert!(
        apps.apps
            .iter()
            .all(|app| app.name != "stalled" || app.live.is_none()),
        "{apps:?}"
    );
    Ok(())
}
