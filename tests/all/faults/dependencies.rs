//! The registry's Postgres and the object store (Garage) going away and
//! coming back, while they keep running for the rest of the suite: wharf
//! reaches them through a [`Link`] the test cuts and restores.

use crate::harness::client;
use crate::serve::AdminSession;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use wharf_test_artifacts as guests;
use wharf_test_services::{Garage, Postgres};

/// A TCP relay on 127.0.0.1 to a real service. Cut, it ends every relayed
/// connection and stops listening, so new connections are refused, as they
/// are by a service that went down; restored, it listens on the same port
/// again. The service itself never stops.
struct Link {
    port: u16,
    target: SocketAddr,
    cuts: watch::Sender<u64>,
    accepting: Option<tokio::task::JoinHandle<()>>,
}

impl Link {
    async fn to(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let (cuts, _) = watch::channel(0u64);
        let mut link = Self {
            port: listener.local_addr()?.port(),
            target,
            cuts,
            accepting: None,
        };
        link.accept_on(listener);
        Ok(link)
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let (target, cuts) = (self.target, self.cuts.clone());
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        }));
    }

    fn cut(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
        }
        self.cuts.send_modify(|n| *n += 1);
    }

    async fn restore(&mut self) -> Result<()> {
        // The aborted accept loop drops its listener once it is polled again.
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.accept_on(listener);
        Ok(())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.cut();
    }
}

/// `url` (`postgres://user:password@HOST:PORT/db`) with its address
/// replaced by 127.0.0.1:`port`, and the address it had.
fn through(url: &str, port: u16) -> Result<(String, SocketAddr)> {
    let (scheme_and_user, rest) = url.rsplit_once('@').context("a URL with a user")?;
    let (address, database) = rest.split_once('/').context("a URL with a database")?;
    let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(address)?
        .next()
        .context("an address")?;
    Ok((
        format!("{scheme_and_user}@127.0.0.1:{port}/{database}"),
        target,
    ))
}

/// With Postgres down, apps keep serving, and the admin API answers 503
/// with `Retry-After` within seconds, naming the database. A deploy
/// records nothing. When Postgres comes back wharf reconnects by itself.
// Multi-threaded: the relay keeps running while the test blocks on the
// `wharf` processes it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_down_apps_serve_and_the_admin_api_fails_fast() -> Result<()> {
    let db = Postgres::from_env().fresh_database().await;
    let (_, target) = through(&db, 0)?;
    let mut link = Link::to(target).await?;
    let (db_via_link, _) = through(&db, link.port)?;
    let store = Garage::from_env().fresh_url();
    let session = AdminSession::on(&store, &db_via_link, &[])?;
    session.deploy(guests::HELLO, "hello", &[])?;
    let apps_url = format!("{}/v1/apps", session.server.admin());
    let list_apps = || client().get(&apps_url).bearer_auth(session.token()).send();

    link.cut();
    let served = session.server.get_host("hello.localhost", "/").await?;
    assert_eq!(served.status(), 200, "apps serve without Postgres");
    let asked = Instant::now();
    let answer = list_apps().await?;
    let answered_in = asked.elapsed();
    let status = answer.status();
    let retry_after = answer.headers().contains_key("retry-after");
    let message = answer.text().await?;
    assert_eq!(status, 503, "{message}");
    assert!(retry_after);
    assert!(message.contains("database is unavailable"), "{message}");
    let deploy_refused =
        session.cli::<serde_json::Value>(&["deploy", guests::HELLO_V2, "--app", "hello"]);
    assert!(
        deploy_refused.is_err(),
        "a deploy succeeded without Postgres"
    );

    link.restore().await?;
    let restored = Instant::now();
    let mut recovered = None;
    while restored.elapsed() < Duration::from_secs(30) {
        if list_apps().await?.status() == 200 {
            recovered = Some(restored.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = recovered.context("the admin API never recovered")?;
    println!(
        "Postgres down: apps served 200; the admin API answered 503 in {answered_in:?}; \
         after Postgres returned it answered 200 within {recovered:?}"
    );
    assert!(
        answered_in < Duration::from_secs(6),
        "the admin API took {answered_in:?} to give up"
    );
    let history: wharf_admin::api::History = session.cli(&["history", "hello"])?;
    assert_eq!(
        history.deployments.len(),
        1,
        "the refused deploy recorded nothing: {history:?}"
    );
    let redeployed = session.deploy(guests::HELLO_V2, "hello", &[])?;
    assert!(!redeployed.digest.is_empty());
    let served = session.server.get_host("hello.localhost", "/").await?;
    assert_eq!(served.text().await?, "Hello from wharf, v2!\n");
    Ok(())
}

/// `endpoint` (`http://HOST:PORT`) as a socket address.
fn endpoint_address(endpoint: &str) -> Result<SocketAddr> {
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    std::net::ToSocketAddrs::to_socket_addrs(address)?
        .next()
        .context("an address")
}

/// With the object store down, apps whose code is loaded keep serving, a
/// deploy fails with 503 and records nothing, and deploys work again when
/// the store returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_object_store_down_loaded_apps_serve_and_deploys_fail_cleanly() -> Result<()> {
    let garage = Garage::from_env();
    let mut link = Link::to(endpoint_address(&garage.endpoint)?).await?;
    let db = Postgres::from_env().fresh_database().await;
    let session = AdminSession::on_endpoint(
        &garage.fresh_url(),
        &db,
        &[],
        &format!("http://127.0.0.1:{}", link.port),
    )?;
    session.deploy(guests::HELLO, "hello", &[])?;
    assert_eq!(
        session.body_at("hello.localhost").await?,
        "Hello from wharf!\n"
    );

    link.cut();
    assert_eq!(
        session.body_at("hello.localhost").await?,
        "Hello from wharf!\n",
        "a loaded app serves without the store"
    );
    let asked = Instant::now();
    let refused = session.cli_fails(&["deploy", guests::HELLO_V2, "--app", "hello"])?;
    let refused_in = asked.elapsed();
    assert!(
        refused.contains("503") || refused.contains("unavailable"),
        "{refused}"
    );
    let history: wharf_admin::api::History = session.cli(&["history", "hello"])?;
    assert_eq!(
        history.deployments.len(),
        1,
        "the failed deploy recorded nothing"
    );

    link.restore().await?;
    let restored = Instant::now();
    let mut redeployed = None;
    while restored.elapsed() < Duration::from_secs(60) {
        if let Ok(result) = session.deploy(guests::HELLO_V2, "hello", &[]) {
            redeployed = Some((result, restored.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, recovered_in) = redeployed.context("deploys never worked again")?;
    println!(
        "object store down: the loaded app served 200; a deploy failed in {refused_in:?} \
         and recorded nothing; after the store returned a deploy succeeded within \
         {recovered_in:?}"
    );
    assert_eq!(
        session.body_at("hello.localhost").await?,
        "Hello from wharf, v2!\n"
    );
    Ok(())
}
