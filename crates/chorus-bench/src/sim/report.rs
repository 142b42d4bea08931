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
    /// Lookups whose first provider returned was live and honest (not one
    /// of the hostile nodes); equal to `live_first_provider` without them.
    pub honest_first_provider: usize,
    /// Lookups that returned at least one live, honest provider.
    pub honest_any_provider: usize,
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
    /// `cpu_total_s / nodes`, milliseconds: what one node cost, joining,
    /// announcing, answering others' lookups and keeping its connections.
    pub cpu_per_node_ms: f64,
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
    /// Hostile nodes (`--hostile`): they provide every specialist, lie in
    /// their status and never answer a task.
    pub hostile: usize,
    /// Lookups on the healthy network for several numbers of providers
    /// asked for, measured against the hostile provider records.
    pub lookup_sweep: Vec<LookupSweep>,
    /// The placement phase: tasks run as a node runs them.
    pub tasks: TaskReport,
}

/// Lookups asking for a given number of providers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookupSweep {
    /// Providers asked for (`find_providers(specialist, want)`); `None`:
    /// as many as the query finds, so it asks every peer it can.
    pub want: Option<usize>,
    /// Lookups made.
    pub lookups: usize,
    /// Lookups that returned at least one live, honest provider.
    pub with_honest: usize,
    /// `with_honest / lookups`: the lookups' success with hostile providers
    /// present.
    pub honest_rate: f64,
    /// Lookups whose first provider was live and honest.
    pub honest_first: usize,
    /// Providers returned per lookup: mean.
    pub providers_mean: f64,
    /// Of the providers returned, the share that was live and honest.
    pub honest_share: f64,
    /// Time to the answer, milliseconds: median.
    pub latency_ms_p50: f64,
    /// Time to the answer, milliseconds: 99th percentile.
    pub latency_ms_p99: f64,
}

