//! A cap on inbound connections still handshaking per remote IP address. Without it one host
//! that opens sockets and never completes the handshake fills the swarm-wide pending limit
//! (256), and no other client can connect until its sockets time out (issue 8, #16).

use std::collections::HashMap;
use std::net::IpAddr;
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Why an inbound connection was refused before its handshake.
#[derive(Debug, thiserror::Error)]
#[error("{ip} already has {max} inbound connections handshaking")]
pub struct TooManyPending {
    pub ip: IpAddr,
    pub max: u32,
}

/// Counts handshaking inbound connections per remote IP and refuses those past `max`.
///
/// ```
/// let limiter = lineage_net::PendingPerIp::new(8);
/// assert_eq!(limiter.pending(), 0);
/// ```
#[derive(Debug)]
pub struct PendingPerIp {
    max: u32,
    by_connection: HashMap<ConnectionId, IpAddr>,
    by_ip: HashMap<IpAddr, u32>,
}

impl PendingPerIp {
    /// At most `max` handshaking inbound connections per remote IP.
    pub fn new(max: u32) -> Self {
        PendingPerIp {
            max,
            by_connection: HashMap::new(),
            by_ip: HashMap::new(),
        }
    }

    /// Inbound connections handshaking now.
    pub fn pending(&self) -> usize {
        self.by_connection.len()
    }

    fn done(&mut self, id: ConnectionId) {
        if let Some(ip) = self.by_connection.remove(&id) {
            if let Some(n) = self.by_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_ip.remove(&ip);
                }
            }
        }
    }
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl NetworkBehaviour for PendingPerIp {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = std::convert::Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote_addr) else {
            return Ok(());
        };
        let n = self.by_ip.entry(ip).or_insert(0);
        if *n >= self.max {
            return Err(ConnectionDenied::new(TooManyPending { ip, max: self.max }));
        }
        *n += 1;
        self.by_connection.insert(connection_id, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    /// A connection stops pending once it is established or has failed (also when another
    /// behaviour denied it).
    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => self.done(e.connection_id),
            FromSwarm::ListenFailure(e) => self.done(e.connection_id),
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(
        &mut self,
        _cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
