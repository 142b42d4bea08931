//! A simulation of many real Chorus nodes in one process.
//!
//! Every simulated node is a real [`Network`]: its own libp2p `Swarm`,
//! Kademlia, identify and ping, Noise and Yamux, over libp2p's in-process
//! memory transport ([`NetConfig::memory`]). The simulation joins the nodes
//! through a few seed nodes, announces specialists, and measures provider
//! lookups in three phases: on the healthy network, after a fraction of the
//! nodes crashed ([`Network::shutdown`]: their connections close) and after
//! a further fraction hung ([`Network::freeze`]: connections stay open,
//! nothing is answered).
//!
//! Victims are drawn at random among all nodes except the requesters, with
//! one constraint: every specialist keeps at least one live provider (with
//! none left, no lookup could succeed). Each lookup asks for the first
//! provider only (`find_providers(specialist, 1)`); one that returns no
//! provider within [`SimConfig::lookup_timeout`] is a failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use serde::Serialize;

use crate::config::NetConfig;
use crate::network::{NetError, Network};

/// Settings of a simulation.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Nodes in the network, seeds included.
    pub nodes: usize,
    /// Seed nodes the others join through (each joins through
    /// [`SimConfig::bootstrap_peers`] of them).
    pub seeds: usize,
    /// Seeds each joining node is given.
    pub bootstrap_peers: usize,
    /// Distinct specialists announced in the DHT.
    pub specialists: usize,
    /// Nodes announcing each specialist.
    pub providers_per_specialist: usize,
    /// Nodes that look providers up; they never crash or hang.
    pub requesters: usize,
    /// Provider lookups measured in each phase.
    pub lookups_per_phase: usize,
    /// The lookups of a phase start at an even pace over this long: the
    /// network sees steady traffic, long enough for timeouts to hung peers
    /// to fire and be acted on.
    pub phase_duration: Duration,
    /// Most lookups in flight at once, across all requesters.
    pub lookup_concurrency: usize,
    /// A lookup that has found no provider after this long is a failure.
    pub lookup_timeout: Duration,
    /// Fraction of all nodes that crash before the second phase.
    pub crash_fraction: f64,
    /// Fraction of all nodes that hang before the third phase (on top of
    /// the crashed ones).
    pub hang_fraction: f64,
    /// Nodes started at once while joining.
    pub join_batch: usize,
    /// Pause between two batches of joining nodes.
    pub join_interval: Duration,
    /// Longest wait after the last node joined, before the specialists are
    /// announced: the joined nodes' Kademlia bootstraps go on for a while.
    pub settle: Duration,
    /// The wait ends early once the process uses less CPU than this, in
    /// cores, over one second.
    pub quiet_cores: f64,
    /// Longest wait after the crashes and after the hangs, before
    /// measuring; like [`SimConfig::settle`] it ends once the process is
    /// quiet (the dead peers' connections closing costs CPU for a moment).
    pub failure_settle: Duration,
    /// Seed of every random choice (keys, providers, victims, lookups).
    pub seed: u64,
    /// Network settings of every node; `listen` and `bootstrap` are set by
    /// the simulation.
    pub net: NetConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            nodes: 200,
            seeds: 4,
            bootstrap_peers: 2,
            specialists: 20,
            providers_per_specialist: 3,
            requesters: 10,
            lookups_per_phase: 500,
            phase_duration: Duration::from_secs(20),
            lookup_concurrency: 32,
            lookup_timeout: Duration::from_secs(15),
            crash_fraction: 0.2,
            hang_fraction: 0.2,
            join_batch: 10,
            join_interval: Duration::from_millis(250),
            settle: Duration::from_secs(60),
            quiet_cores: 0.25,
            failure_settle: Duration::from_secs(10),
            seed: 1,
            net: NetConfig::memory(memory_any()),
        }
    }
}

/// Which state of the network a phase measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Every node up.
    Baseline,
    /// After the crashes.
    AfterCrash,
    /// After the crashes and the hangs.
    AfterHang,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::AfterCrash => "after crash",
            Self::AfterHang => "after crash + hang",
        }
    }
}

