//! `chorus serve`, `chorus peers` and the network options of `chorus ask`.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context as _;
use chorus_node::core::ServeLimits;
use chorus_node::net::Multiaddr;
use chorus_node::{NetworkSettings, Node, RequesterIdentity, ServeSettings};
use clap::Args;

use crate::conduct::UsageError;

/// How to join the network.
#[derive(Debug, Args, Clone)]
pub(crate) struct NetArgs {
    /// Address to listen on (repeatable; default: every interface, TCP and
    /// QUIC, ports chosen by the system).
    #[arg(long = "listen")]
    listen: Vec<String>,
    /// Peer to join through, `/ip4/…/tcp/…/p2p/<peer id>` (repeatable; also
    /// $CHORUS_BOOTSTRAP, comma-separated).
    #[arg(long = "bootstrap")]
    bootstrap: Vec<String>,
    /// Listen through this relay when behind NAT (`…/p2p/<relay id>`).
    #[arg(long = "relay-via")]
    relay_via: Vec<String>,
    /// Do not look for peers on the local network (mDNS).
    #[arg(long)]
    no_mdns: bool,
    /// The identity peers see questions come from: `hour`, `day` or `week`
    /// (a separate identity, replaced that often) or `device` (the one this
    /// device serves under: peers see its standing, and can link every
    /// question it asks).
    #[arg(long, value_name = "hour|day|week|device", default_value_t = RequesterIdentity::default())]
    requester_identity: RequesterIdentity,
}

fn addresses(list: &[String], what: &str) -> anyhow::Result<Vec<Multiaddr>> {
    list.iter()
        .filter(|text| !text.trim().is_empty())
        .map(|text| {
            text.trim()
                .parse::<Multiaddr>()
                .map_err(|error| UsageError(format!("{what} {text:?} is not a multiaddr: {error}")).into())
        })
        .collect()
}

impl NetArgs {
    /// The defaults with these bootstrap peers, listen addresses and mDNS
    /// choice: `chorus api --network`, whose `--listen` is the HTTP address
    /// (`--p2p-listen` is this one).
    pub(crate) fn for_api(bootstrap: Vec<String>, listen: Vec<String>, no_mdns: bool) -> Self {
        Self { listen, bootstrap, relay_via: Vec::new(), no_mdns, requester_identity: RequesterIdentity::default() }
    }

    pub(crate) fn settings(&self) -> anyhow::Result<NetworkSettings> {
        let mut settings = NetworkSettings::default();
        if !self.listen.is_empty() {
            settings.listen = addresses(&self.listen, "--listen")?;
        }
        let mut bootstrap = self.bootstrap.clone();
        if let Ok(from_env) = std::env::var("CHORUS_BOOTSTRAP") {
            bootstrap.extend(from_env.split(',').map(str::to_owned));
        }
        settings.bootstrap = addresses(&bootstrap, "--bootstrap")?;
        settings.relays = addresses(&self.relay_via, "--relay-via")?;
        settings.mdns = !self.no_mdns;
        settings.requester = self.requester_identity;
        Ok(settings)
    }
}

/// `chorus serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Specialists to offer, comma-separated (default: every one this device can run).
    #[arg(long, value_delimiter = ',')]
    specialists: Vec<String>,
    /// Sub-tasks run for others at once.
    #[arg(long, default_value_t = ServeLimits::default().max_slots)]
    slots: u32,
    /// Requests allowed to wait for a slot (more are told "busy").
    #[arg(long, default_value_t = ServeLimits::default().max_waiting)]
    waiting: u32,
    /// Largest generation accepted from one request, in tokens.
    #[arg(long, default_value_t = ServeLimits::default().max_tokens)]
    max_tokens: u32,
    /// Serve only while this machine is idle: other processes kept under a
    /// quarter of the CPU busy over the last half minute or so (this
    /// process's own serving does not count; never idle where the CPU
    /// counters cannot be read).
    #[arg(long)]
    only_when_idle: bool,
    /// Act as a relay for peers behind NAT.
    #[arg(long)]
    relay: bool,
    /// Print one JSON event per line (`listening`, `announced`).
    #[arg(long)]
    json: bool,
}

