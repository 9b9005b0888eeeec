//! The TLS listener, driven by real clients: curl over HTTP/2 and
//! HTTP/1.1, h2load (Debian's nghttp2-client) for an HTTP/2 load, and
//! certificates made by the openssl command and replaced on disk.

use super::*;
use std::process::Command;

/// Makes a self-signed certificate for `*.localhost` with `name` as its
/// subject, in `dir`, and returns the certificate and key files.
fn certificate(dir: &Path, name: &str) -> Result<(String, String)> {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=DNS:*.localhost,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()?;
    ensure!(
        made.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    Ok((
        cert.to_str().context("utf-8 path")?.to_owned(),
        key.to_str().context("utf-8 path")?.to_owned(),
    ))
}

/// `curl ARGS... https://hello.localhost:PORT/` against `d`'s TLS listener,
/// trusting any certificate: its status, stdout and stderr.
fn curl(d: &AdminSession, args: &[&str]) -> Result<(bool, String, String)> {
    let port = d.server.tls().rsplit(':').next().context("a port")?;
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--insecure", "--max-time", "10"])
        .args(["--resolve", &format!("hello.localhost:{port}:127.0.0.1")])
        .args(args)
        .arg(format!("https://hello.localhost:{port}/"))
        .output()?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// An app answers over TLS with HTTP/2 and HTTP/1.1 (chosen by ALPN), an
/// HTTP/2 load gets no errors, and a certificate replaced on disk is what
/// the next connection gets, without a restart.
#[tokio::test]
async fn apps_answer_over_tls_and_a_replaced_certificate_is_served() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (cert, key) = certificate(dir.path(), "wharf-first")?;
    let d = AdminSession::embedded(&[
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ])?;
    d.deploy(guests::HELLO, "hello", &[])?;

    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let (ok, out, err) = curl(&d, &[flag, "--write-out", "|%{http_version}"])?;
        ensure!(ok, "curl {flag}: {err}");
        assert_eq!(out, format!("{V1}|{version}"), "{flag}");
    }

    let port = d
        .server
        .tls()
        .rsplit(':')
        .next()
        .context("a port")?
        .to_owned();
    let load = Command::new("h2load")
        .args(["-n", "200", "-c", "4", "-m", "8"])
        .args(["-H", &format!(":authority: hello.localhost:{port}")])
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .context("h2load (Debian's nghttp2-client; scripts/setup.sh --tests installs it)")?;
    let report = String::from_utf8_lossy(&load.stdout);
    ensure!(load.status.success(), "h2load: {report}");
    assert!(
        report.contains("200 succeeded, 0 failed, 0 errored"),
        "{report}"
    );
    assert!(report.contains("Application protocol: h2"), "{report}");

    // Replaced on disk, by rename as deploy tools do: picked up by the next
    // connection.
    let (new_cert, new_key) = certificate(dir.path(), "wharf-second")?;
    std::fs::rename(&new_key, &key)?;
    std::fs::rename(&new_cert, &cert)?;
    let started = Instant::now();
    loop {
        let (ok, out, err) = curl(&d, &["--verbose"])?;
        ensure!(ok, "curl after the replacement: {err}");
        assert_eq!(out, V1);
        if err.contains("CN=wharf-second") {
            break;
        }
        assert!(err.contains("CN=wharf-first"), "{err}");
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "the replaced certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d.server.wait_for_log("reloaded the TLS certificates")?;
    Ok(())
}

/// A key file that is not a key stops the start, naming the file.
#[tokio::test]
async fn an_unusable_key_stops_the_start_naming_the_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (cert, _key) = certificate(dir.path(), "wharf-test")?;
    let bad_key = dir.path().join("not-a.key");
    std::fs::write(&bad_key, "this is not a key\n")?;
    let bad_key = bad_key.to_str().context("utf-8 path")?;
    let data_dir = tempfile::tempdir()?;
    let started = Wharf::serve(
        data_dir.path(),
        &[
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            bad_key,
        ],
        &[],
    );
    let message = started.err().context("the start is refused")?.to_string();
    assert!(message.contains(bad_key), "{message}");
    assert!(message.contains("private key"), "{message}");
    Ok(())
}