/// The lookups of one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseReport {
    /// Which phase.
    pub phase: Phase,
    /// Nodes crashed so far.
    pub crashed: usize,
    /// Nodes hung so far.
    pub hung: usize,
    /// Lookups made.
    pub lookups: usize,
    /// Lookups that returned at least one provider in time.
    pub successes: usize,
    /// `successes / lookups`.
    pub success_rate: f64,
    /// Lookups whose first provider returned was alive (neither crashed nor
    /// hung): records of dead providers linger until they expire.
    pub live_first_provider: usize,
    /// Lookups that returned at least one live provider.
    pub live_any_provider: usize,
    /// Peers each lookup asked: median.
    pub peers_asked_p50: u32,
    /// Peers each lookup asked: 99th percentile.
    pub peers_asked_p99: u32,
    /// Peers each lookup asked: mean.
    pub peers_asked_mean: f64,
    /// Time to the first provider, milliseconds: median (a failed lookup
    /// counts with the time it took to give up).
    pub latency_ms_p50: f64,
    /// Time to the first provider, milliseconds: 99th percentile.
    pub latency_ms_p99: f64,
    /// Time to the first provider, milliseconds: worst.
    pub latency_ms_max: f64,
    /// Lookups slower than one second.
    pub over_1s: usize,
    /// Wall time of the phase, milliseconds.
    pub wall_ms: u64,
    /// CPU the process used during the phase, in cores.
    pub cpu_cores: f64,
    /// Wait before the phase (after the failures), milliseconds.
    pub waited_ms: u64,
    /// Hung peers some requester had quarantined by the end of the phase
    /// (one of its Kademlia requests to them timed out).
    pub quarantined_hung: usize,
    /// Live, answering peers some requester had quarantined: false alarms
    /// (a request that timed out on a busy machine).
    pub quarantined_up: usize,
}

/// What a simulation measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// Nodes started.
    pub nodes: usize,
    /// Seed nodes among them.
    pub seeds: usize,
    /// Specialists announced.
    pub specialists: usize,
    /// Providers per specialist.
    pub providers_per_specialist: usize,
    /// Requesting nodes.
    pub requesters: usize,
    /// Nodes that crashed.
    pub crashed: usize,
    /// Nodes that hung.
    pub hung: usize,
    /// Victims skipped because they were a specialist's last live provider.
    pub spared_last_providers: usize,
    /// Time to start every node, staggered, milliseconds.
    pub join_ms: u64,
    /// Wait after joining until the process was quiet, milliseconds.
    pub settle_ms: u64,
    /// CPU the joined network used in the last second of the wait, in cores
    /// (1.0 = one core busy): the background work of an idle network.
    pub settle_cpu_cores: f64,
    /// Time to announce every specialist, milliseconds.
    pub provide_ms: u64,
    /// Announcements that reached at least one peer.
    pub announcements_reached: usize,
    /// Announcements made.
    pub announcements: usize,
    /// Peers each node had an open connection to once joined: mean.
    pub connected_peers_mean: f64,
    /// Peers each node had an open connection to once joined: most.
    pub connected_peers_max: usize,
    /// Resident memory of the process before the first node, MiB.
    pub rss_before_mib: f64,
    /// Resident memory with every node joined and announced, MiB.
    pub rss_joined_mib: f64,
    /// `(rss_joined - rss_before) / nodes`, KiB.
    pub rss_per_node_kib: f64,
    /// Peak resident memory of the process, MiB.
    pub rss_peak_mib: f64,
    /// CPU time of the process (user + system) while joining, settling and
    /// announcing, seconds.
    pub cpu_join_s: f64,
    /// CPU time of the process over the whole simulation, seconds.
    pub cpu_total_s: f64,
    /// Wall time of the whole simulation, milliseconds.
    pub total_ms: u64,
    /// Lookup timeout, milliseconds.
    pub lookup_timeout_ms: u64,
    /// Kademlia substream timeout of every node, milliseconds.
    pub substream_timeout_ms: u64,
    /// Dial timeout of every node, milliseconds.
    pub dial_timeout_ms: u64,
    /// Kademlia parallelism (α) of every node.
    pub kad_parallelism: usize,
    /// Idle connection timeout of every node, milliseconds.
    pub idle_timeout_ms: u64,
    /// How long a node refuses a peer that hung on it, milliseconds.
    pub quarantine_ms: u64,
    /// Seed of the random choices.
    pub seed: u64,
    /// The three phases.
    pub phases: Vec<PhaseReport>,
}

