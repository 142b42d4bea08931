//! What a simulation simulates: network size, workload, failures, node settings.

use std::time::Duration;

use chorus_net::{Multiaddr, NetConfig};

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
    /// Fraction of the nodes other than the requesters that are hostile:
    /// each provides every specialist, says in its status that it runs a
    /// million tokens a second with 64 free slots, and answers every task
    /// with an error or by hanging (every other task each).
    pub hostile_fraction: f64,
    /// Whether hostile nodes state what an honest provider states (its speed
    /// and slots) instead of figures no device reaches: the liar that reads
    /// the protocol's limits.
    pub hostile_plausible: bool,
    /// Specialists each requester runs tasks on in the placement phase.
    pub task_specialists: usize,
    /// Tasks each requester runs on each of them, one after another.
    pub tasks_per_specialist: usize,
    /// Most (requester, specialist) pairs running their tasks at once; with
    /// at least as many as there are pairs, every pair's first task starts
    /// together, before its requester saw (nearly) any outcome.
    pub task_concurrency: usize,
    /// Deadline of one attempt of a task: a hang is cut there.
    pub task_deadline: Duration,
    /// Attempts per task, the first included; each goes to the best
    /// candidate not tried yet.
    pub task_attempts: u32,
    /// Tokens an honest provider answers a task with.
    pub answer_tokens: u32,
    /// Pause before each token of an honest answer.
    pub token_interval: Duration,
    /// Tasks an honest provider runs at once.
    pub honest_slots: u32,
    /// Providers each lookup of the placement phase asks for (a node asks
    /// for `requester_rules::PROVIDERS_WANTED`).
    pub providers_wanted: usize,
    /// Providers asked for their status per attempt (a node asks
    /// `requester_rules::PROBES`).
    pub probes: usize,
    /// Lookups measured for each number of providers asked for, against the
    /// hostile provider records (0: none, no sweep).
    pub sweep_lookups: usize,
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
            hostile_fraction: 0.0,
            hostile_plausible: false,
            task_specialists: 4,
            tasks_per_specialist: 5,
            task_concurrency: 64,
            task_deadline: Duration::from_secs(2),
            task_attempts: 3,
            answer_tokens: 32,
            token_interval: Duration::from_millis(2),
            honest_slots: 4,
            providers_wanted: chorus_node::requester_rules::PROVIDERS_WANTED,
            probes: chorus_node::requester_rules::PROBES,
            sweep_lookups: 100,
            seed: 1,
            net: NetConfig::memory(memory_any()),
        }
    }
}

/// `/memory/0`: any free address of the memory transport.
pub(super) fn memory_any() -> Multiaddr {
    Multiaddr::empty().with(libp2p::multiaddr::Protocol::Memory(0))
}
