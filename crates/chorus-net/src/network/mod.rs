//! The network task and its handle.
//!
//! [`Network::start`] builds the libp2p `Swarm` and spawns one task that owns
//! it; everything else holds a cheap [`Network`] handle whose commands carry
//! their own reply channel (rust-libp2p's file-sharing example, iroh's
//! actors). Dropping the last handle, or [`Network::shutdown`], stops the
//! task and closes every connection.
//!
//! The task's parts: `swarm` builds the swarm on the configured
//! transports; `event_loop` owns it and dispatches commands and events;
//! `kad` runs provider lookups, announcements and the quarantine of hung
//! peers; `status` answers status probes and tells what this node knows
//! of its peers and its reachability.

mod event_loop;
mod kad;
mod status;
mod swarm;
mod types;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument as _;

use crate::streams::{OpenStream, OpenStreams};

use crate::config::NetConfig;
use crate::limits::RateLimiter;
use crate::server::{self, TaskService};
use crate::wire::PeerStatus;
use event_loop::EventLoop;
pub use types::{NetError, PeerInfo, ProviderLookup, Reachability};

/// What the handle asks of the network task; each carries its reply channel.
#[derive(Debug)]
enum Command {
    Listeners(oneshot::Sender<Vec<Multiaddr>>),
    Dial(Multiaddr, oneshot::Sender<Result<PeerId, NetError>>),
    Bootstrap(oneshot::Sender<Result<(), NetError>>),
    SetProvided(BTreeSet<String>, oneshot::Sender<Result<usize, NetError>>),
    FindProviders {
        specialist: String,
        want: usize,
        /// Answer with what was found by then, if the lookup is still going.
        within: Option<Duration>,
        reply: oneshot::Sender<ProviderLookup>,
    },
    Status {
        peer: PeerId,
        reply: oneshot::Sender<Result<PeerStatus, NetError>>,
    },
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Reachability(oneshot::Sender<Reachability>),
    /// Test hook: stop (true) or resume (false) handling events.
    #[cfg(feature = "test-hooks")]
    Freeze(bool),
    Quarantined(oneshot::Sender<Vec<PeerId>>),
    StoredRecords(oneshot::Sender<usize>),
    AddressesOf(PeerId, oneshot::Sender<Vec<Multiaddr>>),
    AddAddresses(PeerId, Vec<Multiaddr>),
}

/// A cheap, cloneable handle on a running network.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    peer_id: PeerId,
    keypair: Keypair,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    /// Task streams this node opened, per peer.
    outbound: OpenStreams,
    cancel: CancellationToken,
    /// Inbound task streams to drop unread (a test hook; see
    /// `Network::drop_next_task_streams`).
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    drop_task_streams: Arc<AtomicUsize>,
    _guard: DropGuard,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("peer_id", &self.inner.peer_id).finish_non_exhaustive()
    }
}

impl Network {
    /// Builds the swarm, starts listening and joins through the bootstrap
    /// peers. With a `service`, the node answers status probes with its
    /// status and serves the task protocol; without, it only asks.
    ///
    /// # Errors
    /// [`NetError::Start`] when the transports or a listener cannot be set
    /// up, [`NetError::Address`] for a bootstrap address without a peer id.
    pub async fn start(
        keypair: Keypair,
        config: NetConfig,
        service: Option<Arc<dyn TaskService>>,
    ) -> Result<Self, NetError> {
        let peer_id = keypair.public().to_peer_id();
        let (swarm, listeners) = swarm::build(&keypair, &config)?;

        let mut control = swarm.behaviour().stream.new_control();
        let cancel = CancellationToken::new();
        let limiter = RateLimiter::new(config.requests_per_minute);
        let drop_task_streams = Arc::new(AtomicUsize::new(0));
        let (inbound, outbound) = (OpenStreams::default(), OpenStreams::default());
        if let Some(service) = &service {
            let incoming = control
                .accept(crate::wire::TASK_PROTOCOL)
                .map_err(|error| NetError::Start(format!("task protocol: {error}")))?;
            let span = tracing::info_span!("task_server", peer = %peer_id);
            tokio::spawn(
                server::serve(
                    incoming,
                    Arc::clone(service),
                    keypair.clone(),
                    limiter.clone(),
                    (config.max_task_streams, inbound.clone()),
                    cancel.clone(),
                    Arc::clone(&drop_task_streams),
                )
                .instrument(span),
            );
        }

        let (commands, inbox) = mpsc::channel(64);
        let streams = [inbound, outbound.clone()];
        let mut event_loop = EventLoop::new(swarm, inbox, cancel.clone(), service, limiter, streams, &config);
        event_loop.wait_listening(listeners, Duration::from_secs(5)).await;
        let mut bootstrapped = false;
        for address in &config.bootstrap {
            let Some(Protocol::P2p(peer)) = address.iter().last() else {
                return Err(NetError::Address {
                    address: address.to_string(),
                    reason: "a bootstrap address must end in /p2p/<peer id>".to_owned(),
                });
            };
            if peer == peer_id {
                continue;
            }
            event_loop.swarm.behaviour_mut().kad.add_address(&peer, address.clone());
            if let Err(error) = event_loop.swarm.dial(address.clone()) {
                tracing::warn!(%address, %error, "cannot dial a bootstrap peer");
            }
            bootstrapped = true;
        }
        if bootstrapped && let Err(error) = event_loop.swarm.behaviour_mut().kad.bootstrap() {
            tracing::debug!(%error, "bootstrap not started");
        }
        let span = tracing::info_span!("network", peer = %peer_id);
        tokio::spawn(event_loop.run().instrument(span));
        Ok(Self {
            inner: Arc::new(Inner {
                peer_id,
                keypair,
                commands,
                control,
                outbound,
                cancel: cancel.clone(),
                drop_task_streams,
                _guard: cancel.drop_guard(),
            }),
        })
    }

