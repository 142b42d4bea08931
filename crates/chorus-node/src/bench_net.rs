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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::{Catalog, Executor, GenerationChunk, GenerationSpec, GenerationStream, SpecialistSampling, Store};
use chorus_engine::{GenerationEvent, Model};
use chorus_net::{Keypair, Multiaddr, NetConfig, Network, PeerId, RemoteEvent, TaskRequest, TaskService, TaskSummary};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::network::{NetworkSettings, NodeService, ServeSettings, ServiceHandle, task_request};
use crate::node::{Node, NodeConfig, NodeError};

/// What to measure.
#[derive(Debug, Clone)]
pub struct NetworkBenchOptions {
    /// The base settings of every node (model, catalog); the bench sets the
    /// data directories, context and parallelism, and one inference thread
    /// per node unless `threads` is given.
    pub node: NodeConfig,
    /// Requests per variant of the warm dispatch figure.
    pub requests: u32,
    /// Token cap of each request of the dispatch figure (the first token is
    /// what is timed; with 2 the executor is still decoding while its first
    /// token travels, as in a real sub-task).
    pub dispatch_tokens: u32,
    /// Requests over a first connection (each from a fresh requester).
    pub first_connections: u32,
    /// Rounds of the k-peers figure.
    pub rounds: u32,
    /// Tokens generated per sub-task of the k-peers figure.
    pub subtask_tokens: u32,
}

impl Default for NetworkBenchOptions {
    fn default() -> Self {
        Self {
            node: NodeConfig::default(),
            requests: 1000,
            dispatch_tokens: 2,
            first_connections: 100,
            rounds: 10,
            subtask_tokens: 96,
        }
    }
}

/// A distribution of times, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    /// Samples.
    pub samples: usize,
    /// Smallest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// One variant of the dispatch figure.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchFigures {
    /// What serves, and how the executor's time to first token is known.
    pub variant: String,
    /// Requests measured (after the warm-up).
    pub requests: usize,
    /// Requester: from just before `start_task` to the first token.
    pub requester_first_token: Distribution,
    /// Executor: its own time to the first token (the inference).
    pub executor_first_token: Distribution,
    /// Per request, requester minus executor: what dispatching added.
    pub overhead: Distribution,
    /// Requests that had to wait for a slot on the executor (expected: 0).
    pub waited: u32,
}

/// The dispatch-overhead figure.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchReport {
    /// The specialist asked for.
    pub specialist: String,
    /// The user message of every request (no system message).
    pub prompt: String,
    /// Token cap of every request.
    pub max_tokens: u32,
    /// A real node (`Node::join_network`) over an open connection; the
    /// executor's time is the protocol's `first_token_ms` (whole ms, rounded
    /// down, counted from before the request is read).
    pub warm: DispatchFigures,
    /// The same serving stack (`NodeService`, the engine, `Network::start`)
    /// with the executor timed in-process to the microsecond, from the
    /// engine call to the first token.
    pub warm_precise: DispatchFigures,
    /// The same serving stack with an executor that answers at once: the
    /// whole round trip is overhead.
    pub no_inference: DispatchFigures,
    /// The real node, each request from a fresh requester that dials first
    /// (TCP, Noise and Yamux handshakes included); executor time as `warm`.
    pub first_connection: DispatchFigures,
    /// The dial alone of `first_connection` (until the connection is up).
    pub first_connection_dial: Distribution,
    /// Status probes over the open connection: a bare libp2p
    /// request-response round trip, for reference.
    pub status_round_trip: Distribution,
}

/// One round of the k-peers figure.
#[derive(Debug, Clone, Serialize)]
pub struct ParallelRound {
    /// Each sub-task alone on its own peer, wall-clock ms at the requester.
    pub alone_ms: Vec<f64>,
    /// The same, as the executor timed itself (ms).
    pub alone_executor_ms: Vec<f64>,
    /// All sub-tasks at once, one per peer, until the last finished.
    pub parallel_ms: f64,
    /// CPU cores this process got meanwhile (its CPU time over the wall
    /// time; Linux only, else 0): about k when the machine gave every peer
    /// its core, about 1 when another process held the others.
    pub parallel_cpu_cores: f64,
    /// Each sub-task's own time within the parallel run (executor clock, ms).
    pub parallel_executor_ms: Vec<f64>,
    /// All sub-tasks one after another on the first peer.
    pub sequential_ms: f64,
    /// CPU cores this process got meanwhile (about 1).
    pub sequential_cpu_cores: f64,
    /// Tokens each sub-task generated.
    pub tokens: Vec<u32>,
}

