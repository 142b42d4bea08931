//! Joining and leaving the network, through `&self`: the network half of
//! a node sits behind a lock inside it, so a shell keeps one node and
//! switches privacy on it.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chorus_core::Conductor;
use chorus_net::{NetConfig, Network};

use super::{Node, NodeError};
use crate::network::{NetworkDirectory, NetworkSettings, NodeService, PeerView, Requester, RequesterIdentity};
use crate::settings::{NetworkChange, Settings, network_change};

/// What joining adds to a node: the network, what it serves, and the
/// conductor over this device and the network.
#[derive(Clone)]
pub(super) struct Joined {
    pub(super) network: Network,
    pub(super) requester: Arc<Requester>,
    pub(super) service: Option<Arc<NodeService>>,
    pub(super) conductor: Conductor,
}

impl Node {
    /// Starts the network and, with `settings.serve`, serves peers within
    /// the owner's limits. Until this is called the node opens no socket:
    /// that is the "on-device only" privacy mode.
    ///
    /// # Errors
    /// [`NodeError::Identity`] when the identity key cannot be read or
    /// created, [`NodeError::Network`] when the network cannot start.
    pub async fn join_network(&self, settings: NetworkSettings) -> Result<(), NodeError> {
        let _joining = self.joining.lock().await;
        if self.joined().is_some() {
            return Ok(());
        }
        let keypair = chorus_net::load_or_create_identity(&self.data_dir)?;
        let mut net = NetConfig::tcp(settings.listen.clone());
        net.bootstrap = settings.bootstrap.clone();
        net.relays = settings.relays.clone();
        net.mdns = settings.mdns;
        net.relay_server = settings.relay_server;
        if let Some(tune) = settings.tune {
            tune(&mut net);
        }
        let service = settings
            .serve
            .clone()
            .map(|serve| NodeService::new(Arc::clone(&self.local), &self.catalog, serve, self.store.clone()));
        let task_service = service.as_ref().map(|service| {
            Arc::new(crate::network::ServiceHandle(Arc::clone(service))) as Arc<dyn chorus_net::TaskService>
        });
        let network = Network::start(keypair, net.clone(), task_service).await?;
        let requester = Arc::new(Requester::new(network.clone(), &net, settings.requester, self.data_dir.clone()));
        if let Some(service) = &service {
            let served = service.served().clone();
            let network = network.clone();
            // Announcing takes a DHT round; the node serves meanwhile.
            tokio::spawn(async move {
                match network.set_provided(served).await {
                    Ok(reached) => tracing::info!(reached, "specialists announced"),
                    Err(error) => tracing::warn!(%error, "could not announce the specialists"),
                }
            });
        }
        let mut config = self.on_device_conductor().config().clone();
        config.max_attempts = config.max_attempts.max(3);
        if config.queue_timeout.is_zero() {
            config.queue_timeout = Duration::from_secs(120);
        }
        let directory = NetworkDirectory::new(
            Arc::clone(&self.local),
            network.clone(),
            Arc::clone(&requester),
            self.store.clone(),
            config.subtask_deadline,
            Arc::clone(&self.catalog),
        );
        let conductor = Conductor::with_directory(
            Arc::clone(&self.catalog),
            Arc::clone(&self.conductor_model),
            Arc::new(directory),
            config,
        )
        .with_semantic(self.semantic.clone());
        *self.joined.write().unwrap_or_else(PoisonError::into_inner) =
            Some(Joined { network, requester, service, conductor });
        Ok(())
    }

