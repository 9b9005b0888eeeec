//! What a running server tells about itself: metrics scraped by a real
//! Prometheus, health for load balancers, the access log, and each app's
//! guest output and numbers.

use super::*;
use wharf_admin::api::{AppStatsBody, LogLine};
use wharf_test_services::Prometheus;

/// The value of the single series `query` selects in Prometheus, once
/// `done` accepts it (Prometheus scrapes every second), or an error after
/// 20 s.
async fn prometheus_value(
    prometheus: &Prometheus,
    query: &str,
    done: impl Fn(f64) -> bool,
) -> Result<f64> {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(20) {
        let answer: serde_json::Value = client()
            .get(format!("{}/api/v1/query", prometheus.url))
            .query(&[("query", query)])
            .send()
            .await?
            .json()
            .await?;
        ensure!(answer["status"] == "success", "{query}: {answer}");
        let result = answer["data"]["result"].as_array().context("a vector")?;
        if let [series] = result.as_slice() {
            let value: f64 = series["value"][1].as_str().context("a sample")?.parse()?;
            if done(value) {
                return Ok(value);
            }
            last = Some(value);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("Prometheus never answered {query} as expected; last value {last:?}")
}

/// After N requests to an app, Prometheus, scraping the metrics listener,
/// shows exactly N more for that app and status class; a trap shows up
/// under its kind, and a request for no app under its refusal.
#[tokio::test]
async fn prometheus_sees_each_request_by_app_status_and_failure_kind() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    d.deploy(guests::HELLO, "hello", &[])?;
    d.deploy(guests::TRAP, "trap", &[])?;
    let prometheus = Prometheus::from_env();
    let metrics_address = d.server.metrics().trim_start_matches("http://").to_owned();
    let target = prometheus.scrape(&metrics_address);
    let selector = |labels: &str| format!("{{wharf_test=\"{}\",{labels}}}", target.label);
    let hello_2xx = format!(
        "wharf_requests_total{}",
        selector(r#"app="hello",status="2xx""#)
    );

    // One request first, so the series exists before the count starts.
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    let before = prometheus_value(&prometheus, &hello_2xx, |v| v >= 1.0).await?;
    const N: usize = 7;
    for _ in 0..N {
        assert_eq!(d.body_at("hello.localhost").await?, V1);
    }
    let after = prometheus_value(&prometheus, &hello_2xx, |v| v >= before + N as f64).await?;
    assert_eq!(after - before, N as f64, "{before} then {after}");

    let trapped = d.server.get_host("trap.localhost", "/").await?;
    assert_eq!(trapped.status(), 500);
    let traps = format!(
        "wharf_guest_failures_total{}",
        selector(r#"app="trap",kind="trap""#)
    );
    assert_eq!(
        prometheus_value(&prometheus, &traps, |v| v >= 1.0).await?,
        1.0
    );
    let trap_5xx = format!(
        "wharf_requests_total{}",
        selector(r#"app="trap",status="5xx""#)
    );
    assert_eq!(
        prometheus_value(&prometheus, &trap_5xx, |v| v >= 1.0).await?,
        1.0
    );

    let nowhere = d.server.get_host("nobody.localhost", "/").await?;
    assert_eq!(nowhere.status(), 404);
    let refused = format!(
        "wharf_requests_refused_total{}",
        selector(r#"reason="no_such_app""#)
    );
    assert_eq!(
        prometheus_value(&prometheus, &refused, |v| v >= 1.0).await?,
        1.0
    );

    // The state read at each scrape is there too.
    let slots = format!("wharf_instance_slots{}", selector(r#"job="wharf""#));
    assert!(prometheus_value(&prometheus, &slots, |v| v > 0.0).await? > 0.0);
    let info = format!("wharf_build_info{}", selector(r#"version!="""#));
    assert_eq!(
        prometheus_value(&prometheus, &info, |v| v == 1.0).await?,
        1.0
    );
    Ok(())
}

/// Live and ready need no token, on the public listener for any host and
/// on the metrics listener. On SIGTERM the server turns not-ready first and
/// keeps answering for the drain delay; only then does the listener close.
#[tokio::test]
async fn ready_turns_not_ready_on_sigterm_before_the_listener_closes() -> Result<()> {
    let mut d = AdminSession::embedded(&["--drain-delay", "2s"])?;
    d.deploy(guests::HELLO, "hello", &[])?;
    let http = client();
    for url in [
        d.server.url("/.well-known/wharf/live"),
        d.server.url("/.well-known/wharf/ready"),
        format!("{}/livez", d.server.metrics()),
        format!("{}/readyz", d.server.metrics()),
    ] {
        let response = http.get(&url).send().await?;
        assert_eq!(response.status(), 200, "{url}");
    }
    let for_an_app = d
        .server
        .get_host("hello.localhost", "/.well-known/wharf/ready")
        .await?;
    assert_eq!(for_an_app.status(), 200, "reserved for every host");

    d.server.signal(libc::SIGTERM);
    let started = Instant::now();
    loop {
        let ready = http
            .get(d.server.url("/.well-known/wharf/ready"))
            .send()
            .await?;
        if ready.status() == 503 {
            assert!(ready.text().await?.contains("draining"));
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(1),
            "still ready after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Not ready, but still serving: a load balancer has time to notice.
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    let readyz = http
        .get(format!("{}/readyz", d.server.metrics()))
        .send()
        .await?;
    assert_eq!(readyz.status(), 503);
    let live = http
        .get(d.server.url("/.well-known/wharf/live"))
        .send()
        .await?;
    assert_eq!(live.status(), 200);
    let status = d.server.wait(Duration::from_secs(15))?;
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "stopped after {:?}, before the drain delay",
        started.elapsed()
    );
    Ok(())
}

/// The access-log lines of the public listener, as text.
fn text_access_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("wharf::access") && line.contains("listener=public"))
        .collect()
}

/// One line per request, with its status, app, digest and the path
/// without its query, as text.
#[tokio::test]
async fn the_access_log_has_a_text_line_per_request() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    d.deploy(guests::TRAP, "trap", &[])?;
    let ok = d
        .server
        .get_host("hello.localhost", "/a?token=secret")
        .await?;
    let request_id = ok.headers()["wharf-request-id"].to_str()?.to_owned();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await?, V1);
    assert_eq!(
        d.server.get_host("trap.localhost", "/").await?.status(),
        500
    );
    assert_eq!(
        d.server.get_host("nobody.localhost", "/").await?.status(),
        404
    );
    // A line is written when its response has ended, which the client may
    // see first: wait for all three.
    for needle in ["path=/a ", "app=trap", "status=404"] {
        d.server.wait_for_log(needle)?;
    }
    // A client that leaves before the answer is logged as gone, with
    // nginx's 499.
    d.deploy(guests::SLOW, "slow", &[])?;
    {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", d.server.port())).await?;
        stream
            .write_all(b"GET /left?ms=5000 HTTP/1.1\r\nHost: slow.localhost\r\n\r\n")
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Dropped: the connection closes before the answer.
    }
    let log = d.server.wait_for_log("path=/left")?;
    let left_line = text_access_lines(&log)
        .into_iter()
        .find(|line| line.contains("path=/left"))
        .context("a line for /left")?
        .to_owned();
    let lines = text_access_lines(&log);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let line_with = |needle: &str| {
        lines
            .iter()
            .find(|line| line.contains(needle))
            .copied()
            .with_context(|| format!("no access line with {needle}: {lines:#?}"))
    };
    let hello = line_with("path=/a ")?;
    for field in [
        "app=hello".to_owned(),
        format!("digest={}", &v1.digest[7..19]),
        "method=GET".to_owned(),
        "path=/a ".to_owned(),
        "status=200".to_owned(),
        format!("request_id={request_id}"),
        "client=127.0.0.1".to_owned(),
        "end=complete".to_owned(),
    ] {
        assert!(hello.contains(&field), "{field} not in {hello}");
    }
    assert!(!hello.contains("secret"), "the query is left out: {hello}");
    assert!(line_with("app=trap")?.contains("status=500"));
    assert!(!line_with("status=404")?.contains("app="));
    assert!(
        left_line.contains("status=499") && left_line.contains("end=client_gone"),
        "{left_line}"
    );
    Ok(())
}

/// The same in JSON, where every log line (guest output included) is one
/// object.
#[tokio::test]
async fn the_access_log_has_a_json_line_per_request() -> Result<()> {
    let d = AdminSession::embedded(&["--log-format", "json"])?;
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    for path in ["/one", "/two?x=1"] {
        let response = d.server.get_host("hello.localhost", path).await?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await?, V1);
    }
    // A line is written when its response has ended, which the client may
    // see first: wait for both.
    d.server.wait_for_log(r#""path":"/one""#)?;
    let log = d.server.wait_for_log(r#""path":"/two""#)?;
    let objects: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let access: Vec<_> = objects
        .iter()
        .filter(|o| o["target"] == "wharf::access" && o["listener"] == "public")
        .collect();
    assert_eq!(access.len(), 2, "{access:#?}");
    let two = access
        .iter()
        .find(|line| line["path"] == "/two")
        .context("the line of /two, without its query")?;
    assert_eq!(two["status"], 200);
    assert_eq!(two["app"], "hello");
    assert_eq!(two["digest"], &v1.digest[7..19]);
    assert!(two["duration_ms"].as_f64().is_some());
    let guest = objects
        .iter()
        .find(|o| o["target"] == "wharf::guest")
        .context("a guest line")?;
    assert_eq!(guest["app"], "hello");
    assert_eq!(guest["message"], "hello guest handling /one");
    Ok(())
}

/// A guest's output is tagged with its app and request, kept by the
/// server, and printed by `wharf logs` (and, with `--follow`, as it
/// comes); `/stats` counts the requests.
#[tokio::test]
async fn wharf_logs_prints_the_apps_guest_output() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    d.deploy(guests::HELLO, "hello", &[])?;
    let response = d.server.get_host("hello.localhost", "/first").await?;
    let request_id = response.headers()["wharf-request-id"].to_str()?.to_owned();
    let lines: Vec<LogLine> = {
        let (status, stdout, stderr) = wharf_cli_env(&["logs", "hello", "--json"], &d.env)?;
        ensure!(status.success(), "{stderr}");
        stdout
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?
    };
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].text, "hello guest handling /first");
    assert_eq!(lines[0].request_id, request_id);
    assert_eq!(lines[0].app, "hello");

    let (mut follow, printed) = follow_logs(&d, &["logs", "hello", "--follow", "--since", "1h"])?;
    let first = printed.recv_timeout(Duration::from_secs(10))?;
    assert!(
        first.ends_with("stdout: hello guest handling /first"),
        "{first}"
    );
    assert!(first.contains(&request_id), "{first}");
    let second = loop {
        d.server.get_host("hello.localhost", "/second").await?;
        if let Ok(line) = printed.recv_timeout(Duration::from_millis(500)) {
            break line;
        }
    };
    assert!(second.ends_with("hello guest handling /second"), "{second}");
    follow.kill()?;
    follow.wait()?;

    let stats: AppStatsBody = client()
        .get(format!("{}/v1/apps/hello/stats", d.server.admin()))
        .bearer_auth(d.token())
        .send()
        .await?
        .json()
        .await?;
    assert!(stats.stats.requests >= 2, "{stats:?}");
    assert!(stats.stats.p50_ms.is_some());
    Ok(())
}

/// Two servers on Garage and Postgres: `wharf logs --follow` through A
/// shows a line the guest printed while B served it, tagged with B;
/// `wharf nodes` lists both, and shows B gone once it is killed and has
/// missed its heartbeats past the node timeout.
#[tokio::test]
async fn logs_and_nodes_span_the_cluster() -> Result<()> {
    let store = Garage::from_env().fresh_url();
    let db = Postgres::from_env().fresh_database().await;
    let token = format!("cluster-token-{:016x}", rand_u64());
    let timing = ["--heartbeat-interval", "200ms", "--node-timeout", "2s"];
    let a = AdminSession::on_with_token(&store, &db, &timing, &token)?;
    let mut b = AdminSession::on_with_token(&store, &db, &timing, &token)?;
    a.deploy(guests::HELLO, "hello", &[])?;
    wait_for_body(&b, "hello.localhost", V1).await?;

    // Both have written a heartbeat within a few hundred milliseconds.
    let nodes = wait_for_nodes(&a, |nodes| nodes.nodes.len() == 2).await?;
    let b_id = nodes
        .nodes
        .iter()
        .find(|node| !node.this_server)
        .context("B among the nodes")?
        .id
        .clone();
    assert!(
        nodes.nodes.iter().all(|node| node.state == "live"),
        "{nodes:?}"
    );
    assert!(
        nodes
            .nodes
            .iter()
            .any(|node| node.admin_url == b.server.admin())
    );

    let (mut follow, printed) = follow_logs(&a, &["logs", "hello", "--follow"])?;
    // Ask B until the follower (which asks B once it starts) shows it.
    let from_b = loop {
        b.server.get_host("hello.localhost", "/served-by-b").await?;
        match printed.recv_timeout(Duration::from_millis(500)) {
            Ok(line) if line.contains("/served-by-b") => break line,
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(e) => bail!("wharf logs --follow ended: {e}"),
        }
    };
    assert!(from_b.contains(&b_id), "tagged with B: {from_b}");
    follow.kill()?;
    follow.wait()?;

    b.server.kill()?;
    let nodes = wait_for_nodes(&a, |nodes| {
        nodes
            .nodes
            .iter()
            .any(|node| node.id == b_id && node.state == "gone")
    })
    .await?;
    let gone = nodes
        .nodes
        .iter()
        .find(|node| node.id == b_id)
        .context("B")?;
    assert!(gone.seconds_since_seen > 2.0, "{gone:?}");
    // A's own logs still answer, without B.
    let (status, stdout, stderr) = wharf_cli_env(&["logs", "hello"], &a.env)?;
    ensure!(status.success(), "{stderr}");
    assert!(
        !stdout.contains("/served-by-b"),
        "B's lines went with B: {stdout}"
    );
    Ok(())
}

/// `wharf nodes --json` through `d`, once `done` accepts it (within 15 s).
async fn wait_for_nodes(
    d: &AdminSession,
    done: impl Fn(&wharf_admin::api::NodeList) -> bool,
) -> Result<wharf_admin::api::NodeList> {
    let started = Instant::now();
    loop {
        let nodes: wharf_admin::api::NodeList = d.cli(&["nodes"])?;
        if done(&nodes) {
            return Ok(nodes);
        }
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "nodes never settled: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One span as the collector received it.
#[derive(Clone, Debug)]
struct ReceivedSpan {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: Vec<(String, String)>,
}

/// An OTLP/HTTP receiver: it decodes each export (protobuf) with the
/// `opentelemetry-proto` crate and keeps the spans. It stands in for an
/// OpenTelemetry collector, which no package on these machines provides.
struct Collector {
    url: String,
    spans: std::sync::Arc<std::sync::Mutex<Vec<ReceivedSpan>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Result<Self> {
        use http_body_util::BodyExt;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use prost::Message;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = spans.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let kept = kept.clone();
                            async move {
                                let path = request.uri().path().to_owned();
                                let body = request.into_body().collect().await?.to_bytes();
                                let status = match ExportTraceServiceRequest::decode(body) {
                                    Ok(export) if path == "/v1/traces" => {
                                        let mut kept = kept.lock().expect("spans lock");
                                        for span in export
                                            .resource_spans
                                            .into_iter()
                                            .flat_map(|r| r.scope_spans)
                                            .flat_map(|s| s.spans)
                                        {
                                            kept.push(ReceivedSpan {
                                                name: span.name,
                                                trace_id: hex::encode(span.trace_id),
                                                span_id: hex::encode(span.span_id),
                                                parent_span_id: hex::encode(span.parent_span_id),
                                                attributes: span
                                                    .attributes
                                                    .into_iter()
                                                    .map(|a| {
                                                        let value = a
                                                            .value
                                                            .and_then(|v| v.value)
                                                            .map(|v| format!("{v:?}"))
                                                            .unwrap_or_default();
                                                        (a.key, value)
                                                    })
                                                    .collect(),
                                            });
                                        }
                                        200
                                    }
                                    _ => 400,
                                };
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/x-protobuf")
                                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                                    .map_err(anyhow::Error::from)
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Self { url, spans, task })
    }

    /// The spans received so far of trace `trace_id`, once `done` accepts
    /// them (within 20 s).
    async fn trace(
        &self,
        trace_id: &str,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Result<Vec<ReceivedSpan>> {
        let started = Instant::now();
        loop {
            let spans: Vec<ReceivedSpan> = self
                .spans
                .lock()
                .expect("spans lock")
                .iter()
                .filter(|span| span.trace_id == trace_id)
                .cloned()
                .collect();
            if done(&spans) {
                return Ok(spans);
            }
            ensure!(
                started.elapsed() < Duration::from_secs(20),
                "the trace never arrived whole: {spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// With `--otlp-endpoint`, a request that carries a `traceparent` is one
/// span of that trace, with the guest's span as its child and the guest's
/// outbound request as the guest's; the outbound request carries a
/// `traceparent` of the same trace, naming that span.
#[tokio::test]
async fn traces_continue_the_callers_and_reach_outbound_requests() -> Result<()> {
    let collector = Collector::start().await?;
    let upstream = crate::harness::Upstream::start().await?;
    let d = AdminSession::embedded_with_env(
        &["--otlp-endpoint", &collector.url],
        &[("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned())],
    )?;
    let origin = format!("http://127.0.0.1:{}", upstream.port);
    d.deploy(guests::FETCH, "fetch", &["--allow-outbound", &origin])?;

    let trace_id = format!("{:016x}{:016x}", rand_u64(), rand_u64() | 1);
    let caller_span = format!("{:016x}", rand_u64() | 1);
    let response = client()
        .get(d.server.url(&format!("/?url={origin}/hello")))
        .header("host", format!("fetch.localhost:{}", d.server.port()))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(response.text().await?.contains("upstream saw GET /hello"));

    let spans = collector
        .trace(&trace_id, |spans| {
            ["request", "guest", "instantiate", "outbound", "load"]
                .iter()
                .all(|name| spans.iter().any(|span| span.name == *name))
        })
        .await?;
    let named = |name: &str| {
        spans
            .iter()
            .find(|span| span.name == name)
            .expect("found above")
    };
    let request = named("request");
    assert_eq!(
        request.parent_span_id, caller_span,
        "the caller's trace goes on"
    );
    assert!(
        request
            .attributes
            .iter()
            .any(|(key, value)| key == "wharf.app" && value.contains("fetch")),
        "{request:?}"
    );
    let guest = named("guest");
    assert_eq!(guest.parent_span_id, request.span_id, "{spans:#?}");
    assert_eq!(named("instantiate").parent_span_id, guest.span_id);
    assert_eq!(named("load").parent_span_id, request.span_id);
    let outbound = named("outbound");
    assert_eq!(outbound.parent_span_id, guest.span_id);

    let sent = upstream.traceparents();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0], format!("00-{trace_id}-{}-01", outbound.span_id));
    Ok(())
}

/// `--metrics-listen off` opens no metrics listener; the public listener
/// still answers for health.
#[tokio::test]
async fn the_metrics_listener_can_be_turned_off() -> Result<()> {
    let d = AdminSession::embedded(&["--metrics-listen", "off"])?;
    assert!(
        !d.server.log().contains("metrics listening on"),
        "{}",
        d.server.log()
    );
    let ready = client()
        .get(d.server.url("/.well-known/wharf/ready"))
        .send()
        .await?;
    assert_eq!(ready.status(), 200);
    Ok(())
}

/// `wharf ARGS...` against `d`'s server, left running, and the lines it
/// prints as they come.
fn follow_logs(
    d: &AdminSession,
    args: &[&str],
) -> Result<(std::process::Child, std::sync::mpsc::Receiver<String>)> {
    let mut follow = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .envs(d.env.iter().cloned())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = follow.stdout.take().context("piped")?;
    let (found, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = found.send(line);
        }
    });
    Ok((follow, printed))
}
