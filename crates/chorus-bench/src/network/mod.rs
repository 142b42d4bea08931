//! `chorus bench --network`: what the network adds to a sub-task, measured
//! on real nodes running the real model over real TCP loopback sockets
//! (rust-libp2p: TCP, Noise, Yamux, the `/chorus/task/1` protocol).
//!
//! Two figures:
//!
//! * **Dispatch overhead per sub-task**: the requester times from just before
//!   [`chorus_net::Network::start_task`] to the first token; the executor's
//!   own time to its first token (which contains the inference) is
//!   subtracted. The task protocol reports that time in whole milliseconds
//!   ([`chorus_net::TaskSummary::first_token_ms`], counted from before the
//!   request is read), so the same requests are also run on a second
//!   serving stack whose executor is timed with the process's own monotonic
//!   clock, to the microsecond, and on one whose executor answers at once
//!   (no inference at all: the bare cost of the stack). Variants: over an
//!   already-open connection, and over a first connection (a fresh
//!   requester dials, then sends the task). A status probe (a bare libp2p
//!   request-response round trip) is timed alongside, as a reference.
//! * **k sub-tasks on k peers**: two serving nodes of one inference thread
//!   each; each sub-task alone on its peer, both at once on the two peers,
//!   and both one after another on one peer. Medians over rounds.

mod executors;
mod parallel;
mod report;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::{Catalog, Executor, GenerationSpec, SpecialistSampling, Store};
use chorus_net::{Keypair, Multiaddr, NetConfig, Network, PeerId, RemoteEvent, TaskRequest, TaskSummary};
use chorus_node::{NetworkSettings, Node, NodeConfig, NodeError, ServeSettings, task_request, task_service};

use executors::{InstantExecutor, Stamps, TimedExecutor};
use parallel::parallel_figures;
pub(crate) use report::distribution;
pub use report::{
    DispatchFigures, DispatchReport, Distribution, NetworkBenchOptions, NetworkBenchReport, ParallelFigures,
    ParallelRound,
};

use crate::procfs::{load_average, process_cpu_seconds};
use crate::stats::millis_f64 as millis;