    /// Stops the network stack (every connection closes) and goes back to
    /// on-device only: later queries run on this device alone and peers are
    /// no longer served. Queries already running keep the conductor they
    /// started with; their remote sub-tasks fail over to this device.
    /// Does nothing when the network is not joined.
    pub fn leave_network(&self) {
        let left = self.joined.write().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(joined) = left {
            joined.network.shutdown();
            let requester = joined.requester;
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { requester.shutdown().await });
            }
        }
    }

    /// The identity peers see this device's questions come from now, and
    /// the choice behind it: the device's own with
    /// [`RequesterIdentity::Device`], else a separate one, made or replaced
    /// when due. `None` when the network is not joined.
    ///
    /// # Errors
    /// [`NodeError::Identity`] or [`NodeError::Network`] when the separate
    /// identity cannot be made.
    pub async fn requester_id(&self) -> Result<Option<(String, RequesterIdentity)>, NodeError> {
        let Some(joined) = self.joined() else {
            return Ok(None);
        };
        let id = joined.requester.peer_id().await?;
        Ok(Some((id.to_string(), joined.requester.identity())))
    }

    /// Applies new serving limits (slots, serve on or off, only when idle
    /// or charging) to the running service at once: waiting peers may start
    /// or be refused. Returns `false` when this node does not serve (not
    /// joined, or joined without [`NetworkSettings::serve`]).
    pub fn set_serve_limits(&self, limits: chorus_core::ServeLimits) -> bool {
        self.service().is_some_and(|service| {
            service.set_limits(limits);
            true
        })
    }

    /// Announces the served specialists again (after joining more peers).
    ///
    /// # Errors
    /// [`NodeError::Network`].
    pub async fn announce(&self) -> Result<usize, NodeError> {
        let Some(Joined { network, service: Some(service), .. }) = self.joined() else {
            return Ok(0);
        };
        Ok(network.set_provided(service.served().clone()).await?)
    }

    /// The peers this node knows, with their live status (asked now, in
    /// parallel, for connected peers) and their standing in the ledger.
    ///
    /// # Errors
    /// [`NodeError::NetworkUnavailable`] when the network is not joined,
    /// [`NodeError::Network`] when it stopped.
    pub async fn peers(&self) -> Result<Vec<PeerView>, NodeError> {
        let network =
            self.network().ok_or_else(|| NodeError::NetworkUnavailable("the network is not started".to_owned()))?;
        let network = &network;
        let peers = network.peers().await?;
        let probes = peers.iter().map(|peer| async move {
            let status = match (peer.connected && peer.chorus, peer.peer_id.parse()) {
                (true, Ok(id)) => {
                    tokio::time::timeout(Duration::from_secs(2), network.status(id)).await.ok().and_then(Result::ok)
                }
                _ => None,
            };
            let ledger = self.store.ledger(&peer.peer_id).unwrap_or_default();
            PeerView {
                peer_id: peer.peer_id.clone(),
                addresses: peer.addresses.clone(),
                connected: peer.connected,
                rtt_ms: peer.rtt_ms,
                status,
                standing: chorus_core::standing(&ledger),
                ledger,
                measured: self.store.peer_record(&peer.peer_id),
            }
        });
        Ok(futures::future::join_all(probes).await)
    }

    /// Takes the node from the settings it runs under (`applied`; `None`:
    /// nothing applied yet, the network off) to `wanted`: starts, stops or
    /// restarts the network, or changes the serving limits live
    /// ([`network_change`] says which). `network` is how to join under
    /// `wanted` ([`Settings::network`], with the shell's overrides); it is
    /// used only when the network (re)starts. Returns the change made.
    ///
    /// # Errors
    /// As [`Node::join_network`]; the node then stays off the network.
    pub async fn apply_settings(
        &self,
        applied: Option<&Settings>,
        wanted: &Settings,
        network: NetworkSettings,
    ) -> Result<NetworkChange, NodeError> {
        self.set_privacy(&wanted.private_names, wanted.keep_sensitive_on_device);
        let change = network_change(applied, wanted);
        match change {
            NetworkChange::None => {}
            NetworkChange::Limits => {
                self.set_serve_limits(wanted.serve_limits());
            }
            NetworkChange::Stop => {
                self.leave_network();
                tracing::info!("network stopped: on-device only");
            }
            NetworkChange::Start | NetworkChange::Restart => {
                self.leave_network();
                // On failure the node stays off the network.
                self.join_network(network).await?;
                tracing::info!("network started");
            }
        }
        Ok(change)
    }
}
