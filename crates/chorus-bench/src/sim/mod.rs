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
//!
//! Strangers: [`SimConfig::hostile_fraction`] of the other nodes are
//! hostile (`hostile.rs`): they provide every specialist, lie in their
//! status and never answer a task. Between the baseline and the crashes,
//! the requesters look providers up asking for several numbers of them, then
//! run tasks as a node does (`tasks.rs`: chorus-node's requester rules,
//! chorus-core's ranking, a sled store of their own); honest providers
//! answer with a few words (`services.rs`).

mod config;
mod hostile;
mod report;
mod rng;
mod services;
mod tasks;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_net::{Keypair, Multiaddr, NetConfig, NetError, Network, PeerId};
use futures::StreamExt as _;

pub use config::SimConfig;
use config::memory_any;
pub use report::{LookupSweep, Phase, PhaseReport, SimReport, TaskReport};
use rng::Rng;
use services::{Answering, Role, SimService};

use crate::procfs::{process_cpu_seconds, rss_mib};
use crate::stats::{millis, percentile};

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
    service: Arc<SimService>,
}

struct Outcome {
    found: Option<PeerId>,
    any_live: bool,
    any_honest: bool,
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
    let cpu_start = process_cpu_seconds().unwrap_or(0.0);
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
    // Requesters: random nodes; they look up what they do not provide.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    rng.shuffle(&mut order);
    let requesters: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&index| provided[index].len() < specialists.len())
        .take(config.requesters)
        .collect();
    // Strangers, drawn apart so that the other draws stay as they were.
    let mut strangers = Rng(config.seed ^ 0x5354_5241_4e47_4552);
    let hostile_nodes =
        hostile::pick_hostile(nodes.len(), &requesters, &provided, config.hostile_fraction, &mut strangers)?;
    let mut hostile = vec![false; nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        let role = if hostile_nodes.contains(&index) {
            hostile[index] = true;
            provided[index] = specialists.iter().cloned().collect();
            Role::Hostile { specialists: specialists.clone(), plausible: config.hostile_plausible }
        } else if provided[index].is_empty() {
            Role::Idle
        } else {
            Role::Honest { specialists: provided[index].iter().cloned().collect() }
        };
        node.service.set_role(role);
    }
    let provide_started = Instant::now();
    let announcements = provided.iter().map(BTreeSet::len).sum::<usize>();
    let announcements_reached = announce(nodes, &provided, config.net.kad_query_timeout).await;
    let provide_ms = millis(provide_started.elapsed());
    tracing::info!(ms = provide_ms, announcements_reached, "announced");
    let rss_joined = rss_mib("VmRSS");
    let cpu_join = process_cpu_seconds().unwrap_or(0.0) - cpu_start;
    let (connected_mean, connected_max) = connections(nodes).await;

    let by_peer: HashMap<PeerId, usize> =
        nodes.iter().enumerate().map(|(index, node)| (node.network.peer_id(), index)).collect();

    let work = Workload {
        config: &config,
        requesters: &requesters,
        specialists: &specialists,
        provided: &provided,
        by_peer: &by_peer,
        hostile: &hostile,
    };
    let mut phases = Vec::with_capacity(3);
    phases.push(measure(Phase::Baseline, work, nodes, &mut rng).await);
    let lookup_sweep = hostile::sweep(work, nodes, &mut strangers).await;
    tracing::info!("lookups swept");
    let tasks = hostile::run_tasks(work, nodes, &mut strangers).await?;
    tracing::info!(tasks = tasks.tasks, answered = tasks.answered, ms = tasks.wall_ms, "tasks run");

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
    let cpu_total = process_cpu_seconds().unwrap_or(0.0) - cpu_start;
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
        cpu_total_s: cpu_total,
        #[allow(clippy::cast_precision_loss)]
        cpu_per_node_ms: cpu_total * 1000.0 / node_count.max(1) as f64,
        total_ms: millis(started.elapsed()),
        lookup_timeout_ms: millis(config.lookup_timeout),
        substream_timeout_ms: millis(config.net.substream_timeout),
        dial_timeout_ms: millis(config.net.dial_timeout),
        kad_parallelism: config.net.kad_parallelism,
        idle_timeout_ms: millis(config.net.idle_timeout),
        quarantine_ms: millis(config.net.quarantine),
        seed: config.seed,
        phases,
        hostile: hostile_nodes.len(),
        lookup_sweep,
        tasks,
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
    } else if !(0.0..1.0).contains(&config.hostile_fraction) {
        Some("a hostile fraction in 0..1".to_owned())
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
        let before = process_cpu_seconds().unwrap_or(0.0);
        let began = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cores = (process_cpu_seconds().unwrap_or(0.0) - before) / began.elapsed().as_secs_f64().max(0.001);
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
        let node = start(key, net, answering(config)).await?;
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
        nodes.push(start(key, net, answering(config)).await?);
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

/// How an honest provider answers, from the settings.
fn answering(config: &SimConfig) -> Answering {
    Answering { slots: config.honest_slots, tokens: config.answer_tokens, interval: config.token_interval }
}

async fn start(key: Keypair, net: NetConfig, answering: Answering) -> Result<Node, NetError> {
    let service = Arc::new(SimService::new(answering));
    let network = Network::start(key, net, Some(Arc::clone(&service) as Arc<dyn chorus_net::TaskService>)).await?;
    let address = network
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| NetError::Start("a simulated node is not listening".to_owned()))?;
    Ok(Node { network, address, health: Health::Up, service })
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
    /// Which nodes are hostile.
    hostile: &'a [bool],
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
    let Workload { config, requesters, specialists, provided, by_peer, hostile } = work;
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
    let cpu_before = process_cpu_seconds().unwrap_or(0.0);
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
                    let honest = |peer: &PeerId| live(peer) && by_peer.get(peer).is_some_and(|&index| !hostile[index]);
                    Outcome {
                        found: lookup.providers.first().copied(),
                        any_live: lookup.providers.iter().any(live),
                        any_honest: lookup.providers.iter().any(honest),
                        peers_asked: lookup.peers_asked,
                        elapsed,
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    Outcome { found: None, any_live: false, any_honest: false, peers_asked: 0, elapsed }
                }
            }
        })
        .buffer_unordered(config.lookup_concurrency.max(1))
        .collect()
        .await;
    let wall_ms = millis(started.elapsed());
    tracing::info!(?phase, ms = wall_ms, "phase measured");
    let mut report = summarize(phase, nodes, by_peer, hostile, &outcomes, wall_ms);
    report.cpu_cores = (process_cpu_seconds().unwrap_or(0.0) - cpu_before) / started.elapsed().as_secs_f64().max(0.001);
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
    hostile: &[bool],
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
    let honest_first_provider = outcomes
        .iter()
        .filter(|o| {
            o.found
                .and_then(|peer| by_peer.get(&peer))
                .is_some_and(|&index| nodes[index].health == Health::Up && !hostile[index])
        })
        .count();
    let honest_any_provider = outcomes.iter().filter(|o| o.any_honest).count();
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
        honest_first_provider,
        honest_any_provider,
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
