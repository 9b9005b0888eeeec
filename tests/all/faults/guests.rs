//! Guests that fail every way they can, all at once: each request gets the
//! status its failure calls for, and the server keeps serving.

use crate::serve::AdminSession;
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Instant;
use wharf_test_artifacts as guests;

/// Traps, spinning loops and memory hits, mixed with healthy requests and
/// sent at once: every request gets its expected status, and the server
/// neither crashes nor stops answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mix_of_failing_guests_gets_the_right_statuses_and_no_crash() -> Result<()> {
    const EACH: usize = 20;
    let session = AdminSession::embedded(&["--deadline", "2s", "--max-memory", "32MiB"])?;
    let apps = [
        ("hello", guests::HELLO, 200, "Hello from wharf!"),
        ("trap", guests::TRAP, 500, "crashed"),
        ("spin", guests::BUSY_LOOP, 504, "did not respond within"),
        ("alloc", guests::UNBOUNDED_ALLOC, 500, "memory limit"),
    ];
    for (app, component, _, _) in apps {
        session.deploy(component, app, &[])?;
    }
    let started = Instant::now();
    let requests = (0..EACH).flat_map(|_| apps).map(|(app, _, status, says)| {
        let server = &session.server;
        async move {
            let host = format!("{app}.localhost");
            let response = server.get_host(&host, "/").await?;
            let got = response.status().as_u16();
            let body = response.text().await?;
            anyhow::Ok((app, got == status && body.contains(says), got))
        }
    });
    let answers = futures::future::join_all(requests).await;
    let elapsed = started.elapsed();
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for answer in answers {
        let (app, right, _) = answer?;
        let entry = tally.entry(app).or_default();
        entry.0 += 1;
        entry.1 += usize::from(right);
    }
    let still_serving = session
        .server
        .get_host("hello.localhost", "/")
        .await?
        .status();
    println!(
        "{} requests at once ({EACH} each to hello, a trap, a spinning loop and an unbounded \
         allocation) answered in {elapsed:?}; right status and message, by app: {tally:?}; \
         the server answered {still_serving} after",
        EACH * apps.len()
    );
    for (app, (sent, right)) in &tally {
        assert_eq!(sent, right, "{app}: {right} of {sent} answered as expected");
    }
    assert_eq!(still_serving, 200);
    Ok(())
}