impl SimReport {
    /// Whether every phase found a provider for every lookup.
    #[must_use]
    pub fn all_succeeded(&self) -> bool {
        self.phases.iter().all(|phase| phase.successes == phase.lookups)
    }

    /// The figures as Markdown, for BENCHMARKS.md.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} nodes ({} seeds), {} specialists × {} providers, {} requesters; \
             {} crashed then {} hung (requesters spared, every specialist keeps a live \
             provider: {} victim draws skipped for that). Seed {}.",
            self.nodes,
            self.seeds,
            self.specialists,
            self.providers_per_specialist,
            self.requesters,
            self.crashed,
            self.hung,
            self.spared_last_providers,
            self.seed,
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| phase | lookups | success | live first provider | peers asked p50 / p99 / mean | first provider p50 / p99 / max (ms) | > 1 s | quarantined: hung / live | waited before (s) | CPU during (cores) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for phase in &self.phases {
            let _ = writeln!(
                out,
                "| {} | {} | {}/{} ({:.1} %) | {} | {} / {} / {:.1} | {:.0} / {:.0} / {:.0} | {} | {} / {} | {:.1} | {:.2} |",
                phase.phase.label(),
                phase.lookups,
                phase.successes,
                phase.lookups,
                phase.success_rate * 100.0,
                phase.live_first_provider,
                phase.peers_asked_p50,
                phase.peers_asked_p99,
                phase.peers_asked_mean,
                phase.latency_ms_p50,
                phase.latency_ms_p99,
                phase.latency_ms_max,
                phase.over_1s,
                phase.quarantined_hung,
                phase.quarantined_up,
                secs(phase.waited_ms),
                phase.cpu_cores,
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Join {:.1} s (staggered), settling until quiet {:.1} s ({:.2} cores busy then), announcing {:.1} s ({}/{} announcements \
             reached the DHT); CPU {:.1} s to get there, {:.1} s in all; wall {:.1} s. \
             RSS {:.0} MiB before the nodes, {:.0} MiB joined ({:.0} KiB a node), peak {:.0} MiB; \
             connected peers a node: mean {:.1}, most {}. Kademlia α = {}; timeouts: lookup {} ms, \
             Kademlia substream {} ms, dial {} ms, idle connection {} s; quarantine {} s.",
            secs(self.join_ms),
            secs(self.settle_ms),
            self.settle_cpu_cores,
            secs(self.provide_ms),
            self.announcements_reached,
            self.announcements,
            self.cpu_join_s,
            self.cpu_total_s,
            secs(self.total_ms),
            self.rss_before_mib,
            self.rss_joined_mib,
            self.rss_per_node_kib,
            self.rss_peak_mib,
            self.connected_peers_mean,
            self.connected_peers_max,
            self.kad_parallelism,
            self.lookup_timeout_ms,
            self.substream_timeout_ms,
            self.dial_timeout_ms,
            secs(self.idle_timeout_ms),
            secs(self.quarantine_ms),
        );
        out
    }
}

#[allow(clippy::cast_precision_loss)]
fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn memory_any() -> Multiaddr {
    Multiaddr::empty().with(libp2p::multiaddr::Protocol::Memory(0))
}

/// A small deterministic generator (SplitMix64): the simulation needs
/// reproducible choices, not cryptographic ones.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: usize) -> usize {
        let bound = u64::try_from(bound.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next() % bound).unwrap_or(0)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Up,
    Crashed,
    Hung,
}