/// The placement phase: each requester runs tasks on the providers of a
/// few specialists as a node does (lookup, status probes, chorus-core's
/// ranking with what its own store measured, a deadline per attempt, the
/// next candidate after a failure).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskReport {
    /// Hostile nodes in the network.
    pub hostile: usize,
    /// Whether they stated an honest provider's figures (else figures no
    /// device reaches, which break the protocol).
    pub hostile_plausible: bool,
    /// Status answers of hostile nodes that broke the protocol: each
    /// demoted its node in the requester's store, before any task of it.
    pub status_faults_hostile: usize,
    /// Status answers of honest nodes that broke the protocol (should be 0).
    pub status_faults_honest: usize,
    /// Trial tasks sent to hostile nodes (a requester tries a peer that never
    /// answered it once a provider of the specialist failed it).
    pub trials_hostile: usize,
    /// Of those, passed (should be 0: hostile nodes answer nothing).
    pub trials_hostile_passed: usize,
    /// Trial tasks sent to honest nodes.
    pub trials_honest: usize,
    /// Of those, passed.
    pub trials_honest_passed: usize,
    /// (requester, specialist) pairs; each ran its tasks one after another.
    pub pairs: usize,
    /// Tasks run.
    pub tasks: usize,
    /// Tasks that ended answered (after retries).
    pub answered: usize,
    /// `answered / tasks`.
    pub answered_rate: f64,
    /// Tasks that found no candidate at all (no provider answered a probe).
    pub unplaced: usize,
    /// Attempts in all (a task makes at most `max_attempts`).
    pub attempts: usize,
    /// Attempts placed on hostile nodes.
    pub attempts_on_hostile: usize,
    /// Attempts placed on a hostile node that had already failed this
    /// requester (and so was demoted: ranked after every other candidate
    /// probed): the goal read per node.
    pub attempts_on_failed_hostile: usize,
    /// Attempts on honest nodes that failed all the same (busy, or over the
    /// deadline on a loaded machine): such a node is demoted too.
    pub honest_failed: usize,
    /// First attempts of each pair's first task: placed before the pair
    /// had seen any outcome.
    pub first_placements: usize,
    /// Of those, placed on hostile nodes.
    pub first_on_hostile: usize,
    /// `first_on_hostile / first_placements`.
    pub first_hostile_share: f64,
    /// First attempts of the pair's later tasks, once the pair had seen a
    /// hostile node fail (goal: under 5 % of them on hostile nodes).
    pub after_failure_placements: usize,
    /// Of those, placed on hostile nodes.
    pub after_failure_on_hostile: usize,
    /// `after_failure_on_hostile / after_failure_placements`.
    pub after_failure_hostile_share: f64,
    /// Second and later attempts of a task (each right after a failure).
    pub retries: usize,
    /// Of those, placed on hostile nodes.
    pub retries_on_hostile: usize,
    /// Provider lookups the requesters made (the others were cached).
    pub lookups: usize,
    /// Of those, the ones that returned at least one live, honest provider.
    pub lookups_with_honest: usize,
    /// `lookups_with_honest / lookups` (goal: 100 %).
    pub lookup_honest_rate: f64,
    /// Time of a task with its retries, milliseconds: median.
    pub task_ms_p50: f64,
    /// Time of a task with its retries, milliseconds: 99th percentile.
    pub task_ms_p99: f64,
    /// Wall time of the phase, milliseconds.
    pub wall_ms: u64,
    /// Providers each lookup asked for.
    pub providers_wanted: usize,
    /// Providers asked for their status per attempt.
    pub probes: usize,
    /// Attempts per task, the first included.
    pub max_attempts: u32,
    /// Deadline of one attempt, milliseconds (a hang is cut there).
    pub task_deadline_ms: u64,
    /// Tokens an honest provider answers.
    pub answer_tokens: u32,
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
             reached the DHT); CPU {:.1} s to get there, {:.1} s in all ({:.0} ms a node); wall {:.1} s. \
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
            self.cpu_per_node_ms,
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
        self.tasks_markdown(&mut out);
        out
    }

    /// The placement phase and the lookup sweep, as Markdown.
    fn tasks_markdown(&self, out: &mut String) {
        let tasks = &self.tasks;
        let _ = writeln!(out);
        let claims = if tasks.hostile_plausible {
            "an honest provider's speed and slots".to_owned()
        } else {
            format!(
                "{:.0e} tokens/s and {} free slots",
                f64::from(super::services::HOSTILE_TOKENS_PER_S),
                super::services::HOSTILE_SLOTS
            )
        };
        let _ = writeln!(
            out,
            "Placement on the healthy network: {} hostile nodes (every specialist, a status claiming {claims}, \
             every task failed or hung); {} requester × specialist pairs, {} tasks one after another \
             per pair; honest answers of {} tokens; {} providers looked for, {} probed, at most {} attempts of {:.1} s each. \
             Statuses that broke the protocol (each demotes its node): {} from hostile nodes, {} from honest ones. \
             Trial tasks: {} on hostile nodes ({} passed), {} on honest ones ({} passed).",
            tasks.hostile,
            tasks.pairs,
            tasks.tasks,
            tasks.answer_tokens,
            tasks.providers_wanted,
            tasks.probes,
            tasks.max_attempts,
            secs(tasks.task_deadline_ms),
            tasks.status_faults_hostile,
            tasks.status_faults_honest,
            tasks.trials_hostile,
            tasks.trials_hostile_passed,
            tasks.trials_honest,
            tasks.trials_honest_passed,
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| tasks | answered | unplaced | first placement on hostile | after a failure: on hostile | retries on hostile | all attempts on hostile | on a hostile node that had failed | honest attempts failed | lookups with an honest provider | task p50 / p99 (ms) | wall (s) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} / {:.0} | {:.1} |",
            tasks.tasks,
            share(tasks.answered, tasks.tasks),
            tasks.unplaced,
            share(tasks.first_on_hostile, tasks.first_placements),
            share(tasks.after_failure_on_hostile, tasks.after_failure_placements),
            share(tasks.retries_on_hostile, tasks.retries),
            share(tasks.attempts_on_hostile, tasks.attempts),
            share(tasks.attempts_on_failed_hostile, tasks.attempts),
            tasks.honest_failed,
            share(tasks.lookups_with_honest, tasks.lookups),
            tasks.task_ms_p50,
            tasks.task_ms_p99,
            secs(tasks.wall_ms),
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| providers asked for | lookups | with an honest provider | honest first | providers returned (mean) | honest among them | p50 / p99 (ms) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for sweep in &self.lookup_sweep {
            let want = sweep.want.map_or_else(|| "all".to_owned(), |want| want.to_string());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {:.1} % | {:.0} / {:.0} |",
                want,
                sweep.lookups,
                share(sweep.with_honest, sweep.lookups),
                sweep.honest_first,
                sweep.providers_mean,
                sweep.honest_share * 100.0,
                sweep.latency_ms_p50,
                sweep.latency_ms_p99,
            );
        }
    }
}

/// `part/whole (x.x %)`.
#[allow(clippy::cast_precision_loss)]
fn share(part: usize, whole: usize) -> String {
    if whole == 0 {
        format!("{part}/0")
    } else {
        format!("{part}/{whole} ({:.1} %)", part as f64 * 100.0 / whole as f64)
    }
}

#[allow(clippy::cast_precision_loss)]
fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