/// k independent sub-tasks on k peers against the slowest one alone and
/// against one device doing them one after another.
#[derive(Debug, Clone, Serialize)]
pub struct ParallelFigures {
    /// Peers (= sub-tasks).
    pub peers: usize,
    /// Inference threads per peer.
    pub threads_per_peer: usize,
    /// Token cap per sub-task.
    pub max_tokens: u32,
    /// Rounds.
    pub rounds: usize,
    /// Median over rounds of the slowest sub-task alone (ms).
    pub slowest_alone_ms: f64,
    /// Median over rounds of all at once on k peers (ms).
    pub parallel_ms: f64,
    /// Median over rounds of all one after another on one peer (ms).
    pub sequential_ms: f64,
    /// Median over rounds of `parallel / slowest alone` (goal: at most 1.3).
    pub parallel_vs_slowest: f64,
    /// Median over rounds of what the network added to the parallel run:
    /// its wall time minus the longest executor's own time for its
    /// sub-task (whole ms, as the protocol reports it). The rest of the
    /// wall time is inference, however fast the machine let it run.
    pub parallel_network_ms: f64,
    /// Median over rounds of `sequential / parallel` (ideal: k).
    pub speedup_vs_one_device: f64,
    /// Median over rounds of the CPU cores the process got while all ran at
    /// once (k when the machine was free; see [`ParallelRound`]).
    pub parallel_cpu_cores: f64,
    /// Rounds in which the process got at least 0.9 k cores while all ran
    /// at once: the machine really ran the k peers side by side.
    pub full_core_rounds: usize,
    /// `parallel / slowest alone`, median over those rounds.
    pub full_core_parallel_vs_slowest: Option<f64>,
    /// `sequential / parallel`, median over those rounds.
    pub full_core_speedup_vs_one_device: Option<f64>,
    /// Every round.
    pub per_round: Vec<ParallelRound>,
}

/// The result of `chorus bench --network`. Field names are a public
/// interface (`chorus bench --network --json`).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkBenchReport {
    /// The model file.
    pub model: String,
    /// The transport.
    pub transport: String,
    /// Logical cores of the machine.
    pub cores: usize,
    /// Load average (1, 5, 15 min) before the bench.
    pub load_before: Vec<f64>,
    /// Load average after.
    pub load_after: Vec<f64>,
    /// Dispatch overhead per sub-task.
    pub dispatch: DispatchReport,
    /// k sub-tasks on k peers.
    pub parallel: ParallelFigures,
    /// Seconds the whole bench took.
    pub elapsed_s: f64,
}

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

/// Loopback only, and no per-peer rate limit: the bench sends a thousand
/// requests to one peer within minutes (the default allows 600 a minute).
fn bench_tune(config: &mut NetConfig) {
    config.mdns = false;
    config.autonat = false;
    config.requests_per_minute = 0;
}

fn served() -> BTreeSet<String> {
    BTreeSet::from([SPECIALIST.to_owned()])
}

fn load_average() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).filter_map(|value| value.parse().ok()).collect())
        .unwrap_or_default()
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
    let service: Arc<dyn TaskService> = Arc::new(ServiceHandle(NodeService::new(executor, catalog, settings, store)));
    let mut config = NetConfig::tcp(loopback());
    bench_tune(&mut config);
    let network = Network::start(Keypair::generate_ed25519(), config, Some(service)).await.map_err(network_error)?;
    let peer = network.peer_id();
    let address = first_address(&network).await?;
    Ok((network, peer, address))
}

/// When the executor was called and when its first token came out.
#[derive(Debug, Default, Clone, Copy)]
struct Stamps {
    called: Option<Instant>,
    first_token: Option<Instant>,
}

/// The engine as an executor (as the node's own), timed with the process's
/// monotonic clock, which the requester in the same process shares.
struct TimedExecutor {
    model: Model,
    stamps: Arc<Mutex<Stamps>>,
}

impl Executor for TimedExecutor {
    fn id(&self) -> String {
        "local".to_owned()
    }