struct Node {
    network: Network,
    address: Multiaddr,
    health: Health,
}

struct Outcome {
    found: Option<PeerId>,
    any_live: bool,
    peers_asked: u32,
    elapsed: Duration,
}

/// Runs a simulation: joins `config.nodes` real nodes over the memory
/// transport, announces the specialists and measures provider lookups
/// before and after the crashes and the hangs. Every node is shut down
/// before it returns.
///
/// # Errors
/// [`NetError::Start`] when a node cannot start (or the configuration is
/// unusable: fewer nodes than seeds and requesters, no specialists).
pub async fn run(config: SimConfig) -> Result<SimReport, NetError> {
    validate(&config)?;
    let started = Instant::now();
    let cpu_start = cpu_seconds();
    let rss_before = rss_mib("VmRSS");
    let mut rng = Rng(config.seed);

    let join_started = Instant::now();
    let mut nodes = join(&config, &mut rng).await?;
    let nodes = nodes.as_mut_slice();
    let join_ms = millis(join_started.elapsed());
    tracing::info!(nodes = nodes.len(), ms = join_ms, "joined");
    let settle_started = Instant::now();
    let settle_cpu = settle(config.settle, config.quiet_cores).await;
    let settle_ms = millis(settle_started.elapsed());
    tracing::info!(ms = settle_ms, cores = settle_cpu, "settled");

    // Providers: distinct nodes per specialist, any node may serve several.
    let specialists: Vec<String> = (0..config.specialists).map(|index| format!("sim.specialist.{index:03}")).collect();
    let mut provided: Vec<BTreeSet<String>> = vec![BTreeSet::new(); nodes.len()];
    let mut providers_of: HashMap<String, Vec<usize>> = HashMap::new();
    for specialist in &specialists {
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        rng.shuffle(&mut order);
        for &index in order.iter().take(config.providers_per_specialist) {
            provided[index].insert(specialist.clone());
            providers_of.entry(specialist.clone()).or_default().push(index);
        }
    }
    let provide_started = Instant::now();
    let announcements = provided.iter().map(BTreeSet::len).sum::<usize>();
    let announcements_reached = announce(nodes, &provided, config.net.kad_query_timeout).await;
    let provide_ms = millis(provide_started.elapsed());
    tracing::info!(ms = provide_ms, announcements_reached, "announced");
    let rss_joined = rss_mib("VmRSS");
    let cpu_join = cpu_seconds() - cpu_start;
    let (connected_mean, connected_max) = connections(nodes).await;

    // Requesters: random nodes; they look up what they do not provide.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    rng.shuffle(&mut order);
    let requesters: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&index| provided[index].len() < specialists.len())
        .take(config.requesters)
        .collect();
    let by_peer: HashMap<PeerId, usize> =
        nodes.iter().enumerate().map(|(index, node)| (node.network.peer_id(), index)).collect();

    let work = Workload {
        config: &config,
        requesters: &requesters,
        specialists: &specialists,
        provided: &provided,
        by_peer: &by_peer,
    };
    let mut phases = Vec::with_capacity(3);
    phases.push(measure(Phase::Baseline, work, nodes, &mut rng).await);

    let crash_count = fraction(nodes.len(), config.crash_fraction);
    let hang_count = fraction(nodes.len(), config.hang_fraction);
    let mut spared = 0;
    let crashed = pick_victims(nodes, &requesters, &providers_of, crash_count, &mut rng, &mut spared);
    for &index in &crashed {
        nodes[index].network.shutdown();
        nodes[index].health = Health::Crashed;
    }
    phases.push(settle_and_measure(Phase::AfterCrash, work, nodes, &mut rng).await);

    let hung = pick_victims(nodes, &requesters, &providers_of, hang_count, &mut rng, &mut spared);
    for &index in &hung {
        // A node whose task already stopped counts as crashed, not hung.
        if nodes[index].network.freeze(true).await.is_ok() {
            nodes[index].health = Health::Hung;
        } else {
            nodes[index].health = Health::Crashed;
        }
    }
    phases.push(settle_and_measure(Phase::AfterHang, work, nodes, &mut rng).await);

    let crashed_total = nodes.iter().filter(|node| node.health == Health::Crashed).count();
    let hung_total = nodes.iter().filter(|node| node.health == Health::Hung).count();
    for node in nodes.iter() {
        node.network.shutdown();
    }
    let rss_peak = rss_mib("VmHWM");
    let node_count = nodes.len();
    #[allow(clippy::cast_precision_loss)]
    let per_node = (rss_joined - rss_before).max(0.0) * 1024.0 / node_count.max(1) as f64;
    Ok(SimReport {
        nodes: node_count,
        seeds: config.seeds.min(node_count),
        specialists: specialists.len(),
        providers_per_specialist: config.providers_per_specialist,
        requesters: requesters.len(),
        crashed: crashed_total,
        hung: hung_total,
        spared_last_providers: spared,
        join_ms,
        settle_ms,
        settle_cpu_cores: settle_cpu,
        provide_ms,
        announcements_reached,
        announcements,
        connected_peers_mean: connected_mean,
        connected_peers_max: connected_max,
        rss_before_mib: rss_before,
        rss_joined_mib: rss_joined,
        rss_per_node_kib: per_node,
        rss_peak_mib: rss_peak,
        cpu_join_s: cpu_join,
        cpu_total_s: cpu_seconds() - cpu_start,
        total_ms: millis(started.elapsed()),
        lookup_timeout_ms: millis(config.lookup_timeout),
        substream_timeout_ms: millis(config.net.substream_timeout),
        dial_timeout_ms: millis(config.net.dial_timeout),
        kad_parallelism: config.net.kad_parallelism,
        idle_timeout_ms: millis(config.net.idle_timeout),
        quarantine_ms: millis(config.net.quarantine),
        seed: config.seed,
        phases,
    })
}