/// `chorus peers`.
#[derive(Debug, Args)]
pub(crate) struct PeersArgs {
    #[command(flatten)]
    net: NetArgs,
    /// Seconds to spend discovering peers before listing them.
    #[arg(long, default_value_t = 3)]
    wait: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Joins, announces and serves until interrupted (Ctrl-C or SIGTERM).
pub(crate) async fn serve(node: Node, args: ServeArgs) -> anyhow::Result<()> {
    if args.slots == 0 || args.max_tokens == 0 {
        return Err(UsageError("--slots and --max-tokens must be at least 1".to_owned()).into());
    }
    let mut settings = args.net.settings()?;
    settings.relay_server = args.relay;
    let specialists: Option<BTreeSet<String>> =
        (!args.specialists.is_empty()).then(|| args.specialists.iter().map(|id| id.trim().to_owned()).collect());
    if let Some(wanted) = &specialists
        && let Some(unknown) = wanted.iter().find(|id| node.catalog().specialist(id).is_none())
    {
        return Err(UsageError(format!("unknown specialist {unknown:?} (see `chorus models list`)")).into());
    }
    let limits = ServeLimits {
        serve: true,
        max_slots: args.slots,
        max_waiting: args.waiting,
        max_tokens: args.max_tokens,
        only_when_idle: args.only_when_idle,
        only_when_charging: false,
    };
    // Idle as `chorus_node::device_idle` measures it (other processes leave
    // the CPU mostly free; this process's own serving does not count), and
    // charging as the platform's power supplies tell it.
    settings.serve = Some(ServeSettings {
        specialists,
        limits,
        device_class: chorus_node::device_class(),
        host: chorus_node::host_probe(),
    });
    node.join_network(settings).await?;
    let network = node.network().context("the network did not start")?.clone();
    let served: Vec<String> =
        node.service().map(|service| service.served().iter().cloned().collect()).unwrap_or_default();
    if served.is_empty() {
        return Err(UsageError("this device can run none of the requested specialists".to_owned()).into());
    }
    let addresses: Vec<String> = network.listen_addrs().await?.iter().map(ToString::to_string).collect();
    if args.json {
        println!(
            "{}",
            serde_json::json!({"event": "listening", "peer_id": network.peer_id().to_string(), "addresses": addresses, "specialists": served})
        );
    } else {
        println!("peer id   {}", network.peer_id());
        for address in &addresses {
            println!("listening {address}");
        }
        println!("serving   {}", served.join(", "));
    }
    // Announce now and whenever new peers make it worthwhile; Kademlia
    // re-announces on its own before records expire.
    let mut announced = false;
    let mut ticker = tokio::time::interval(Duration::from_secs(2));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = ticker.tick(), if !announced => {
                let reached = node.announce().await?;
                if reached > 0 {
                    announced = true;
                    if args.json {
                        println!("{}", serde_json::json!({"event": "announced", "specialists": served, "reached": reached}));
                    } else {
                        println!("announced to the DHT ({reached} of {} records placed)", served.len());
                    }
                }
            }
        }
    }
    network.shutdown();
    Ok(())
}

/// Joins, waits for discovery, prints the peers.
pub(crate) async fn peers(node: Node, args: PeersArgs) -> anyhow::Result<()> {
    let settings = args.net.settings()?;
    node.join_network(settings).await?;
    tokio::time::sleep(Duration::from_secs(args.wait.min(60))).await;
    let peers = node.peers().await?;
    if args.json {
        println!("{}", serde_json::to_string(&peers)?);
        return Ok(());
    }
    if let Some(network) = node.network() {
        println!("this device {} ({:?})", network.peer_id(), network.reachability().await?);
    }
    if peers.is_empty() {
        println!("no peers found");
    }
    for peer in peers {
        let rtt = peer.rtt_ms.map_or_else(|| "?".to_owned(), |rtt| format!("{rtt} ms"));
        let status = peer.status.as_ref().map_or_else(
            || "no status".to_owned(),
            |status| {
                format!(
                    "{}, {}/{} slots free, {:.0} tok/s: {}",
                    if status.serving { "serving" } else { "not serving" },
                    status.free_slots,
                    status.total_slots,
                    status.tokens_per_s,
                    status.specialists.join(", ")
                )
            },
        );
        println!(
            "{} {} rtt {rtt} standing {:+}",
            peer.peer_id,
            if peer.connected { "connected" } else { "known" },
            peer.standing
        );
        println!("    {status}");
        let measured = &peer.measured;
        if measured.measured() {
            let speed =
                measured.tokens_per_s().map_or_else(|| "speed not yet known".to_owned(), |s| format!("{s:.0} tok/s"));
            let demoted = if measured.demoted(now_ms()) { ", demoted after a failure" } else { "" };
            println!("    measured here: {} done, {} failed, {speed}{demoted}", measured.succeeded, measured.failed);
        } else {
            println!("    measured here: no task yet");
        }
        for address in &peer.addresses {
            println!("    {address}");
        }
    }
    Ok(())
}

/// Unix milliseconds now.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// Waits (bounded) until the node is connected to a peer.
pub(crate) async fn wait_for_a_peer(node: &Node, limit: Duration) -> anyhow::Result<()> {
    let Some(network) = node.network() else { return Ok(()) };
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if network.peers().await?.iter().any(|peer| peer.connected) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!("no peer reached within {limit:?}; sub-tasks for other devices will wait in the queue");
    Ok(())
}
