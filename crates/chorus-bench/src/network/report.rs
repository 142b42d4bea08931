//! What `chorus bench --network` reports (field names are its `--json`
//! interface), and the distribution of a figure's samples.

use chorus_node::NodeConfig;
use serde::Serialize;

use crate::stats::percentile;

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

#[allow(clippy::cast_precision_loss)]
pub(crate) fn distribution(values: &[f64]) -> Distribution {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|value| value.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = |fraction: f64| -> f64 { percentile(&sorted, fraction).unwrap_or(f64::NAN) };
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

pub(super) fn median(values: &[f64]) -> f64 {
    distribution(values).p50_ms
}