fn validate(config: &SimConfig) -> Result<(), NetError> {
    let problem = if config.nodes < 2 {
        Some("at least two nodes".to_owned())
    } else if config.seeds == 0 || config.seeds > config.nodes {
        Some("between one seed and as many seeds as nodes".to_owned())
    } else if config.specialists == 0 || config.providers_per_specialist == 0 {
        Some("at least one specialist and one provider each".to_owned())
    } else if config.providers_per_specialist >= config.nodes {
        Some("fewer providers per specialist than nodes".to_owned())
    } else if config.requesters == 0 || config.requesters > config.nodes {
        Some("between one requester and as many requesters as nodes".to_owned())
    } else if !(0.0..=1.0).contains(&config.crash_fraction)
        || !(0.0..=1.0).contains(&config.hang_fraction)
        || config.crash_fraction + config.hang_fraction >= 1.0
    {
        Some("crash and hang fractions in 0..1 with a sum below 1".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(NetError::Start(format!("simulation needs {problem}"))),
        None => Ok(()),
    }
}

#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn fraction(total: usize, fraction: f64) -> usize {
    ((total as f64) * fraction).round() as usize
}

/// Waits until the process uses less than `quiet` cores over a second, at
/// most `limit`; returns the cores used in the last second.
async fn settle(limit: Duration, quiet: f64) -> f64 {
    let deadline = Instant::now() + limit;
    loop {
        let before = cpu_seconds();
        let began = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cores = (cpu_seconds() - before) / began.elapsed().as_secs_f64().max(0.001);
        if cores < quiet || Instant::now() >= deadline {
            return cores;
        }
    }
}