    fn serves(&self, specialist_id: &str) -> bool {
        specialist_id == SPECIALIST
    }

    fn run(&self, _specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, String> {
        let capacity = usize::try_from(spec.sampling.max_tokens).unwrap_or(1024).saturating_add(4);
        let called = Instant::now();
        let mut generation =
            self.model.generate(crate::local::engine_request(spec)).map_err(|error| error.to_string())?;
        if let Ok(mut stamps) = self.stamps.lock() {
            *stamps = Stamps { called: Some(called), first_token: None };
        }
        let stamps = Arc::clone(&self.stamps);
        let (chunks, stream) = mpsc::channel(capacity);
        // The same forwarding task as the node's own executor, with a stamp.
        tokio::spawn(async move {
            while let Some(event) = generation.next_event().await {
                let chunk = match event {
                    GenerationEvent::Token(text) => {
                        if let Ok(mut stamps) = stamps.lock() {
                            stamps.first_token.get_or_insert_with(Instant::now);
                        }
                        GenerationChunk::Token(text)
                    }
                    GenerationEvent::Done(done) => {
                        GenerationChunk::Done { text: done.text, tokens: done.completion_tokens }
                    }
                    GenerationEvent::Failed(error) => GenerationChunk::Failed(error.to_string()),
                };
                if chunks.send(chunk).await.is_err() {
                    return;
                }
            }
        });
        Ok(stream)
    }
}

/// An executor that answers at once: one token, done.
struct InstantExecutor;

impl Executor for InstantExecutor {
    fn id(&self) -> String {
        "local".to_owned()
    }

    fn serves(&self, specialist_id: &str) -> bool {
        specialist_id == SPECIALIST
    }

