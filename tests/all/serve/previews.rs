//! Who may open preview URLs (`public`, `token`, `off`), one-time preview
//! links, and disabled deployments.

use super::*;
use crate::harness::wharf_cli_env;

/// GETs `path` at `host` on `d`'s public listener with `headers`, without
/// following redirects.
async fn get(
    d: &AdminSession,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut request = client
        .get(d.server.url(path))
        .header(reqwest::header::HOST, format!("{host}:{}", d.server.port()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Ok(request.send().await?)
}

/// Polls until `host` answers `status` to a request without credentials.
async fn wait_for_status(d: &AdminSession, host: &str, status: u16) -> Result<()> {
    let started = Instant::now();
    loop {
        let got = get(d, host, "/", &[]).await?.status().as_u16();
        if got == status {
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(3),
            "{host} still answers {got}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new app's previews need a token that may read it, or the cookie its
/// one-time link sets; neither reaches the guest. `public` opens them to
/// anyone and `off` closes them.
#[tokio::test]
async fn previews_of_a_new_app_need_a_token_or_its_link() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    d.deploy(guests::HELLO, "shop", &[])?;
    let preview = d.deploy(guests::CGI, "shop", &["--preview"])?;
    let host = host_of(&preview.preview_url).to_owned();
    let link = preview
        .preview_link
        .clone()
        .context("a token-only preview comes with a link")?;

    let refused = get(&d, &host, "/credentials", &[]).await?;
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await?.contains("preview link"));
    // The live URL needs nothing.
    assert_eq!(d.body_at("shop.localhost").await?, V1);

    // A token that may read the app opens it; one for another app does not.
    let make = |name: &str, app: &str| -> Result<String> {
        let (status, secret, stderr) = wharf_cli_env(
            &["tokens", "create", name, "--role", "read", "--app", app],
            &d.env,
        )?;
        ensure!(status.success(), "{stderr}");
        Ok(secret.trim().to_owned())
    };
    let reader = make("reader", "shop")?;
    let stranger = make("stranger", "blog")?;
    let opened = get(
        &d,
        &host,
        "/credentials",
        &[("wharf-preview-token", &reader), ("cookie", "theme=dark")],
    )
    .await?;
    assert_eq!(opened.status(), 200);
    assert_eq!(
        opened.text().await?.trim(),
        "cookie=theme=dark preview-token=",
        "the guest sees its own cookies, never the token"
    );
    let wrong = get(&d, &host, "/", &[("wharf-preview-token", &stranger)]).await?;
    assert_eq!(wrong.status(), 401);

    // The link, once: it sets the cookie and sends the browser to `/`.
    let path = link
        .split_once(&format!("{host}:{}", d.server.port()))
        .map(|(_, path)| path.to_owned())
        .context("the link is on the preview's host")?;
    let followed = get(&d, &host, &path, &[]).await?;
    assert_eq!(followed.status(), 303);
    assert_eq!(followed.headers()["location"], "/");
    let set_cookie = followed.headers()["set-cookie"].to_str()?.to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().context("a cookie")?.to_owned();
    let with_cookie = get(
        &d,
        &host,
        "/credentials",
        &[("cookie", &format!("a=1; {cookie}"))],
    )
    .await?;
    assert_eq!(with_cookie.status(), 200);
    assert_eq!(
        with_cookie.text().await?.trim(),
        "cookie=a=1 preview-token=",
        "the preview cookie is wharf's alone"
    );
    let again = get(&d, &host, &path, &[]).await?;
    assert_eq!(again.status(), 403, "a link opens once");
    // The cookie is for this preview only.
    let other = d.deploy(guests::HELLO_V2, "shop", &["--preview"])?;
    let other_host = host_of(&other.preview_url).to_owned();
    let elsewhere = get(&d, &other_host, "/", &[("cookie", &cookie)]).await?;
    assert_eq!(elsewhere.status(), 401);
    // `wharf deployments link` makes another.
    let (status, link, stderr) =
        wharf_cli_env(&["deployments", "link", "shop", &other.digest], &d.env)?;
    ensure!(status.success(), "{stderr}");
    assert!(
        link.trim().contains("/.well-known/wharf/preview?grant="),
        "{link}"
    );

    let settings: wharf_admin::api::AppSettingsBody =
        d.cli(&["settings", "shop", "--previews", "public"])?;
    assert_eq!(settings.previews, "public");
    // The CGI guest answers 201 at `/`.
    wait_for_status(&d, &host, 201).await?;
    let _: wharf_admin::api::AppSettingsBody = d.cli(&["settings", "shop", "--previews", "off"])?;
    wait_for_status(&d, &host, 404).await?;
    let closed = get(&d, &host, "/", &[("wharf-preview-token", d.token())]).await?;
    assert_eq!(closed.status(), 404, "off is off, even with a token");
    assert!(closed.text().await?.contains("previews turned off"));
    Ok(())
}

/// A disabled deployment's preview answers 410; it cannot be promoted or
/// rolled back to until enabled; the live deployment cannot be disabled.
#[tokio::test]
async fn a_disabled_deployment_is_gone_until_enabled() -> Result<()> {
    let d = AdminSession::embedded(&[])?;
    let v1 = d.deploy(guests::HELLO, "hello", &[])?;
    let v2 = d.deploy(guests::HELLO_V2, "hello", &["--preview"])?;
    let _: wharf_admin::api::AppSettingsBody =
        d.cli(&["settings", "hello", "--previews", "public"])?;
    let host = host_of(&v2.preview_url).to_owned();
    wait_for_status(&d, &host, 200).await?;

    let live = d.cli_fails(&["deployments", "disable", "hello", &v1.digest])?;
    assert!(
        live.contains("is serving") && live.contains("HTTP 409"),
        "{live}"
    );
    let disabled: wharf_admin::api::DeploymentInfo =
        d.cli(&["deployments", "disable", "hello", &v2.digest])?;
    assert!(disabled.disabled);
    wait_for_status(&d, &host, 410).await?;
    let refused = d.cli_fails(&["promote", "hello", &v2.digest])?;
    assert!(
        refused.contains("is disabled") && refused.contains("HTTP 409"),
        "{refused}"
    );
    // Deploying the same bytes again does not put them live either.
    let redeploy = d.cli_fails(&["deploy", guests::HELLO_V2, "--app", "hello"])?;
    assert!(
        redeploy.contains("is disabled") && redeploy.contains("HTTP 409"),
        "{redeploy}"
    );
    assert_eq!(d.body_at("hello.localhost").await?, V1);
    let history: History = d.cli(&["history", "hello"])?;
    assert!(
        history
            .deployments
            .iter()
            .any(|dep| dep.digest == v2.digest && dep.disabled)
    );

    let _: wharf_admin::api::DeploymentInfo =
        d.cli(&["deployments", "enable", "hello", &v2.digest])?;
    wait_for_status(&d, &host, 200).await?;
    let _: ReleaseInfo = d.cli(&["promote", "hello", &v2.digest])?;
    assert_eq!(d.body_at("hello.localhost").await?, V2);
    // v1 disabled: there is nothing to roll back to.
    let _: wharf_admin::api::DeploymentInfo =
        d.cli(&["deployments", "disable", "hello", &v1.digest])?;
    let stderr = d.cli_fails(&["rollback", "hello"])?;
    assert!(stderr.contains("no earlier live deployment"), "{stderr}");
    let stderr = d.cli_fails(&["rollback", "hello", "--to", &v1.digest])?;
    assert!(stderr.contains("is disabled"), "{stderr}");
    Ok(())
}