/// Starts the seeds, then the other nodes in staggered batches, each
/// joining through a few random seeds.
async fn join(config: &SimConfig, rng: &mut Rng) -> Result<Vec<Node>, NetError> {
    let mut nodes: Vec<Node> = Vec::with_capacity(config.nodes);
    let mut seed_addresses: Vec<Multiaddr> = Vec::new();
    let mut keys = Vec::with_capacity(config.nodes);
    for _ in 0..config.nodes {
        let mut bytes = [0_u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        keys.push(Keypair::ed25519_from_bytes(bytes).map_err(|error| NetError::Start(format!("key: {error}")))?);
    }
    let mut keys = keys.into_iter();
    for _ in 0..config.seeds {
        let Some(key) = keys.next() else { break };
        let mut net = config.net.clone();
        net.listen = vec![memory_any()];
        net.bootstrap.clone_from(&seed_addresses);
        let node = start(key, net).await?;
        seed_addresses.push(node.address.clone());
        nodes.push(node);
    }
    let batch = config.join_batch.max(1);
    let mut in_batch = 0;
    for key in keys {
        let mut net = config.net.clone();
        net.listen = vec![memory_any()];
        let mut chosen: Vec<usize> = (0..seed_addresses.len()).collect();
        rng.shuffle(&mut chosen);
        net.bootstrap =
            chosen.into_iter().take(config.bootstrap_peers.max(1)).map(|index| seed_addresses[index].clone()).collect();
        nodes.push(start(key, net).await?);
        if nodes.len() % 100 == 0 {
            tracing::info!(nodes = nodes.len(), "joining");
        }
        in_batch += 1;
        if in_batch == batch {
            in_batch = 0;
            tokio::time::sleep(config.join_interval).await;
        }
    }
    Ok(nodes)
}

async fn start(key: Keypair, net: NetConfig) -> Result<Node, NetError> {
    let network = Network::start(key, net, None).await?;
    let address = network
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| NetError::Start("a simulated node is not listening".to_owned()))?;
    Ok(Node { network, address, health: Health::Up })
}

/// Announces what each node provides, again (up to three times) while an
/// announcement reached nobody, as a provider does; returns how many
/// announcements reached at least one peer.
async fn announce(nodes: &[Node], provided: &[BTreeSet<String>], limit: Duration) -> usize {
    let limit = limit + Duration::from_secs(5);
    futures::stream::iter(nodes.iter().zip(provided).filter(|(_, set)| !set.is_empty()))
        .map(|(node, set)| async move {
            let mut reached = 0;
            for attempt in 0..3 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                match tokio::time::timeout(limit, node.network.set_provided(set.clone())).await {
                    Ok(Ok(count)) => reached = count,
                    Ok(Err(error)) => tracing::warn!(%error, "announcement failed"),
                    Err(_) => tracing::warn!("announcement timed out"),
                }
                if reached >= set.len() {
                    break;
                }
            }
            reached
        })
        .buffer_unordered(16)
        .fold(0, |sum, reached| async move { sum + reached })
        .await
}

/// Open connections per node: mean and most.
async fn connections(nodes: &[Node]) -> (f64, usize) {
    let counts: Vec<usize> = futures::stream::iter(nodes)
        .then(|node| async move {
            node.network.peers().await.map(|peers| peers.iter().filter(|peer| peer.connected).count()).unwrap_or(0)
        })
        .collect()
        .await;
    #[allow(clippy::cast_precision_loss)]
    let mean = counts.iter().sum::<usize>() as f64 / counts.len().max(1) as f64;
    (mean, counts.iter().copied().max().unwrap_or(0))
}