    fn run(&self, _specialist_id: &str, _spec: GenerationSpec) -> Result<GenerationStream, String> {
        let (chunks, stream) = mpsc::channel(2);
        let _ = chunks.try_send(GenerationChunk::Token("Hello".to_owned()));
        let _ = chunks.try_send(GenerationChunk::Done { text: "Hello".to_owned(), tokens: 1 });
        Ok(stream)
    }
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

/// CPU seconds this process used so far (user + system, all threads), from
/// `/proc/self/stat` (in USER_HZ = 100 ticks a second on Linux).
#[allow(clippy::cast_precision_loss)]
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    // After the command: state is field 3, utime 14 and stime 15.
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// CPU cores used since `cpu_before` over `wall`.
fn cores_since(cpu_before: Option<f64>, wall: Duration) -> f64 {
    match (cpu_before, process_cpu_seconds()) {
        (Some(before), Some(after)) if !wall.is_zero() => (after - before) / wall.as_secs_f64(),
        _ => 0.0,
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[allow(clippy::cast_precision_loss)]
fn distribution(values: &[f64]) -> Distribution {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|value| value.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = |fraction: f64| -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        // Nearest rank.
        let index = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    };
    Distribution {
        samples: sorted.len(),
        min_ms: sorted.first().copied().unwrap_or(f64::NAN),
        p50_ms: rank(0.50),
        p90_ms: rank(0.90),
        p99_ms: rank(0.99),
        max_ms: sorted.last().copied().unwrap_or(f64::NAN),
        mean_ms: if sorted.is_empty() { f64::NAN } else { sorted.iter().sum::<f64>() / sorted.len() as f64 },
    }
}

fn median(values: &[f64]) -> f64 {
    distribution(values).p50_ms
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

async fn parallel_figures(
    network: &Network,
    peers: [PeerId; 2],
    threads_per_peer: usize,
    options: &NetworkBenchOptions,
) -> Result<ParallelFigures, NodeError> {
    let subtask = |index: usize| request(SUBTASKS[index], options.subtask_tokens, 42);
    // Warm-up: each peer runs its sub-task once.
    for (index, peer) in peers.iter().enumerate() {
        timed_task(network, *peer, subtask(index), Instant::now()).await?;
    }
    let mut per_round = Vec::new();
    for round in 0..options.rounds {
        let mut alone_ms = Vec::new();
        let mut alone_executor_ms = Vec::new();
        let mut tokens = Vec::new();
        for (index, peer) in peers.iter().enumerate() {
            let timed = timed_task(network, *peer, subtask(index), Instant::now()).await?;
            alone_ms.push(millis(timed.done));
            #[allow(clippy::cast_precision_loss)]
            alone_executor_ms.push(timed.summary.total_ms as f64);
            tokens.push(timed.summary.tokens);
        }
        let cpu = process_cpu_seconds();
        let begun = Instant::now();
        let (first, second) = tokio::join!(
            timed_task(network, peers[0], subtask(0), begun),
            timed_task(network, peers[1], subtask(1), begun),
        );
        let parallel_ms = millis(begun.elapsed());
        let parallel_cpu_cores = cores_since(cpu, begun.elapsed());
        #[allow(clippy::cast_precision_loss)]
        let parallel_executor_ms = vec![first?.summary.total_ms as f64, second?.summary.total_ms as f64];
        let cpu = process_cpu_seconds();
        let begun = Instant::now();
        for index in 0..peers.len() {
            timed_task(network, peers[0], subtask(index), begun).await?;
        }
        let sequential_ms = millis(begun.elapsed());
        let sequential_cpu_cores = cores_since(cpu, begun.elapsed());
        tracing::info!(round, parallel_ms, parallel_cpu_cores, sequential_ms, "k-peers round");
        per_round.push(ParallelRound {
            alone_ms,
            alone_executor_ms,
            parallel_ms,
            parallel_cpu_cores,
            parallel_executor_ms,
            sequential_ms,
            sequential_cpu_cores,
            tokens,
        });
    }
    let slowest: Vec<f64> = per_round.iter().map(|round| round.alone_ms.iter().copied().fold(0.0, f64::max)).collect();
    let parallel: Vec<f64> = per_round.iter().map(|round| round.parallel_ms).collect();
    let sequential: Vec<f64> = per_round.iter().map(|round| round.sequential_ms).collect();
    let against_slowest: Vec<f64> = parallel.iter().zip(&slowest).map(|(both, slow)| both / slow).collect();
    let speedup: Vec<f64> = sequential.iter().zip(&parallel).map(|(one, both)| one / both).collect();
    #[allow(clippy::cast_precision_loss)]
    let full: Vec<bool> = per_round.iter().map(|round| round.parallel_cpu_cores >= 0.9 * peers.len() as f64).collect();
    let only_full = |values: &[f64]| -> Option<f64> {
        let kept: Vec<f64> = values.iter().zip(&full).filter(|(_, full)| **full).map(|(value, _)| *value).collect();
        (!kept.is_empty()).then(|| median(&kept))
    };
    Ok(ParallelFigures {
        peers: peers.len(),
        threads_per_peer,
        max_tokens: options.subtask_tokens,
        rounds: per_round.len(),
        slowest_alone_ms: median(&slowest),
        parallel_ms: median(&parallel),
        sequential_ms: median(&sequential),
        parallel_vs_slowest: median(&against_slowest),
        parallel_network_ms: median(
            &per_round
                .iter()
                .map(|round| round.parallel_ms - round.parallel_executor_ms.iter().copied().fold(0.0, f64::max))
                .collect::<Vec<_>>(),
        ),
        speedup_vs_one_device: median(&speedup),
        parallel_cpu_cores: median(&per_round.iter().map(|round| round.parallel_cpu_cores).collect::<Vec<_>>()),
        full_core_rounds: full.iter().filter(|full| **full).count(),
        full_core_parallel_vs_slowest: only_full(&against_slowest),
        full_core_speedup_vs_one_device: only_full(&speedup),
        per_round,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        let figures = distribution(&values);
        assert_eq!(figures.samples, 1000);
        assert!((figures.p50_ms - 500.0).abs() < f64::EPSILON);
        assert!((figures.p99_ms - 990.0).abs() < f64::EPSILON);
        assert!((figures.max_ms - 1000.0).abs() < f64::EPSILON);
        assert!(distribution(&[]).p50_ms.is_nan());
    }

    #[test]
    fn cpu_time_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let spent = process_cpu_seconds().unwrap();
            assert!(spent >= 0.0);
        }
    }

    #[test]
    fn nonsense_options_are_refused() {
        let options = NetworkBenchOptions { requests: 0, ..NetworkBenchOptions::default() };
        assert!(matches!(bench_network(&options), Err(NodeError::InvalidBench(_))));
    }
}