    /// This node's peer id.
    #[must_use]
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// This node's identity key (it signs receipts).
    #[must_use]
    pub fn keypair(&self) -> &Keypair {
        &self.inner.keypair
    }

    pub(crate) fn control(&self) -> libp2p_stream::Control {
        self.inner.control.clone()
    }

    /// Counts a task stream this node opens to `peer` while it lives.
    pub(crate) fn outbound_stream(&self, peer: PeerId) -> Option<OpenStream> {
        self.inner.outbound.enter(peer, usize::MAX)
    }

    /// Stops the network task: every connection closes.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    /// Whether the network task is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.inner.cancel.is_cancelled() && !self.inner.commands.is_closed()
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.inner.commands.send(make(reply)).await.map_err(|_| NetError::Stopped)?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// The addresses this node listens on, each ending in `/p2p/<peer id>`.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        let peer = self.inner.peer_id;
        let addrs = self.call(Command::Listeners).await?;
        Ok(addrs.into_iter().map(|address| address.with_p2p(peer).unwrap_or_else(|address| address)).collect())
    }

    /// Dials an address ending in `/p2p/<peer id>` and adds the peer to the
    /// routing table once connected.
    ///
    /// # Errors
    /// [`NetError::Address`], [`NetError::Dial`].
    pub async fn dial(&self, address: Multiaddr) -> Result<PeerId, NetError> {
        self.call(|reply| Command::Dial(address, reply)).await?
    }

    /// Refreshes the routing table from the known peers.
    ///
    /// # Errors
    /// [`NetError::NoPeers`] when no peer is known yet.
    pub async fn bootstrap(&self) -> Result<(), NetError> {
        self.call(Command::Bootstrap).await?
    }

    /// Announces exactly these specialists (stops announcing others). Returns
    /// how many announcements reached at least one peer.
    ///
    /// # Errors
    /// [`NetError::Provide`] when the local record store refuses a key.
    pub async fn set_provided(&self, specialists: BTreeSet<String>) -> Result<usize, NetError> {
        self.call(|reply| Command::SetProvided(specialists, reply)).await?
    }

    /// Looks up providers of a specialist in the DHT, stopping once `want`
    /// are found (the first useful ones, not all of them).
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn find_providers(&self, specialist: &str, want: usize) -> Result<ProviderLookup, NetError> {
        let specialist = specialist.to_owned();
        self.call(|reply| Command::FindProviders { specialist, want: want.max(1), within: None, reply }).await
    }

    /// As [`Network::find_providers`], but a lookup still going after
    /// `within` ends there and answers with the providers found so far
    /// (asking for more providers than exist runs a lookup to its end, which
    /// takes seconds in a large or busy network, while the ones that exist
    /// were found in the first milliseconds).
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn find_providers_within(
        &self,
        specialist: &str,
        want: usize,
        within: Duration,
    ) -> Result<ProviderLookup, NetError> {
        let specialist = specialist.to_owned();
        self.call(|reply| Command::FindProviders { specialist, want: want.max(1), within: Some(within), reply }).await
    }

    /// Asks a peer for its live status.
    ///
    /// # Errors
    /// [`NetError::Status`] when it does not answer in time or at all.
    pub async fn status(&self, peer: PeerId) -> Result<PeerStatus, NetError> {
        self.call(|reply| Command::Status { peer, reply }).await?
    }

    /// The addresses this node knows `peer` by: from identify, provider
    /// records, and the connections it had.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn addresses_of(&self, peer: PeerId) -> Result<Vec<Multiaddr>, NetError> {
        self.call(|reply| Command::AddressesOf(peer, reply)).await
    }

    /// Teaches this node addresses of `peer` (learnt by another node of this
    /// device), so that it can dial it by its id.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn add_addresses(&self, peer: PeerId, addresses: Vec<Multiaddr>) -> Result<(), NetError> {
        self.inner.commands.send(Command::AddAddresses(peer, addresses)).await.map_err(|_| NetError::Stopped)
    }

    /// What this node knows about its peers.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetError> {
        self.call(Command::Peers).await
    }

    /// How this node can be reached.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn reachability(&self) -> Result<Reachability, NetError> {
        self.call(Command::Reachability).await
    }

    /// Peers quarantined now: they let Kademlia requests time out and are
    /// refused for [`NetConfig::quarantine`].
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn quarantined(&self) -> Result<Vec<PeerId>, NetError> {
        self.call(Command::Quarantined).await
    }

    /// Other peers' provider records this node holds for the DHT (bounded:
    /// see [`crate::MAX_OTHER_RECORDS`]).
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn stored_records(&self) -> Result<usize, NetError> {
        self.call(Command::StoredRecords).await
    }

    /// Drops the next `count` inbound task streams unread, as libp2p-stream
    /// does with one that arrives while the serving task is still busy with
    /// the previous one. Only with the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    pub fn drop_next_task_streams(&self, count: usize) {
        self.inner.drop_task_streams.store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops (true) or resumes (false) handling network events while keeping
    /// every connection open: a hung peer, for simulations of failures.
    /// Only with the `test-hooks` feature.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    #[cfg(feature = "test-hooks")]
    pub async fn freeze(&self, frozen: bool) -> Result<(), NetError> {
        self.inner.commands.send(Command::Freeze(frozen)).await.map_err(|_| NetError::Stopped)
    }
}