/// Victims at random among live non-requesters, never a specialist's last
/// live provider.
fn pick_victims(
    nodes: &[Node],
    requesters: &[usize],
    providers_of: &HashMap<String, Vec<usize>>,
    count: usize,
    rng: &mut Rng,
    spared: &mut usize,
) -> Vec<usize> {
    let mut live: BTreeMap<&str, usize> = providers_of
        .iter()
        .map(|(specialist, providers)| {
            let up = providers.iter().filter(|&&index| nodes[index].health == Health::Up).count();
            (specialist.as_str(), up)
        })
        .collect();
    let mut candidates: Vec<usize> =
        (0..nodes.len()).filter(|index| nodes[*index].health == Health::Up && !requesters.contains(index)).collect();
    rng.shuffle(&mut candidates);
    let mut victims = Vec::with_capacity(count);
    for index in candidates {
        if victims.len() >= count {
            break;
        }
        let serves: Vec<&str> = providers_of
            .iter()
            .filter(|(_, providers)| providers.contains(&index))
            .map(|(specialist, _)| specialist.as_str())
            .collect();
        if serves.iter().any(|specialist| live.get(specialist).copied().unwrap_or(0) <= 1) {
            *spared += 1;
            continue;
        }
        for specialist in serves {
            if let Some(up) = live.get_mut(specialist) {
                *up -= 1;
            }
        }
        victims.push(index);
    }
    victims
}

/// What every phase looks up, and who asks.
#[derive(Clone, Copy)]
struct Workload<'a> {
    config: &'a SimConfig,
    requesters: &'a [usize],
    specialists: &'a [String],
    provided: &'a [BTreeSet<String>],
    by_peer: &'a HashMap<PeerId, usize>,
}

/// Waits until the process is quiet after a failure (at most
/// [`SimConfig::failure_settle`]), then measures `phase`.
async fn settle_and_measure(phase: Phase, work: Workload<'_>, nodes: &[Node], rng: &mut Rng) -> PhaseReport {
    let waited = Instant::now();
    settle(work.config.failure_settle, work.config.quiet_cores).await;
    let waited_ms = millis(waited.elapsed());
    let mut report = measure(phase, work, nodes, rng).await;
    report.waited_ms = waited_ms;
    report
}

