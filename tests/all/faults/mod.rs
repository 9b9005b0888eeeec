//! The fault suite: wharf under hostile clients, failing guests and failing
//! dependencies, through the real binary. Tests that measure print their
//! figures (`cargo nextest run -E 'test(/faults::/)' --no-capture`), and
//! RELIABILITY.md records them.
//!
//! - `cut_off.rs`: a response the guest did not finish looks cut off;
//! - `connections.rs`: slow, idle and too many connections;
//! - `uploads.rs`: stalled request bodies and deploy uploads, and the
//!   instance pool's shares;
//! - `crashes.rs`: the server killed at random points of deploys;
//! - `guests.rs`: traps, spinning loops and memory hits all at once;
//! - `dependencies.rs`: the registry's Postgres and the object store going
//!   away and coming back.

mod connections;
mod crashes;
mod cut_off;
mod dependencies;
mod guests;
mod uploads;

use anyhow::Result;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// A second client address on the loopback interface: wharf counts it as
/// another client than 127.0.0.1.
pub(crate) const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Reads from `stream` until the server closes it or `within` passes;
/// returns what arrived and whether it closed.
pub(crate) async fn read_until_closed(
    stream: &mut TcpStream,
    within: Duration,
) -> Result<(Vec<u8>, bool)> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(within, stream.read_to_end(&mut received))
        .await
        .is_ok();
    Ok((received, closed))
}

/// A TCP connection to `port` on 127.0.0.1 from the client address `from`.
pub(crate) async fn connect_from(from: IpAddr, port: u16) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    Ok(socket
        .connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        .await?)
}

/// An HTTP client whose connections come from `from`.
pub(crate) fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Reads from `stream` until the first line of a response has arrived and
/// returns its status code.
pub(crate) async fn read_status(stream: &mut TcpStream, within: Duration) -> Result<u16> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        while !received.windows(2).any(|w| w == b"\r\n") {
            let read = stream.read(&mut buffer).await?;
            anyhow::ensure!(read > 0, "closed before a status line: {received:?}");
            received.extend_from_slice(&buffer[..read]);
        }
        anyhow::Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("no status line within {within:?}"))??;
    let line = String::from_utf8_lossy(&received);
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not a status line: {line:.80}"))?;
    Ok(status)
}
