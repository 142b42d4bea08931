//! The k-peers figure: k sub-tasks on k peers against the slowest alone and
//! against one device doing them one after another.

use std::time::Instant;

use chorus_net::{Network, PeerId};
use chorus_node::NodeError;

use super::report::{ParallelFigures, ParallelRound, median};
use super::{NetworkBenchOptions, SUBTASKS, cores_since, request, timed_task};
use crate::procfs::process_cpu_seconds;
use crate::stats::millis_f64 as millis;

pub(super) async fn parallel_figures(
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
