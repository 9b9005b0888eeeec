//! Config, key-value data and deployment facts, per app and durable.

use super::*;

/// Config, key-value data and deployment facts, per app and durable: the
/// flow of the app-data issue against one registry backend.
async fn app_data(d: &AdminSession) -> Result<()> {
    for app in ["count-a", "count-b"] {
        d.deploy(guests::COUNTER, app, &[])?;
    }
    d.deploy(guests::CONFIG, "conf", &[])?;
    d.deploy(guests::CONFIG, "other-conf", &[])?;
    let whoami = d.deploy(guests::WHOAMI, "who", &[])?;

    // 50 parallel increments sum exactly; another app sees none of them.
    let hits = futures::future::join_all((0..50).map(|_| {
        client()
            .post(d.server.url("/hits"))
            .header("host", "count-a.localhost")
            .send()
    }))
    .await;
    for hit in hits {
        let hit = hit?;
        ensure!(hit.status() == 200, "increment: {}", hit.text().await?);
    }
    let body = |host: &'static str, path: &'static str| async move {
        let response = d.server.get_host(host, path).await?;
        ensure!(
            response.status() == 200,
            "{host}{path}: {}",
            response.status()
        );
        anyhow::Ok(response.text().await?)
    };
    assert_eq!(body("count-a.localhost", "/hits").await?, "50\n");
    assert_eq!(body("count-b.localhost", "/hits").await?, "0\n");
    assert_eq!(body("count-b.localhost", "/").await?, "");

    // Config: a value and a secret; the other app sees neither.
    let set = |args: &[&str]| {
        let mut all = vec!["config", "set"];
        all.extend_from_slice(args);
        d.cli::<serde_json::Value>(&all)
    };
    set(&["conf", "greeting=Howdy"])?;
    let listed = set(&["conf", "api-token=s3cr3t-value", "--secret"])?;
    assert!(!listed.to_string().contains("s3cr3t-value"), "{listed}");
    assert_eq!(
        body("conf.localhost", "/").await?,
        "Howdy, world! The token has 12 characters.\n"
    );
    assert_eq!(
        body("other-conf.localhost", "/").await?,
        "Hello, world! There is no token.\n"
    );
    let listed: serde_json::Value = d.cli(&["config", "list", "conf"])?;
    assert_eq!(listed["config"][0]["key"], "api-token");
    assert_eq!(listed["config"][0]["secret"], true);
    assert!(listed["config"][0].get("value").is_none(), "{listed}");
    assert_eq!(listed["config"][1]["value"], "Howdy");
    let (status, stdout, _) = wharf_cli_env(&["config", "list", "conf"], &d.env)?;
    assert!(status.success());
    assert_eq!(stdout, "api-token (secret)\ngreeting=Howdy\n");
    d.cli::<serde_json::Value>(&["config", "unset", "conf", "greeting"])?;
    assert_eq!(
        body("conf.localhost", "/").await?,
        "Hello, world! The token has 12 characters.\n"
    );
    for bad in ["bad key=1", "..=1", ".=1"] {
        let error = d.cli_fails(&["config", "set", "conf", bad])?;
        assert!(error.contains("configuration keys are"), "{error}");
    }
    // `..` is refused before it can become a path segment of another request.
    let error = d.cli_fails(&["config", "unset", "conf", ".."])?;
    assert!(error.contains("configuration keys are"), "{error}");
    assert_eq!(
        d.server.get_host("conf.localhost", "/").await?.status(),
        200
    );
    let error = d.cli_fails(&["config", "unset", "conf", "missing"])?;
    assert!(error.contains("has no configuration key"), "{error}");
    assert!(
        !d.server.log().contains("s3cr3t-value"),
        "a secret reached the log"
    );

    // Deployment facts, live and through the preview URL.
    let facts: serde_json::Value = d
        .server
        .get_host("who.localhost", "/")
        .await?
        .json()
        .await?;
    assert_eq!(facts["app"], "who");
    assert_eq!(facts["digest"], whoami.digest.as_str());
    assert_eq!(facts["preview"], false);
    let preview = host_of(&whoami.preview_url);
    let facts: serde_json::Value = d.preview_get(preview).await?.json().await?;
    assert_eq!(facts["preview"], true);
    Ok(())
}

#[tokio::test]
async fn app_data_on_embedded_defaults_survives_a_restart() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    app_data(&d).await?;
    let d = d.restart()?;
    assert_eq!(
        d.server
            .get_host("count-a.localhost", "/hits")
            .await?
            .text()
            .await?,
        "50\n"
    );
    let response = d.server.get_host("conf.localhost", "/").await?;
    assert_eq!(
        response.text().await?,
        "Hello, world! The token has 12 characters.\n"
    );
    Ok(())
}

#[tokio::test]
async fn app_data_on_garage_and_postgres_survives_a_restart() -> Result<()> {
    let (a, store, db) = AdminSession::garage_and_postgres().await?;
    app_data(&a).await?;
    // A second server on the same database: increments through both sum
    // exactly, and a config change through one reaches the other.
    let b = AdminSession::on(&store, &db, &["--poll-interval", "60s"])?;
    let post = |d: &AdminSession| {
        client()
            .post(d.server.url("/hits"))
            .header("host", "count-a.localhost")
            .send()
    };
    let hits =
        futures::future::join_all((0..40).map(|i| post(if i % 2 == 0 { &a } else { &b }))).await;
    for hit in hits {
        ensure!(hit?.status() == 200, "increment failed");
    }
    let total = b
        .server
        .get_host("count-a.localhost", "/hits")
        .await?
        .text()
        .await?;
    assert_eq!(total, "90\n");
    // No drift under concurrency: "counters" + "hits" + "90" + 64.
    let settings: serde_json::Value = b.cli(&["settings", "count-a"])?;
    assert_eq!(settings["kv_usage"], 8 + 4 + 2 + 64);
    a.cli::<serde_json::Value>(&["config", "set", "conf", "greeting=Ahoy"])?;
    wait_for_body(
        &b,
        "conf.localhost",
        "Ahoy, world! The token has 12 characters.\n",
    )
    .await?;
    drop(b);
    drop(a);
    let d = AdminSession::on(&store, &db, &[])?;
    assert_eq!(
        d.server
            .get_host("count-a.localhost", "/hits")
            .await?
            .text()
            .await?,
        "90\n"
    );
    Ok(())
}
