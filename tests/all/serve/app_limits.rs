//! Limits an app sets on its own requests (`wharf settings APP --deadline
//! --cpu-time --memory --max-body --max-instances`), within the server's.

use super::*;
use wharf_admin::api::AppSettingsBody;

/// GETs `path` at `host`, and says the status and the body.
async fn answer(d: &AdminSession, host: &str, path: &str) -> Result<(u16, String)> {
    let response = d.server.get_host(host, path).await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// With the pool of 8 open to any one app, 10 slow requests to one app
/// leave nothing for another, which gets 503. Once the flooding app is
/// held to 2 instances, the other still answers while it floods.
#[tokio::test]
async fn an_app_held_to_its_instances_cannot_starve_another() -> Result<()> {
    let d = AdminSession::embedded(&["--max-instances", "8", "--max-instances-per-app", "8"])?;
    d.deploy(guests::SLOW, "flood", &[])?;
    d.deploy(guests::HELLO, "calm", &[])?;

    let flood = |d: &AdminSession| {
        let url = d.server.url("/?ms=3000");
        let host = format!("flood.localhost:{}", d.server.port());
        (0..10)
            .map(|_| {
                let (url, host) = (url.clone(), host.clone());
                tokio::spawn(async move {
                    let response = client()
                        .get(url)
                        .header(reqwest::header::HOST, host)
                        .send()
                        .await?;
                    anyhow::Ok(response.status().as_u16())
                })
            })
            .collect::<Vec<_>>()
    };
    let flooding = flood(&d);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, _) = answer(&d, "calm.localhost", "/").await?;
    assert_eq!(status, 503, "the flood holds every slot");
    for request in flooding {
        request.await??;
    }

    let settings: AppSettingsBody = d.cli(&["settings", "flood", "--max-instances", "2"])?;
    assert_eq!(settings.limits.max_instances, Some(2));
    let flooding = flood(&d);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        answer(&d, "calm.localhost", "/").await?,
        (200, V1.to_owned())
    );
    let mut statuses = Vec::new();
    for request in flooding {
        statuses.push(request.await??);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 503, 503, 503, 503, 503, 503, 503, 503]);
    Ok(())
}

/// A guest that spins is stopped by its app's CPU time long before the
/// deadline and answered 503 naming it; one that sleeps for longer than
/// that CPU time is not stopped, since waiting uses none.
#[tokio::test]
async fn cpu_time_stops_spinning_not_sleeping() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    d.deploy(guests::BUSY_LOOP, "spin", &[])?;
    d.deploy(guests::SLOW, "nap", &[])?;
    for app in ["spin", "nap"] {
        let settings: AppSettingsBody = d.cli(&["settings", app, "--cpu-time", "300ms"])?;
        assert_eq!(settings.effective_limits.cpu_time_ms, Some(300));
    }
    let started = Instant::now();
    let (status, body) = answer(&d, "spin.localhost", "/").await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("CPU time of 300ms"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped by its CPU time, not the 30 s deadline"
    );
    let (status, _) = answer(&d, "nap.localhost", "/?ms=1500").await?;
    assert_eq!(status, 200);
    let metrics = client()
        .get(format!("{}/metrics", d.server.metrics()))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("wharf_guest_failures_total") && l.contains("cpu_time")),
        "{metrics}"
    );
    Ok(())
}

/// An app's own deadline, memory and body limits apply to its requests
/// only; none may be set above the server's.
#[tokio::test]
async fn an_apps_own_limits_apply_to_it_alone() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    d.deploy(guests::SLOW, "slow", &[])?;
    d.deploy(guests::SLOW, "patient", &[])?;
    d.deploy(guests::ECHO, "echo", &[])?;
    d.deploy(guests::UNBOUNDED_ALLOC, "hungry", &[])?;
    let _: AppSettingsBody = d.cli(&["settings", "slow", "--deadline", "1s"])?;
    let _: AppSettingsBody = d.cli(&["settings", "echo", "--max-body", "1KiB"])?;
    let settings: AppSettingsBody = d.cli(&["settings", "hungry", "--memory", "16MiB"])?;
    assert_eq!(settings.effective_limits.memory_bytes, Some(16 << 20));

    let (status, body) = answer(&d, "slow.localhost", "/?ms=2000").await?;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("within 1s"), "{body}");
    assert_eq!(answer(&d, "patient.localhost", "/?ms=2000").await?.0, 200);

    let big = client()
        .post(d.server.url("/"))
        .header(
            reqwest::header::HOST,
            format!("echo.localhost:{}", d.server.port()),
        )
        .body(vec![b'x'; 2048])
        .send()
        .await?;
    assert_eq!(big.status(), 413);
    let (status, body) = answer(&d, "hungry.localhost", "/").await?;
    assert_eq!(status, 500);
    assert!(body.contains(&format!("{} bytes", 16 << 20)), "{body}");

    let stderr = d.cli_fails(&["settings", "slow", "--deadline", "1h"])?;
    assert!(
        stderr.contains("above the server's --deadline") && stderr.contains("HTTP 400"),
        "{stderr}"
    );
    let stderr = d.cli_fails(&["settings", "slow", "--max-instances", "0"])?;
    assert!(stderr.contains("above 0"), "{stderr}");
    // `default` gives the server's back.
    let settings: AppSettingsBody = d.cli(&["settings", "slow", "--deadline", "default"])?;
    assert_eq!(settings.limits.deadline_ms, None);
    assert_eq!(settings.effective_limits.deadline_ms, Some(30_000));
    Ok(())
}
