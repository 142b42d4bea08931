//! A few Chorus nodes on loopback in one process: what `chorus demo` shows
//! (three or more serving nodes, each with its own specialists, and a
//! requester that holds none). Every node is a real node: its own data
//! directory, identity, journal, engine and libp2p swarm on real TCP
//! sockets.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use chorus_net::{Multiaddr, NetConfig};

use crate::network::{NetworkSettings, ServeSettings};
use crate::node::{Node, NodeConfig, NodeError};

/// One serving node of a cluster.
#[derive(Debug)]
pub struct ClusterMember {
    /// A short name for people ("node-a").
    pub name: String,
    /// Its peer id.
    pub peer_id: String,
    /// What it serves.
    pub specialists: BTreeSet<String>,
    /// The node.
    pub node: Node,
}

/// Serving nodes and one requester, all joined.
#[derive(Debug)]
pub struct Cluster {
    /// The serving nodes.
    pub servers: Vec<ClusterMember>,
    /// The node that asks; it runs no specialist itself.
    pub requester: Node,
    /// The requester's peer id (its device identity).
    pub requester_id: String,
    /// The identity the requester asks under: what peers see (a separate
    /// one, see [`crate::RequesterIdentity`]).
    pub asking_id: String,
}

impl Cluster {
    /// The name of the member with this peer id, if any.
    #[must_use]
    pub fn name_of(&self, peer_id: &str) -> Option<&str> {
        self.servers.iter().find(|member| member.peer_id == peer_id).map(|member| member.name.as_str())
    }
}

fn loopback_only(config: &mut NetConfig) {
    config.mdns = false;
    config.autonat = false;
}

fn loopback() -> Vec<Multiaddr> {
    "/ip4/127.0.0.1/tcp/0".parse().map(|address| vec![address]).unwrap_or_default()
}

/// Starts one node per entry of `servers` (name, specialists), each in its
/// own directory under `root`, then a requester; waits until every
/// specialist can be found in the DHT from the requester (bounded).
///
/// # Errors
/// [`NodeError`] when a node cannot start or the cluster does not form.
pub async fn start_cluster(
    base: &NodeConfig,
    root: PathBuf,
    servers: Vec<(String, BTreeSet<String>)>,
) -> Result<Cluster, NodeError> {
    let mut members: Vec<ClusterMember> = Vec::new();
    let mut bootstrap: Vec<Multiaddr> = Vec::new();
    for (name, specialists) in servers {
        let config = NodeConfig {
            data_dir: Some(root.join(&name)),
            local_specialists: Some(specialists.clone()),
            ..base.clone()
        };
        let node = Node::start(config)?;
        let settings = NetworkSettings {
            listen: loopback(),
            bootstrap: bootstrap.clone(),
            mdns: false,
            serve: Some(ServeSettings { specialists: Some(specialists.clone()), ..ServeSettings::default() }),
            tune: Some(loopback_only),
            ..NetworkSettings::default()
        };
        node.join_network(settings).await?;
        let network =
            node.network().ok_or_else(|| NodeError::NetworkUnavailable("the network did not start".to_owned()))?;
        if bootstrap.is_empty() {
            bootstrap = network.listen_addrs().await?;
        }
        let peer_id = network.peer_id().to_string();
        members.push(ClusterMember { name, peer_id, specialists, node });
    }
    let config =
        NodeConfig { data_dir: Some(root.join("requester")), local_specialists: Some(BTreeSet::new()), ..base.clone() };
    let requester = Node::start(config)?;
    requester
        .join_network(NetworkSettings {
            listen: loopback(),
            bootstrap,
            mdns: false,
            serve: None,
            tune: Some(loopback_only),
            ..NetworkSettings::default()
        })
        .await?;
    // Every server announces once the others have joined, so its records
    // reach the whole (small) DHT.
    for member in &members {
        let mut reached = 0;
        for _ in 0..40 {
            reached = member.node.announce().await?;
            if reached > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if reached == 0 {
            return Err(NodeError::NetworkUnavailable(format!("{} could not announce its specialists", member.name)));
        }
    }
    let network =
        requester.network().ok_or_else(|| NodeError::NetworkUnavailable("the network did not start".to_owned()))?;
    for member in &members {
        for specialist in &member.specialists {
            let mut found = false;
            for _ in 0..40 {
                let lookup = network.find_providers(specialist, members.len()).await?;
                if lookup.providers.iter().any(|peer| peer.to_string() == member.peer_id) {
                    found = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            if !found {
                return Err(NodeError::NetworkUnavailable(format!(
                    "{specialist} on {} cannot be found in the DHT",
                    member.name
                )));
            }
        }
    }
    let requester_id = network.peer_id().to_string();
    let asking_id = requester
        .requester_id()
        .await?
        .map(|(id, _)| id)
        .ok_or_else(|| NodeError::NetworkUnavailable("the network did not start".to_owned()))?;
    Ok(Cluster { servers: members, requester, requester_id, asking_id })
}
