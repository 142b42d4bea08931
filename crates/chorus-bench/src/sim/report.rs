//! What a simulation found, per phase, as a Markdown table or JSON.

use std::fmt::Write as _;

use serde::Serialize;

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
