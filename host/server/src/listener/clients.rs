//! Accounting per client address and per connection: how many connections
//! each client holds, how many requests it has in flight (each until its
//! response body ends, [`InFlightBody`]), and whether a connection has been
//! idle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The clients connected to one listener, by address.
pub(super) struct Clients {
    by_address: Mutex<HashMap<IpAddr, Arc<Client>>>,
    max_connections: usize,
    max_requests: usize,
}

/// What one client address holds.
#[derive(Default)]
struct Client {
    /// Changed only under the map's lock, so an entry is removed exactly
    /// when its last connection closes.
    connections: AtomicUsize,
    in_flight: AtomicUsize,
}

impl Clients {
    /// Clients of at most `max_connections` connections and `max_requests`
    /// requests in flight each.
    pub(super) fn new(max_connections: usize, max_requests: usize) -> Arc<Self> {
        Arc::new(Self {
            by_address: Mutex::new(HashMap::new()),
            max_connections,
            max_requests,
        })
    }

    /// Opens the account of a new connection from `address`, or `None` if
    /// that address already holds its most connections.
    pub(super) fn connect(self: &Arc<Self>, address: IpAddr) -> Option<Connection> {
        let address = client_of(address);
        let mut by_address = self.by_address.lock().expect("clients lock");
        let client = by_address.entry(address).or_default();
        if client.connections.load(Ordering::Relaxed) >= self.max_connections {
            return None;
        }
        client.connections.fetch_add(1, Ordering::Relaxed);
        Some(Connection {
            clients: self.clone(),
            address,
            client: client.clone(),
            in_flight: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
        })
    }
}

/// The client an address belongs to: an IPv4 address (IPv4-mapped IPv6
/// included) is one client, and so is an IPv6 /64, the block one host
/// usually has to itself.
fn client_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from_bits(
            v6.to_bits() & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

/// One connection's account, closed when it drops.
pub(super) struct Connection {
    clients: Arc<Clients>,
    address: IpAddr,
    client: Arc<Client>,
    /// Requests in flight on this connection.
    in_flight: AtomicUsize,
    /// Requests this connection has started, to tell an idle connection from
    /// a busy one between two looks.
    started: AtomicUsize,
}

impl Connection {
    /// Counts a request in flight on this connection until the returned
    /// guard drops, or returns `None` if its client already has its most
    /// requests in flight.
    pub(super) fn start_request(self: &Arc<Self>) -> Option<InFlight> {
        let before = self.client.in_flight.fetch_add(1, Ordering::Relaxed);
        if before >= self.clients.max_requests {
            self.client.in_flight.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.started.fetch_add(1, Ordering::Relaxed);
        Some(InFlight(self.clone()))
    }

    /// How many requests this connection has started so far, and whether
    /// one is in flight now.
    pub(super) fn activity(&self) -> (usize, bool) {
        (
            self.started.load(Ordering::Relaxed),
            self.in_flight.load(Ordering::Relaxed) > 0,
        )
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut by_address = self.clients.by_address.lock().expect("clients lock");
        if self.client.connections.fetch_sub(1, Ordering::Relaxed) == 1 {
            by_address.remove(&self.address);
        }
    }
}

/// A request in flight, counted against its connection and its client.
pub(super) struct InFlight(Arc<Connection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.client.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_client_is_held_to_its_connections_and_requests() {
        let clients = Clients::new(2, 3);
        let one = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let first = Arc::new(clients.connect(one).expect("first connection"));
        let second = Arc::new(clients.connect(one).expect("second connection"));
        assert!(clients.connect(one).is_none(), "a third is refused");
        assert!(clients.connect(other).is_some(), "another client is not");

        let requests: Vec<_> = (0..3)
            .map(|i| {
                let on = if i % 2 == 0 { &first } else { &second };
                on.start_request().expect("within the client's requests")
            })
            .collect();
        assert!(second.start_request().is_none(), "a fourth is refused");
        assert_eq!(first.activity(), (2, true));
        drop(requests);
        assert_eq!(first.activity(), (2, false));
        assert!(
            second.start_request().is_some(),
            "finished requests count no more"
        );

        drop(first);
        assert!(
            clients.connect(one).is_some(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn an_ipv6_host_is_one_client_across_its_slash_64() {
        let clients = Clients::new(1, 1);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("an address");
        let same_block: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        let other_block: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
        let _held = clients.connect(one).expect("a first connection");
        assert!(
            clients.connect(same_block).is_none(),
            "the same /64 is the same client"
        );
        assert!(clients.connect(other_block).is_some());
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("an address");
        let _v4 = clients.connect(mapped).expect("a first IPv4 connection");
        assert!(clients.connect(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_none());
    }

    #[test]
    fn the_last_connection_of_a_client_removes_its_entry() {
        let clients = Clients::new(1, 1);
        let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        drop(clients.connect(address).expect("a connection"));
        assert!(clients.by_address.lock().expect("lock").is_empty());
    }
}