async fn measure(phase: Phase, work: Workload<'_>, nodes: &[Node], rng: &mut Rng) -> PhaseReport {
    let Workload { config, requesters, specialists, provided, by_peer } = work;
    let mut plan = Vec::with_capacity(config.lookups_per_phase);
    for lookup in 0..config.lookups_per_phase {
        let requester = requesters[lookup % requesters.len()];
        let wanted: Vec<&String> =
            specialists.iter().filter(|specialist| !provided[requester].contains(*specialist)).collect();
        if wanted.is_empty() {
            continue;
        }
        let specialist = wanted[rng.below(wanted.len())].clone();
        plan.push((requester, specialist));
    }
    let timeout = config.lookup_timeout;
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let pace =
        config.phase_duration.checked_div(u32::try_from(plan.len()).unwrap_or(u32::MAX).max(1)).unwrap_or_default();
    let phase_start = tokio::time::Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(plan.into_iter().zip(0_u32..))
        .map(|((requester, specialist), index)| async move {
            tokio::time::sleep_until(phase_start + pace * index).await;
            let began = Instant::now();
            let lookup = tokio::time::timeout(timeout, nodes[requester].network.find_providers(&specialist, 1)).await;
            let elapsed = began.elapsed();
            match lookup {
                Ok(Ok(lookup)) => {
                    if lookup.providers.is_empty() || elapsed > Duration::from_secs(1) {
                        tracing::info!(
                            requester = %nodes[requester].network.peer_id(),
                            %specialist,
                            found = lookup.providers.len(),
                            asked = lookup.peers_asked,
                            ms = elapsed.as_millis(),
                            "slow or empty lookup"
                        );
                    }
                    let live =
                        |peer: &PeerId| by_peer.get(peer).is_some_and(|&index| nodes[index].health == Health::Up);
                    Outcome {
                        found: lookup.providers.first().copied(),
                        any_live: lookup.providers.iter().any(live),
                        peers_asked: lookup.peers_asked,
                        elapsed,
                    }
                }
                Ok(Err(_)) | Err(_) => Outcome { found: None, any_live: false, peers_asked: 0, elapsed },
            }
        })
        .buffer_unordered(config.lookup_concurrency.max(1))
        .collect()
        .await;
    let wall_ms = millis(started.elapsed());
    tracing::info!(?phase, ms = wall_ms, "phase measured");
    let mut report = summarize(phase, nodes, by_peer, &outcomes, wall_ms);
    report.cpu_cores = (cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64().max(0.001);
    let mut quarantined = BTreeSet::new();
    for &requester in requesters {
        if let Ok(peers) = nodes[requester].network.quarantined().await {
            quarantined.extend(peers.into_iter().filter_map(|peer| by_peer.get(&peer).copied()));
        }
    }
    report.quarantined_hung = quarantined.iter().filter(|&&index| nodes[index].health == Health::Hung).count();
    report.quarantined_up = quarantined.iter().filter(|&&index| nodes[index].health == Health::Up).count();
    report
}

fn summarize(
    phase: Phase,
    nodes: &[Node],
    by_peer: &HashMap<PeerId, usize>,
    outcomes: &[Outcome],
    wall_ms: u64,
) -> PhaseReport {
    let lookups = outcomes.len();
    let successes = outcomes.iter().filter(|o| o.found.is_some()).count();
    let live_first_provider = outcomes
        .iter()
        .filter(|o| o.found.and_then(|peer| by_peer.get(&peer)).is_some_and(|&index| nodes[index].health == Health::Up))
        .count();
    let live_any_provider = outcomes.iter().filter(|o| o.any_live).count();
    let mut asked: Vec<u32> = outcomes.iter().map(|o| o.peers_asked).collect();
    asked.sort_unstable();
    let mut latency: Vec<f64> = outcomes.iter().map(|o| o.elapsed.as_secs_f64() * 1000.0).collect();
    latency.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let ratio = |part: usize| {
        if lookups == 0 { 0.0 } else { part as f64 / lookups as f64 }
    };
    #[allow(clippy::cast_precision_loss)]
    let asked_mean = if lookups == 0 { 0.0 } else { asked.iter().map(|&n| f64::from(n)).sum::<f64>() / lookups as f64 };
    PhaseReport {
        phase,
        crashed: nodes.iter().filter(|n| n.health == Health::Crashed).count(),
        hung: nodes.iter().filter(|n| n.health == Health::Hung).count(),
        lookups,
        successes,
        success_rate: ratio(successes),
        live_first_provider,
        live_any_provider,
        peers_asked_p50: percentile(&asked, 0.50).unwrap_or(0),
        peers_asked_p99: percentile(&asked, 0.99).unwrap_or(0),
        peers_asked_mean: asked_mean,
        latency_ms_p50: percentile(&latency, 0.50).unwrap_or(0.0),
        latency_ms_p99: percentile(&latency, 0.99).unwrap_or(0.0),
        latency_ms_max: latency.last().copied().unwrap_or(0.0),
        over_1s: latency.iter().filter(|&&ms| ms > 1000.0).count(),
        wall_ms,
        cpu_cores: 0.0,
        waited_ms: 0,
        quarantined_hung: 0,
        quarantined_up: 0,
    }
}

/// Nearest-rank percentile of sorted values.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A `/proc/self/status` field in kB, as MiB (0 where there is no /proc).
#[allow(clippy::cast_precision_loss)]
fn rss_mib(field: &str) -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0.0;
    };
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
        })
        .map_or(0.0, |kb| kb as f64 / 1024.0)
}

/// User + system CPU time of the process from `/proc/self/stat`, assuming
/// the usual 100 ticks a second (0 where there is no /proc).
#[allow(clippy::cast_precision_loss)]
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ")".
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.50), Some(50));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&values, 1.0), Some(100));
        assert_eq!(percentile(&[7_u32], 0.99), Some(7));
        assert_eq!(percentile::<u32>(&[], 0.5), None);
    }

    #[test]
    fn the_generator_is_reproducible_and_shuffles_everything() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        assert_eq!(a.next(), b.next());
        let mut items: Vec<usize> = (0..50).collect();
        a.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(items, sorted);
    }

    #[test]
    fn proc_figures_are_read() {
        assert!(rss_mib("VmRSS") > 0.0);
        assert!(cpu_seconds() >= 0.0);
    }
}
