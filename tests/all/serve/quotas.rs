//! Quotas on apps' key-value data.

use super::*;

/// A key-value write past the app's quota fails in the guest with an error
/// that says so, and nothing is written. Quotas are per app.
#[tokio::test]
async fn key_value_quota_is_enforced() -> Result<()> {
    let d = AdminSession::embedded(&["--kv-quota", "100B"])?;
    d.deploy(guests::COUNTER, "small", &[])?;
    d.deploy(guests::COUNTER, "roomy", &[])?;
    let settings: serde_json::Value = d.cli(&["settings", "roomy", "--kv-quota", "1KiB"])?;
    assert_eq!(settings["kv_quota"], 1024);
    let post = |host: &'static str, path: &'static str| {
        client()
            .post(d.server.url(path))
            .header("host", host)
            .send()
    };
    const LONG: &str = "/a-key-long-enough-to-pass-the-quota";
    // "counters" + "a" + "1" + 64 bytes of overhead: 74 of 100.
    assert_eq!(post("small.localhost", "/a").await?.text().await?, "1\n");
    let long = post("small.localhost", LONG).await?;
    assert_eq!(long.status(), 500);
    d.server.wait_for_log("over its quota of 100")?;
    let listing = d
        .server
        .get_host("small.localhost", "/")
        .await?
        .text()
        .await?;
    assert_eq!(listing, "a=1\n");
    assert_eq!(post("roomy.localhost", LONG).await?.status(), 200);
    let settings: serde_json::Value = d.cli(&["settings", "small"])?;
    assert_eq!(settings["kv_usage"], 74);
    Ok(())
}
