//! Outbound allow-lists and the capabilities a deploy reports, per app.

use super::*;

/// Each app reaches only the origins allowed to it; a deploy says which
/// capabilities its component uses, and which are new.
#[tokio::test]
async fn outbound_allow_lists_and_capabilities_are_per_app() -> Result<()> {
    let upstream = crate::harness::Upstream::start().await?;
    let origin = format!("http://127.0.0.1:{}", upstream.port);
    // The server's own list is open to every app, beside each app's own.
    let shared = crate::harness::Upstream::start().await?;
    let shared_origin = format!("http://127.0.0.1:{}", shared.port);
    let d = AdminSession::embedded(&["--allow-outbound", &shared_origin])?;
    let first = d.deploy(guests::HELLO, "fetch-a", &[])?;
    assert!(first.capabilities.is_empty(), "{:?}", first.capabilities);
    let a = d.deploy(guests::FETCH, "fetch-a", &["--allow-outbound", &origin])?;
    assert_eq!(a.capabilities, ["wasi:http/outgoing-handler"]);
    assert_eq!(a.added_capabilities, ["wasi:http/outgoing-handler"]);
    let again = d.deploy(guests::FETCH, "fetch-a", &[])?;
    assert!(
        again.added_capabilities.is_empty(),
        "{:?}",
        again.added_capabilities
    );
    // An app's first deployment has nothing to compare with: nothing is new.
    let b = d.deploy(guests::FETCH, "fetch-b", &[])?;
    assert_eq!(b.capabilities, ["wasi:http/outgoing-handler"]);
    assert!(
        b.added_capabilities.is_empty(),
        "{:?}",
        b.added_capabilities
    );
    let history: History = d.cli(&["history", "fetch-a"])?;
    assert!(
        history
            .deployments
            .iter()
            .any(|d| d.capabilities == ["wasi:http/outgoing-handler"])
    );

    let fetch = |host: &'static str| {
        client()
            .get(d.server.url("/"))
            .query(&[("url", format!("{origin}/x"))])
            .header("host", host)
            .send()
    };
    assert_eq!(
        fetch("fetch-a.localhost").await?.text().await?,
        "upstream saw GET /x\n"
    );
    let denied = fetch("fetch-b.localhost").await?;
    assert_eq!(denied.status(), 502);
    assert!(denied.text().await?.contains("HttpRequestDenied"));
    assert_eq!(upstream.hits(), 1);

    let settings: serde_json::Value =
        d.cli(&["settings", "fetch-b", "--allow-outbound", &origin])?;
    assert_eq!(settings["outbound"][0], origin.as_str());
    assert_eq!(fetch("fetch-b.localhost").await?.status(), 200);
    assert_eq!(upstream.hits(), 2);

    let error = d.cli_fails(&["settings", "fetch-b", "--allow-outbound", "example.com"])?;
    assert!(error.contains("it has no scheme"), "{error}");
    let error = d.cli_fails(&[
        "deploy",
        guests::FETCH,
        "--app",
        "fetch-c",
        "--allow-outbound",
        "ftp://x",
    ])?;
    assert!(error.contains("http or https"), "{error}");
    let error = d.cli_fails(&[
        "deploy",
        guests::FETCH,
        "--app",
        "fetch-a",
        "--preview",
        "--allow-outbound",
        &origin,
    ])?;
    assert!(error.contains("cannot come with preview"), "{error}");

    for host in ["fetch-a.localhost", "fetch-b.localhost"] {
        let response = client()
            .get(d.server.url("/"))
            .query(&[("url", format!("{shared_origin}/shared"))])
            .header("host", host)
            .send()
            .await?;
        assert_eq!(response.text().await?, "upstream saw GET /shared\n");
    }
    assert_eq!(shared.hits(), 2);
    Ok(())
}
