//! Scoped tokens and the audit trail through the CLI and a real server.

use super::*;
use crate::harness::wharf_cli_env;

/// A deploy token made with `wharf tokens create` deploys its app and no
/// other; the audit trail names it, with the client's address; a revoked
/// token and a wrong one are refused, and failed sign-ins are counted
/// without the token ever reaching the log.
#[tokio::test]
async fn a_scoped_token_deploys_its_app_only_and_leaves_a_trail() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let (status, secret, stderr) = wharf_cli_env(
        &[
            "tokens",
            "create",
            "ci",
            "--role",
            "deploy",
            "--app",
            "shop",
            "--expires",
            "1h",
        ],
        &d.env,
    )?;
    ensure!(status.success(), "tokens create: {stderr}");
    let secret = secret.trim().to_owned();
    assert!(stderr.contains("shown only now"), "{stderr}");
    let list: wharf_admin::api::TokenList = d.cli(&["tokens", "list"])?;
    assert_eq!(list.tokens.len(), 1);
    assert_eq!(list.tokens[0].apps, ["shop"]);
    assert!(list.tokens[0].expires_at.is_some());

    let as_ci = [
        ("WHARF_SERVER", d.server.admin().to_owned()),
        ("WHARF_TOKEN", secret.clone()),
    ];
    let (status, _, stderr) = wharf_cli_env(&["deploy", guests::HELLO, "--app", "shop"], &as_ci)?;
    ensure!(status.success(), "deploy as ci: {stderr}");
    assert_eq!(d.body_at("shop.localhost").await?, V1);
    let (status, _, stderr) = wharf_cli_env(&["deploy", guests::HELLO, "--app", "blog"], &as_ci)?;
    assert!(!status.success());
    assert!(
        stderr.contains("`deploy` role on app `blog`") && stderr.contains("HTTP 403"),
        "{stderr}"
    );
    let history: History = d.cli(&["history", "shop"])?;
    assert_eq!(history.releases[0].token_name, "ci");

    let trail: wharf_admin::api::AuditTrail = d.cli(&["audit"])?;
    let seen: Vec<(&str, &str, Option<&str>, u16)> = trail
        .entries
        .iter()
        .map(|e| {
            (
                e.actor.as_str(),
                e.action.as_str(),
                e.app.as_deref(),
                e.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ci", "deploy", Some("blog"), 403),
            ("ci", "deploy", Some("shop"), 201),
            ("admin", "create token", None, 201),
        ]
    );
    assert!(
        trail.entries.iter().all(|e| e.client == "127.0.0.1"),
        "{trail:?}"
    );
    // One app's trail needs only read on it; the whole trail needs admin.
    let (status, stdout, stderr) = wharf_cli_env(&["audit", "--app", "shop", "--json"], &as_ci)?;
    ensure!(status.success(), "audit --app shop as ci: {stderr}");
    let shop: wharf_admin::api::AuditTrail = serde_json::from_str(&stdout)?;
    assert_eq!(shop.entries.len(), 1);
    let (status, _, stderr) = wharf_cli_env(&["audit"], &as_ci)?;
    assert!(
        !status.success() && stderr.contains("`admin` role"),
        "{stderr}"
    );

    let _: serde_json::Value = d.cli(&["tokens", "revoke", "ci"])?;
    let (status, _, stderr) = wharf_cli_env(&["apps"], &as_ci)?;
    assert!(!status.success() && stderr.contains("HTTP 401"), "{stderr}");

    let wrong = [
        ("WHARF_SERVER", d.server.admin().to_owned()),
        ("WHARF_TOKEN", "wharf_t_not-a-token-at-all".to_owned()),
    ];
    let (status, _, _) = wharf_cli_env(&["apps"], &wrong)?;
    assert!(!status.success());
    let log = d
        .server
        .wait_for_log("refused an admin request without a valid token")?;
    assert!(
        !log.contains(&secret) && !log.contains("not-a-token-at-all"),
        "{log}"
    );
    let metrics = client()
        .get(format!("{}/metrics", d.server.metrics()))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics
            .lines()
            .any(|line| line == "wharf_admin_sign_in_failures_total 2"),
        "the revoked and the wrong token:\n{metrics}"
    );
    Ok(())
}
