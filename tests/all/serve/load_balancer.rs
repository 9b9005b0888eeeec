//! A cluster behind a load balancer: three `wharf serve` nodes on Garage
//! and Postgres with one artifact secret, behind Debian's haproxy running
//! `deploy/haproxy/haproxy.cfg`, which checks each node's readiness
//! endpoint. Requests reach the nodes only through haproxy.

use super::*;
use crate::harness::free_port;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How often haproxy checks each node (the file's default is 2 s).
const CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// Above the time haproxy needs to see a node go (two failed checks).
const DRAIN_DELAY: &str = "1s";
/// Clients sending requests through haproxy at once.
const CLIENTS: usize = 4;

/// Three nodes, each with its own data directory and a public address
/// that stays the same across restarts, as haproxy's file names them.
struct Cluster {
    store: String,
    db: String,
    token: String,
    secret: tempfile::TempDir,
    nodes: Vec<Node>,
}

struct Node {
    listen: String,
    data_dir: tempfile::TempDir,
    server: Wharf,
}

impl Cluster {
    async fn start() -> Result<Self> {
        let secret = tempfile::tempdir()?;
        std::fs::write(
            secret.path().join("artifact-secret"),
            format!("{:064x}\n", rand_u64()),
        )?;
        let mut cluster = Self {
            store: Garage::from_env().fresh_url(),
            db: Postgres::from_env().fresh_database().await,
            token: format!("test-token-{:016x}", rand_u64()),
            secret,
            nodes: Vec::new(),
        };
        for _ in 0..3 {
            let node = cluster.new_node()?;
            cluster.nodes.push(node);
        }
        Ok(cluster)
    }

    /// A node on a fresh data directory and port.
    fn new_node(&self) -> Result<Node> {
        let listen = format!("127.0.0.1:{}", free_port()?);
        let data_dir = tempfile::tempdir()?;
        let server = self.serve(&listen, data_dir.path())?;
        Ok(Node {
            listen,
            data_dir,
            server,
        })
    }

    fn serve(&self, listen: &str, data_dir: &Path) -> Result<Wharf> {
        let mut env = Garage::from_env().aws_env();
        env.push(("WHARF_ADMIN_TOKEN", self.token.clone()));
        let secret = self.secret.path().join("artifact-secret");
        Wharf::serve_listening(
            listen,
            data_dir,
            &[
                "--store",
                &self.store,
                "--db",
                &self.db,
                "--artifact-secret-file",
                secret.to_str().context("utf-8 path")?,
                "--drain-delay",
                DRAIN_DELAY,
                "--trusted-proxy",
                "127.0.0.1/32",
            ],
            &env,
        )
    }

    /// The CLI environment that reaches `node`'s admin API.
    fn cli_env(&self, node: &Wharf) -> Vec<(&'static str, String)> {
        vec![
            ("WHARF_SERVER", node.admin().to_owned()),
            ("WHARF_TOKEN", self.token.clone()),
        ]
    }

    /// Stops node `index` with SIGTERM, waits for it to exit cleanly, and
    /// starts it again on the same address and data directory.
    fn restart(&mut self, index: usize) -> Result<()> {
        let node = &mut self.nodes[index];
        node.server.signal(libc::SIGTERM);
        let status = node.server.wait(Duration::from_secs(30))?;
        ensure!(status.success(), "node {index} exited with {status}");
        let (listen, data_dir) = (node.listen.clone(), node.data_dir.path().to_owned());
        self.nodes[index].server = self.serve(&listen, &data_dir)?;
        Ok(())
    }
}

/// haproxy running the repository's configuration in front of the nodes.
struct LoadBalancer {
    child: Child,
    url: String,
    stats: String,
}

impl LoadBalancer {
    fn start(cluster: &Cluster) -> Result<Self> {
        let (listen, stats) = (free_port()?, free_port()?);
        let config = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/haproxy/haproxy.cfg"
        );
        let mut command = Command::new("haproxy");
        command
            .args(["-f", config, "-db"])
            .env("WHARF_LB_LISTEN", format!("127.0.0.1:{listen}"))
            .env("WHARF_LB_STATS", format!("127.0.0.1:{stats}"))
            .env(
                "WHARF_LB_CHECK_INTERVAL",
                format!("{}ms", CHECK_INTERVAL.as_millis()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (i, node) in cluster.nodes.iter().enumerate() {
            command.env(format!("WHARF_NODE{}", i + 1), &node.listen);
        }
        let child = command
            .spawn()
            .context("running haproxy (scripts/setup.sh --tests installs it)")?;
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{listen}/"),
            stats: format!("http://127.0.0.1:{stats}/stats;csv"),
        })
    }

    /// Each node's state as haproxy's checks see it (`UP`, `DOWN`, or a
    /// transition such as `UP 1/2`), by server name (`node1`...).
    async fn node_states(&self) -> Result<Vec<(String, String)>> {
        let csv = client().get(&self.stats).send().await?.text().await?;
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .context("empty stats")?
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|c| *c == name);
        let (proxy, server, status) = (
            column("pxname").context("pxname")?,
            column("svname").context("svname")?,
            column("status").context("status")?,
        );
        Ok(lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|fields| fields.get(proxy) == Some(&"wharf"))
            .filter(|fields| fields[server].starts_with("node"))
            .map(|fields| (fields[server].to_owned(), fields[status].to_owned()))
            .collect())
    }

    /// Waits until haproxy's checks see node `index` (0-based) as `state`
    /// (`UP` or `DOWN`), and returns how long that took.
    async fn wait_for(&self, index: usize, state: &str, within: Duration) -> Result<Duration> {
        let name = format!("node{}", index + 1);
        let started = Instant::now();
        loop {
            // Stats may not answer while haproxy is starting.
            if let Ok(states) = self.node_states().await
                && states.iter().any(|(n, s)| *n == name && s == state)
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!(
                    "haproxy does not see {name} {state} after {within:?}: {:?}",
                    self.node_states().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `hello.localhost` through haproxy and says what went wrong, if
/// anything did.
async fn hello_through(http: &reqwest::Client, lb: &str) -> Result<(), String> {
    let response = http
        .get(lb)
        .header(reqwest::header::HOST, "hello.localhost")
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{e:?}"))?;
    if status == 200 && body == V1 {
        Ok(())
    } else {
        Err(format!("{status} {body:?}"))
    }
}

/// A steady stream of requests through haproxy from [`CLIENTS`] clients,
/// each with its own kept-alive connection, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<(u64, Vec<String>)>>,
}

/// What a stretch of load came to.
#[derive(Debug)]
struct Sent {
    requests: u64,
    failures: Vec<String>,
}

impl Load {
    fn start(lb: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..CLIENTS)
            .map(|_| {
                let (stop, lb) = (stop.clone(), lb.to_owned());
                tokio::spawn(async move {
                    let http = client();
                    let (mut sent, mut failures) = (0, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        sent += 1;
                        if let Err(failure) = hello_through(&http, &lb).await {
                            failures.push(failure);
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    (sent, failures)
                })
            })
            .collect();
        Self { stop, clients }
    }

    async fn stop(self) -> Result<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Sent {
            requests: 0,
            failures: Vec::new(),
        };
        for client in self.clients {
            let (sent, failures) = client.await?;
            total.requests += sent;
            total.failures.extend(failures);
        }
        Ok(total)
    }
}

/// Through haproxy, a deploy made on any node is served by every node
/// within a second; a rolling restart of all three nodes under steady
/// load loses no request; a SIGKILLed node fails at most the requests in
/// flight on it, and haproxy stops sending to it within its checks; and a
/// node started later serves its first request from the code another node
/// sealed into the shared store, without compiling.
#[tokio::test]
async fn a_cluster_behind_haproxy_keeps_answering_through_restarts() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    let lb = LoadBalancer::start(&cluster)?;
    for index in 0..3 {
        lb.wait_for(index, "UP", Duration::from_secs(30)).await?;
    }

    // Deploy through the second node; every node must serve it through
    // haproxy, whose round robin visits each of the three in turn.
    let (status, _, stderr) = wharf_cli_env(
        &["deploy", guests::HELLO, "--app", "hello"],
        &cluster.cli_env(&cluster.nodes[1].server),
    )?;
    ensure!(status.success(), "deploy: {stderr}");
    let deployed = Instant::now();
    let http = client();
    let mut in_a_row = 0;
    while in_a_row < 6 {
        match hello_through(&http, &lb.url).await {
            Ok(()) => in_a_row += 1,
            Err(_) => in_a_row = 0,
        }
        ensure!(
            deployed.elapsed() < Duration::from_secs(1),
            "the deploy is not served by every node through haproxy after 1 s"
        );
    }
    let converged = deployed.elapsed();

    // A rolling restart, one node at a time, each back in haproxy before
    // the next goes.
    let load = Load::start(&lb.url);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarting = Instant::now();
    for index in 0..3 {
        cluster.restart(index)?;
        lb.wait_for(index, "UP", Duration::from_secs(30)).await?;
    }
    let restarted_in = restarting.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rolling = load.stop().await?;
    assert!(
        rolling.failures.is_empty(),
        "a rolling restart lost requests: {rolling:?}"
    );
    assert!(rolling.requests > 100, "{rolling:?}");

    // One node dies under load.
    let load = Load::start(&lb.url);
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.nodes[2].server.kill()?;
    let noticed = lb.wait_for(2, "DOWN", Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let killed = load.stop().await?;
    assert!(
        killed.failures.len() <= CLIENTS,
        "more requests failed than could be in flight on the killed node: {killed:?}"
    );
    // Two failed checks, each given up to one interval to answer.
    assert!(
        noticed < 4 * CHECK_INTERVAL + Duration::from_millis(200),
        "haproxy took {noticed:?} to stop sending to the killed node"
    );

    // A fourth node loads the code the deploying node sealed.
    let late = cluster.new_node()?;
    let response = late.server.get_host("hello.localhost", "/").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, V1);
    let log = late
        .server
        .wait_for_log("loaded code compiled by another server")?;
    assert!(
        !log.contains("compiler=winch"),
        "the late node compiled: {log}"
    );
    let metrics = client()
        .get(format!("{}/metrics", late.server.metrics()))
        .send()
        .await?
        .text()
        .await?;
    let loads: Vec<_> = metrics
        .lines()
        .filter(|line| line.starts_with("wharf_component_loads_total"))
        .collect();
    assert!(
        loads.iter().any(|line| line.contains(r#"source="shared""#)),
        "{loads:?}"
    );
    assert!(
        !loads
            .iter()
            .any(|line| line.contains(r#"source="compile""#)),
        "{loads:?}"
    );

    eprintln!(
        "deploy served by every node through haproxy after {converged:?}; \
         rolling restart of 3 nodes in {restarted_in:?}: {} requests, {} failed; \
         SIGKILL: {} requests, {} failed, haproxy saw the node down after {noticed:?}",
        rolling.requests,
        rolling.failures.len(),
        killed.requests,
        killed.failures.len(),
    );
    Ok(())
}