/// The specialist every request asks for.
const SPECIALIST: &str = "general.assistant";
/// The short request of the dispatch figure.
const SHORT_PROMPT: &str = "Hi";
/// Requests per server before measuring (model load, first connection).
const WARM_UP: u32 = 5;
/// The sub-tasks of the k-peers figure.
const SUBTASKS: [&str; 2] = [
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain to a curious child how a bicycle works, part by part.",
];
/// Deadline given to every task.
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs the network benchmark. Blocks for a few minutes.
///
/// # Errors
/// [`NodeError::InvalidBench`] for nonsense options, [`NodeError::Network`]
/// when a node cannot start or a task fails, or any load error.
pub fn bench_network(options: &NetworkBenchOptions) -> Result<NetworkBenchReport, NodeError> {
    if options.requests == 0 || options.first_connections == 0 || options.rounds == 0 {
        return Err(NodeError::InvalidBench("requests, first connections and rounds must be ≥1".to_owned()));
    }
    if !(1..=64).contains(&options.dispatch_tokens) {
        return Err(NodeError::InvalidBench("dispatch tokens must be 1..=64".to_owned()));
    }
    if !(1..=512).contains(&options.subtask_tokens) {
        return Err(NodeError::InvalidBench("sub-task tokens must be 1..=512".to_owned()));
    }
    let root = std::env::temp_dir().join(format!("chorus-bench-net-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| NodeError::InvalidBench(error.to_string()))?;
    let outcome = runtime.block_on(run(options, &root));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&root);
    outcome
}

fn network_error(error: impl std::fmt::Display) -> NodeError {
    NodeError::NetworkUnavailable(error.to_string())
}

fn loopback() -> Vec<Multiaddr> {
    "/ip4/127.0.0.1/tcp/0".parse().map(|address| vec![address]).unwrap_or_default()
}

/// Loopback only, no per-peer rate limit (the bench sends a thousand
/// requests to one peer within minutes; the default allows 600 a minute),
/// and no cap per address: every fresh requester comes from this machine.
fn bench_tune(config: &mut NetConfig) {
    config.mdns = false;
    config.autonat = false;
    config.requests_per_minute = 0;
    config.max_incoming_per_ip = u32::MAX;
}

fn served() -> BTreeSet<String> {
    BTreeSet::from([SPECIALIST.to_owned()])
}

async fn first_address(network: &Network) -> Result<Multiaddr, NodeError> {
    network
        .listen_addrs()
        .await
        .map_err(network_error)?
        .into_iter()
        .next()
        .ok_or_else(|| NodeError::NetworkUnavailable("the node listens nowhere".to_owned()))
}

/// A real serving node, joined the way `chorus serve` joins.
async fn serving_node(base: &NodeConfig, dir: PathBuf) -> Result<(Node, PeerId, Multiaddr), NodeError> {
    let config = NodeConfig { data_dir: Some(dir), local_specialists: Some(served()), ..base.clone() };
    let node = Node::start(config)?;
    node.join_network(NetworkSettings {
        listen: loopback(),
        mdns: false,
        serve: Some(ServeSettings { specialists: Some(served()), ..ServeSettings::default() }),
        tune: Some(bench_tune),
        ..NetworkSettings::default()
    })
    .await?;
    let network =
        node.network().ok_or_else(|| NodeError::NetworkUnavailable("the network did not start".to_owned()))?;
    let peer = network.peer_id();
    let address = first_address(&network).await?;
    Ok((node, peer, address))
}

/// The serving stack of [`Node::join_network`] (`NodeService` behind
/// `Network::start`) over a given executor.
async fn serving_stack(
    executor: Arc<dyn Executor>,
    catalog: &Catalog,
    store: Store,
) -> Result<(Network, PeerId, Multiaddr), NodeError> {
    let settings = ServeSettings { specialists: Some(served()), ..ServeSettings::default() };
    let service = task_service(executor, catalog, settings, store);
    let mut config = NetConfig::tcp(loopback());
    bench_tune(&mut config);
    let network = Network::start(Keypair::generate_ed25519(), config, Some(service)).await.map_err(network_error)?;
    let peer = network.peer_id();
    let address = first_address(&network).await?;
    Ok((network, peer, address))
}

fn request(prompt: &str, max_tokens: u32, seed: u32) -> TaskRequest {
    let spec = GenerationSpec {
        system: String::new(),
        prompt: prompt.to_owned(),
        sampling: SpecialistSampling {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.05,
            repeat_penalty: 1.1,
            max_tokens,
        },
        seed,
        json_schema: None,
    };
    task_request(SPECIALIST, &spec, DEADLINE)
}

/// One task as the requester saw it.
struct Timed {
    first_token: Option<Duration>,
    done: Duration,
    summary: TaskSummary,
    waited: bool,
}

/// Runs a task to its end; times count from `started`.
async fn timed_task(
    network: &Network,
    peer: PeerId,
    request: TaskRequest,
    started: Instant,
) -> Result<Timed, NodeError> {
    let mut task = network.start_task(peer, request).await.map_err(network_error)?;
    let mut first_token = None;
    let mut waited = false;
    loop {
        match task.next().await {
            Some(Ok(RemoteEvent::Token(_))) => {
                first_token.get_or_insert_with(|| started.elapsed());
            }
            Some(Ok(RemoteEvent::Waiting)) => waited = true,
            Some(Ok(RemoteEvent::Done { summary, .. })) => {
                return Ok(Timed { first_token, done: started.elapsed(), summary, waited });
            }
            Some(Err(error)) => return Err(network_error(format!("task on {peer}: {error}"))),
            None => return Err(NodeError::NetworkUnavailable(format!("the task on {peer} ended without a result"))),
        }
    }
}

/// CPU cores used since `cpu_before` over `wall`.
fn cores_since(cpu_before: Option<f64>, wall: Duration) -> f64 {
    match (cpu_before, process_cpu_seconds()) {
        (Some(before), Some(after)) if !wall.is_zero() => (after - before) / wall.as_secs_f64(),
        _ => 0.0,
    }
}

/// Samples of one dispatch variant.
#[derive(Default)]
struct Samples {
    requester: Vec<f64>,
    executor: Vec<f64>,
    waited: u32,
}

impl Samples {
    /// Records a task; `executor_ms` is the executor's time to first token.
    fn push(&mut self, timed: &Timed, executor_ms: f64) -> Result<(), NodeError> {
        let first = timed
            .first_token
            .ok_or_else(|| NodeError::NetworkUnavailable("a task finished without a single token".to_owned()))?;
        self.requester.push(millis(first));
        self.executor.push(executor_ms);
        self.waited += u32::from(timed.waited);
        Ok(())
    }

    fn figures(&self, variant: &str) -> DispatchFigures {
        let overhead: Vec<f64> =
            self.requester.iter().zip(&self.executor).map(|(requester, executor)| requester - executor).collect();
        DispatchFigures {
            variant: variant.to_owned(),
            requests: self.requester.len(),
            requester_first_token: distribution(&self.requester),
            executor_first_token: distribution(&self.executor),
            overhead: distribution(&overhead),
            waited: self.waited,
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn protocol_ms(summary: &TaskSummary) -> f64 {
    summary.first_token_ms as f64
}

async fn run(options: &NetworkBenchOptions, root: &Path) -> Result<NetworkBenchReport, NodeError> {
    let started = Instant::now();
    let load_before = load_average();
    let mut base = options.node.clone();
    base.threads = base.threads.or(Some(1));
    base.context = 1024;
    base.parallel = 1;

    tracing::info!("starting two serving nodes, two serving stacks and a requester on loopback");
    let (node_a, peer_a, address_a) = serving_node(&base, root.join("peer-a")).await?;
    let (node_b, peer_b, address_b) = serving_node(&base, root.join("peer-b")).await?;
    // The instrumented stacks: the engine of a node that serves nothing itself.
    let holder = Node::start(NodeConfig { data_dir: Some(root.join("peer-t")), ..base.clone() })?;
    let stamps = Arc::new(Mutex::new(Stamps::default()));
    let timed_executor = Arc::new(TimedExecutor { model: holder.default_model()?, stamps: Arc::clone(&stamps) });
    let (stack_t, peer_t, address_t) = serving_stack(timed_executor, holder.catalog(), holder.store().clone()).await?;
    let (stack_i, peer_i, address_i) =
        serving_stack(Arc::new(InstantExecutor), holder.catalog(), holder.store().clone()).await?;
    let requester = Node::start(NodeConfig {
        data_dir: Some(root.join("requester")),
        local_specialists: Some(BTreeSet::new()),
        ..base.clone()
    })?;
    requester
        .join_network(NetworkSettings {
            listen: loopback(),
            mdns: false,
            tune: Some(bench_tune),
            ..NetworkSettings::default()
        })
        .await?;
    let network = requester
        .network()
        .ok_or_else(|| NodeError::NetworkUnavailable("the network did not start".to_owned()))?
        .clone();
    for address in [&address_a, &address_b, &address_t, &address_i] {
        network.dial(address.clone()).await.map_err(network_error)?;
    }
    let model = node_a.default_model()?;

    // Warm-up: models loaded, connections used once.
    let short = |seed: u32| request(SHORT_PROMPT, options.dispatch_tokens, seed);
    for seed in 0..WARM_UP {
        for peer in [peer_a, peer_b, peer_t, peer_i] {
            timed_task(&network, peer, short(seed), Instant::now()).await?;
        }
    }

    tracing::info!(requests = options.requests, "dispatch overhead over open connections");
    let mut warm = Samples::default();
    let mut precise = Samples::default();
    let mut instant = Samples::default();
    let mut status = Vec::new();
    for index in 0..options.requests {
        // Interleaved, so every variant sees the same load on the machine.
        let timed = timed_task(&network, peer_a, short(index), Instant::now()).await?;
        warm.push(&timed, protocol_ms(&timed.summary))?;

        let timed = timed_task(&network, peer_t, short(index), Instant::now()).await?;
        let stamp = stamps.lock().map(|stamps| *stamps).unwrap_or_default();
        let executor_ms = match (stamp.called, stamp.first_token) {
            (Some(called), Some(first)) => millis(first.duration_since(called)),
            _ => return Err(NodeError::NetworkUnavailable("the timed executor saw no token".to_owned())),
        };
        precise.push(&timed, executor_ms)?;

        let timed = timed_task(&network, peer_i, short(index), Instant::now()).await?;
        instant.push(&timed, 0.0)?;

        let probe = Instant::now();
        network.status(peer_a).await.map_err(network_error)?;
        status.push(millis(probe.elapsed()));
        if (index + 1) % 100 == 0 {
            tracing::info!(done = index + 1, "requests");
        }
    }

    tracing::info!(requests = options.first_connections, "dispatch overhead over a first connection");
    let mut first = Samples::default();
    let mut dials = Vec::new();
    for index in 0..options.first_connections {
        let mut config = NetConfig::tcp(Vec::new());
        bench_tune(&mut config);
        let fresh = Network::start(Keypair::generate_ed25519(), config, None).await.map_err(network_error)?;
        let begun = Instant::now();
        fresh.dial(address_a.clone()).await.map_err(network_error)?;
        dials.push(millis(begun.elapsed()));
        let timed = timed_task(&fresh, peer_a, short(index), begun).await?;
        first.push(&timed, protocol_ms(&timed.summary))?;
        fresh.shutdown();
    }

    let dispatch = DispatchReport {
        specialist: SPECIALIST.to_owned(),
        prompt: SHORT_PROMPT.to_owned(),
        max_tokens: options.dispatch_tokens,
        warm: warm.figures("real node, open connection; executor time: protocol first_token_ms (whole ms)"),
        warm_precise: precise.figures("node's serving stack, open connection; executor time: in-process clock (µs)"),
        no_inference: instant.figures("node's serving stack with an executor that answers at once"),
        first_connection: first
            .figures("real node, fresh requester dials first; executor time: protocol first_token_ms (whole ms)"),
        first_connection_dial: distribution(&dials),
        status_round_trip: distribution(&status),
    };

    tracing::info!(rounds = options.rounds, "k sub-tasks on k peers");
    let parallel = parallel_figures(&network, [peer_a, peer_b], model.info().threads, options).await?;

    let report = NetworkBenchReport {
        model: model.info().path.display().to_string(),
        transport: "TCP on 127.0.0.1, Noise, Yamux (rust-libp2p), /chorus/task/1".to_owned(),
        cores: std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(0),
        load_before,
        load_after: load_average(),
        dispatch,
        parallel,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    stack_t.shutdown();
    stack_i.shutdown();
    drop((node_a, node_b, holder, requester, model));
    Ok(report)
}
