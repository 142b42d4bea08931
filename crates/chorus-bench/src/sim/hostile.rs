//! Strangers: who is hostile, the placement phase (tasks run as a node
//! runs them, on a network where hostile nodes provide every specialist)
//! and the lookups measured against hostile provider records, for several
//! numbers of providers asked for.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chorus_net::{MAX_PROVIDERS_PER_KEY, NetError, PeerId};
use chorus_node::requester_rules as rules;
use futures::StreamExt as _;

use super::report::{LookupSweep, TaskReport};
use super::rng::Rng;
use super::tasks::{Asker, TaskRun};
use super::{Health, Node, Workload, fraction};
use crate::stats::{millis, percentile};

/// Hostile nodes: `fraction` of the nodes that do not request, drawn among
/// those that provide nothing honestly (a node is one or the other).
///
/// # Errors
/// [`NetError::Start`] when too few nodes provide nothing.
pub(super) fn pick_hostile(
    nodes: usize,
    requesters: &[usize],
    provided: &[BTreeSet<String>],
    share: f64,
    rng: &mut Rng,
) -> Result<Vec<usize>, NetError> {
    let count = fraction(nodes.saturating_sub(requesters.len()), share);
    let mut pool: Vec<usize> =
        (0..nodes).filter(|index| !requesters.contains(index) && provided[*index].is_empty()).collect();
    if pool.len() < count {
        return Err(NetError::Start(format!(
            "simulation needs {count} nodes that provide nothing to make hostile, has {}",
            pool.len()
        )));
    }
    rng.shuffle(&mut pool);
    pool.truncate(count);
    pool.sort_unstable();
    Ok(pool)
}

/// Whether `peer` is one of the simulation's hostile nodes.
fn is_hostile(work: &Workload<'_>, peer: &PeerId) -> bool {
    work.by_peer.get(peer).is_some_and(|&index| work.hostile[index])
}

/// Whether `peer` is an honest node that is up.
fn is_honest(work: &Workload<'_>, nodes: &[Node], peer: &PeerId) -> bool {
    work.by_peer.get(peer).is_some_and(|&index| !work.hostile[index] && nodes[index].health == Health::Up)
}

/// One task of a (requester, specialist) pair, with what the pair had seen.
struct PairTask {
    /// Its place among the pair's tasks (0: the first).
    order: usize,
    /// Whether the pair had seen a hostile node fail before it started.
    after_failure: bool,
    run: TaskRun,
}

/// The placement phase: each requester runs `tasks_per_specialist` tasks,
/// one after another, on each of `task_specialists` specialists it does not
/// provide; the pairs run side by side.
///
/// # Errors
/// [`NetError::Start`] when a requester's store cannot be opened.
pub(super) async fn run_tasks(work: Workload<'_>, nodes: &[Node], rng: &mut Rng) -> Result<TaskReport, NetError> {
    let config = work.config;
    let started = Instant::now();
    let askers: Vec<Asker> = work
        .requesters
        .iter()
        .map(|&index| Asker::new(nodes[index].network.clone(), config))
        .collect::<Result<_, _>>()?;
    let mut pairs = Vec::new();
    for (asker, &requester) in askers.iter().zip(work.requesters) {
        let mut wanted: Vec<&String> =
            work.specialists.iter().filter(|specialist| !work.provided[requester].contains(*specialist)).collect();
        rng.shuffle(&mut wanted);
        pairs.extend(wanted.into_iter().take(config.task_specialists).map(|specialist| (asker, specialist.clone())));
    }
    let pair_count = pairs.len();
    let work = &work;
    let runs: Vec<Vec<PairTask>> = futures::stream::iter(pairs)
        .map(|(asker, specialist)| async move {
            let mut seen_failure = false;
            let mut tasks = Vec::with_capacity(config.tasks_per_specialist);
            for order in 0..config.tasks_per_specialist {
                let run = asker.run_task(&specialist, config.task_attempts, config.task_deadline).await;
                let after_failure = seen_failure;
                seen_failure |= run.attempts.iter().any(|attempt| !attempt.answered && is_hostile(work, &attempt.peer));
                tasks.push(PairTask { order, after_failure, run });
            }
            tasks
        })
        .buffer_unordered(config.task_concurrency.max(1))
        .collect()
        .await;
    let lookups: Vec<Vec<PeerId>> =
        askers.iter().flat_map(|asker| asker.lookups.lock().map(|found| found.clone()).unwrap_or_default()).collect();
    let faults: Vec<PeerId> = askers
        .iter()
        .flat_map(|asker| asker.status_faults.lock().map(|faults| faults.clone()).unwrap_or_default())
        .collect();
    let mut report = summarize(work, nodes, &runs.into_iter().flatten().collect::<Vec<_>>(), &lookups);
    report.status_faults_hostile = faults.iter().filter(|peer| is_hostile(work, peer)).count();
    report.status_faults_honest = faults.len() - report.status_faults_hostile;
    let trials: Vec<(PeerId, rules::Trial)> =
        askers.iter().flat_map(|asker| asker.trials.lock().map(|trials| trials.clone()).unwrap_or_default()).collect();
    let (on_hostile, on_honest): (Vec<_>, Vec<_>) = trials.iter().partition(|(peer, _)| is_hostile(work, peer));
    report.trials_hostile = on_hostile.len();
    report.trials_hostile_passed = on_hostile.iter().filter(|(_, outcome)| *outcome == rules::Trial::Passed).count();
    report.trials_honest = on_honest.len();
    report.trials_honest_passed = on_honest.iter().filter(|(_, outcome)| *outcome == rules::Trial::Passed).count();
    report.pairs = pair_count;
    report.wall_ms = millis(started.elapsed());
    Ok(report)
}

