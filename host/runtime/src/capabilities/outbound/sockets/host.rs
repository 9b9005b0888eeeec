//! The host functions of `wasi:sockets`: wasmtime-wasi's, with wharf's own
//! name lookup and socket creation, each checked by the request's
//! [`SocketAccess`].

use super::SocketAccess;
use crate::capabilities::HostState;
use crate::world::generated::wasi::sockets::{ip_name_lookup, tcp_create_socket};
use std::net::IpAddr;
use std::sync::Arc;
use std::vec;
use tokio::sync::oneshot;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode, IpAddress, IpAddressFamily, Network,
};
use wasmtime_wasi::p2::bindings::sockets::tcp::TcpSocket;
use wasmtime_wasi::p2::{DynPollable, Pollable, SocketError, subscribe};
use wasmtime_wasi::sockets::WasiSocketsView;

/// Links `wasi:sockets`: wasmtime-wasi's network, TCP and UDP interfaces
/// (its socket address check is the request's [`SocketAccess`]), and wharf's
/// own name lookup and TCP socket creation.
pub(in crate::capabilities) fn add_to_linker(
    linker: &mut Linker<HostState>,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::sockets;
    use wasmtime_wasi::sockets::WasiSockets;
    let l = linker;
    let options = network::LinkOptions::default();
    network::add_to_linker::<_, WasiSockets>(l, &options, HostState::sockets)?;
    sockets::instance_network::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
    sockets::tcp::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
    sockets::udp::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
    sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, HostState::sockets)?;
    ip_name_lookup::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    tcp_create_socket::add_to_linker::<_, HasSelf<HostState>>(l, |state| state)?;
    Ok(())
}

/// The answer to one `resolve-addresses` call, as the guest reads it.
pub enum ResolveAddressStream {
    /// The lookup is running.
    Pending(oneshot::Receiver<Result<Vec<IpAddr>, ErrorCode>>),
    /// The addresses not read yet, or why there are none.
    Done(Result<vec::IntoIter<IpAddr>, ErrorCode>),
}

impl ResolveAddressStream {
    /// Keeps the lookup's answer; `None` when the lookup ended without one.
    fn settle(&mut self, answer: Option<Result<Vec<IpAddr>, ErrorCode>>) {
        let answer = answer.unwrap_or(Err(ErrorCode::TemporaryResolverFailure));
        *self = ResolveAddressStream::Done(answer.map(Vec::into_iter));
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ResolveAddressStream {
    async fn ready(&mut self) {
        if let ResolveAddressStream::Pending(answered) = self {
            let answer = answered.await.ok();
            self.settle(answer);
        }
    }
}

impl ip_name_lookup::Host for HostState {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        // The network resource is the capability to look names up.
        self.table.get(&network)?;
        let stream = self.socket_access()?.resolve(name)?;
        Ok(self.table.push(stream)?)
    }
}

impl tcp_create_socket::Host for HostState {
    fn create_tcp_socket(
        &mut self,
        family: IpAddressFamily,
    ) -> Result<Resource<TcpSocket>, SocketError> {
        self.socket_access()?.admit_socket(family)?;
        use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host as _;
        WasiSocketsView::sockets(self).create_tcp_socket(family)
    }
}

impl HostState {
    /// The request's socket access, which exists whenever the component
    /// imports sockets (and so can call here).
    fn socket_access(&self) -> Result<Arc<SocketAccess>, SocketError> {
        self.socket_access
            .clone()
            .ok_or_else(|| ErrorCode::AccessDenied.into())
    }
}

/// The network interface's own functions, which the name lookup's error
/// conversion needs, as wasmtime-wasi implements them.
impl network::Host for HostState {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        WasiSocketsView::sockets(self).convert_error_code(error)
    }

    fn network_error_code(
        &mut self,
        error: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        WasiSocketsView::sockets(self).network_error_code(error)
    }
}

impl network::HostNetwork for HostState {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut WasiSocketsView::sockets(self), network)
    }
}

impl ip_name_lookup::HostResolveAddressStream for HostState {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        let stream = self.table.get_mut(&stream)?;
        if let ResolveAddressStream::Pending(answered) = stream {
            match answered.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => {
                    return Err(ErrorCode::WouldBlock.into());
                }
                Ok(answer) => stream.settle(Some(answer)),
                Err(oneshot::error::TryRecvError::Closed) => stream.settle(None),
            }
        }
        match stream {
            ResolveAddressStream::Done(Ok(addresses)) => Ok(addresses.next().map(IpAddress::from)),
            ResolveAddressStream::Done(Err(error)) => Err((*error).into()),
            ResolveAddressStream::Pending(_) => Err(ErrorCode::WouldBlock.into()),
        }
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(&mut self.table, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