fn summarize(work: &Workload<'_>, nodes: &[Node], tasks: &[PairTask], lookups: &[Vec<PeerId>]) -> TaskReport {
    let config = work.config;
    let hostile = |peer: &PeerId| is_hostile(work, peer);
    let first_on = |task: &&PairTask| task.run.attempts.first().map(|attempt| attempt.peer);
    let firsts: Vec<PeerId> = tasks.iter().filter(|task| task.order == 0).filter_map(|task| first_on(&task)).collect();
    let after: Vec<PeerId> =
        tasks.iter().filter(|task| task.order > 0 && task.after_failure).filter_map(|task| first_on(&task)).collect();
    let retries: Vec<PeerId> =
        tasks.iter().flat_map(|task| task.run.attempts.iter().skip(1).map(|attempt| attempt.peer)).collect();
    let attempts: Vec<PeerId> =
        tasks.iter().flat_map(|task| task.run.attempts.iter().map(|attempt| attempt.peer)).collect();
    let answered = tasks.iter().filter(|task| task.run.answered()).count();
    let with_honest = lookups.iter().filter(|found| found.iter().any(|peer| is_honest(work, nodes, peer))).count();
    let mut latency: Vec<f64> = tasks.iter().map(|task| task.run.elapsed.as_secs_f64() * 1000.0).collect();
    latency.sort_by(f64::total_cmp);
    let on_hostile = |peers: &[PeerId]| peers.iter().filter(|peer| hostile(peer)).count();
    TaskReport {
        hostile: work.hostile.iter().filter(|&&hostile| hostile).count(),
        hostile_plausible: config.hostile_plausible,
        status_faults_hostile: 0,
        status_faults_honest: 0,
        trials_hostile: 0,
        trials_hostile_passed: 0,
        trials_honest: 0,
        trials_honest_passed: 0,
        pairs: 0,
        tasks: tasks.len(),
        answered,
        answered_rate: ratio(answered, tasks.len()),
        unplaced: tasks.iter().filter(|task| task.run.attempts.is_empty()).count(),
        attempts: attempts.len(),
        attempts_on_hostile: on_hostile(&attempts),
        attempts_on_failed_hostile: tasks
            .iter()
            .flat_map(|task| &task.run.attempts)
            .filter(|attempt| attempt.failed_before && hostile(&attempt.peer))
            .count(),
        honest_failed: tasks
            .iter()
            .flat_map(|task| &task.run.attempts)
            .filter(|attempt| !attempt.answered && !hostile(&attempt.peer))
            .count(),
        first_placements: firsts.len(),
        first_on_hostile: on_hostile(&firsts),
        first_hostile_share: ratio(on_hostile(&firsts), firsts.len()),
        after_failure_placements: after.len(),
        after_failure_on_hostile: on_hostile(&after),
        after_failure_hostile_share: ratio(on_hostile(&after), after.len()),
        retries: retries.len(),
        retries_on_hostile: on_hostile(&retries),
        lookups: lookups.len(),
        lookups_with_honest: with_honest,
        lookup_honest_rate: ratio(with_honest, lookups.len()),
        task_ms_p50: percentile(&latency, 0.50).unwrap_or(0.0),
        task_ms_p99: percentile(&latency, 0.99).unwrap_or(0.0),
        wall_ms: 0,
        providers_wanted: config.providers_wanted,
        probes: config.probes,
        max_attempts: config.task_attempts,
        task_deadline_ms: millis(config.task_deadline),
        answer_tokens: config.answer_tokens,
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Lookups for random specialists from the requesters, `lookups` for each
/// number of providers asked for: 1, the requester's own number, a full
/// provider list (20) and everything the query finds.
pub(super) async fn sweep(work: Workload<'_>, nodes: &[Node], rng: &mut Rng) -> Vec<LookupSweep> {
    let config = work.config;
    let mut wants: Vec<Option<usize>> = vec![Some(1), Some(config.providers_wanted), Some(MAX_PROVIDERS_PER_KEY), None];
    wants.dedup();
    if config.sweep_lookups == 0 {
        wants.clear();
    }
    let mut sweeps = Vec::with_capacity(wants.len());
    for want in wants {
        let mut plan = Vec::with_capacity(config.sweep_lookups);
        for lookup in 0..config.sweep_lookups {
            let requester = work.requesters[lookup % work.requesters.len()];
            let wanted: Vec<&String> =
                work.specialists.iter().filter(|specialist| !work.provided[requester].contains(*specialist)).collect();
            if !wanted.is_empty() {
                plan.push((requester, wanted[rng.below(wanted.len())].clone()));
            }
        }
        let found: Vec<(Vec<PeerId>, Duration)> = futures::stream::iter(plan)
            .map(|(requester, specialist)| async move {
                let began = Instant::now();
                let lookup = tokio::time::timeout(
                    config.lookup_timeout,
                    nodes[requester].network.find_providers(&specialist, want.unwrap_or(usize::MAX)),
                )
                .await;
                let providers = match lookup {
                    Ok(Ok(lookup)) => lookup.providers,
                    Ok(Err(_)) | Err(_) => Vec::new(),
                };
                (providers, began.elapsed())
            })
            .buffer_unordered(config.lookup_concurrency.max(1))
            .collect()
            .await;
        sweeps.push(sweep_report(&work, nodes, want, &found));
    }
    sweeps
}

fn sweep_report(
    work: &Workload<'_>,
    nodes: &[Node],
    want: Option<usize>,
    found: &[(Vec<PeerId>, Duration)],
) -> LookupSweep {
    let honest = |peer: &PeerId| is_honest(work, nodes, peer);
    let with_honest = found.iter().filter(|(providers, _)| providers.iter().any(honest)).count();
    let honest_first = found.iter().filter(|(providers, _)| providers.first().is_some_and(honest)).count();
    let returned: usize = found.iter().map(|(providers, _)| providers.len()).sum();
    let honest_returned: usize =
        found.iter().map(|(providers, _)| providers.iter().filter(|p| honest(p)).count()).sum();
    let mut latency: Vec<f64> = found.iter().map(|(_, elapsed)| elapsed.as_secs_f64() * 1000.0).collect();
    latency.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let providers_mean = if found.is_empty() { 0.0 } else { returned as f64 / found.len() as f64 };
    LookupSweep {
        want,
        lookups: found.len(),
        with_honest,
        honest_rate: ratio(with_honest, found.len()),
        honest_first,
        providers_mean,
        honest_share: ratio(honest_returned, returned),
        latency_ms_p50: percentile(&latency, 0.50).unwrap_or(0.0),
        latency_ms_p99: percentile(&latency, 0.99).unwrap_or(0.0),
    }
}
