//! Strangers in a small network simulation: a fifth of the nodes provide
//! every specialist, claim a million tokens a second and 64 free slots (or,
//! plausible, what an honest provider claims), and fail or hang every task;
//! requesters place tasks as a node does. (The 200-node figures:
//! `chorus sim --nodes 200 --hostile 0.2 [--hostile-plausible]`,
//! BENCHMARKS.md.)
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use chorus_bench::{SimConfig, simulate};

fn config(hostile_plausible: bool) -> SimConfig {
    SimConfig {
        nodes: 30,
        seeds: 2,
        specialists: 6,
        providers_per_specialist: 3,
        requesters: 4,
        lookups_per_phase: 8,
        phase_duration: Duration::from_millis(500),
        crash_fraction: 0.0,
        hang_fraction: 0.0,
        hostile_fraction: 0.2,
        hostile_plausible,
        task_specialists: 3,
        tasks_per_specialist: 4,
        sweep_lookups: 0,
        join_batch: 10,
        join_interval: Duration::from_millis(100),
        settle: Duration::from_secs(3),
        quiet_cores: 0.3,
        failure_settle: Duration::from_millis(500),
        seed: 11,
        ..SimConfig::default()
    }
}

async fn run(config: SimConfig) -> chorus_bench::SimReport {
    let started = std::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(120), simulate(config))
        .await
        .expect("the simulation ends")
        .expect("the simulation runs");
    println!("{}", report.to_markdown());
    println!("in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(report.hostile, 5, "a fifth of the 26 nodes that do not request");
    assert_eq!((report.tasks.tasks, report.tasks.pairs), (4 * 3 * 4, 4 * 3));
    assert_eq!(report.tasks.lookups_with_honest, report.tasks.lookups, "a lookup found only hostile providers");
    for phase in &report.phases {
        assert_eq!(
            phase.honest_any_provider, phase.lookups,
            "{:?}: a lookup found only hostile providers",
            phase.phase
        );
    }
    assert_eq!(report.tasks.status_faults_honest, 0, "an honest status was taken for a lie");
    report
}

/// Strangers whose status claims what no device does (a million tokens a
/// second) break the protocol with their first answer: each is demoted
/// before any task goes to it, so under 5 % of all placements, first ones
/// included, reach a hostile node, and every task is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_claiming_the_impossible_are_demoted_before_any_task() {
    let report = run(config(false)).await;
    let tasks = &report.tasks;
    assert!(tasks.status_faults_hostile > 0, "no hostile status was probed: nothing was tested");
    assert!(
        tasks.attempts_on_hostile * 20 < tasks.attempts,
        "{} of {} attempts went to hostile nodes",
        tasks.attempts_on_hostile,
        tasks.attempts
    );
    assert!(
        tasks.first_on_hostile * 20 < tasks.first_placements.max(1),
        "{} of {} first placements went to hostile nodes",
        tasks.first_on_hostile,
        tasks.first_placements
    );
    assert_eq!(tasks.answered, tasks.tasks, "{} of {} tasks answered", tasks.answered, tasks.tasks);
}

/// What the requester's rules hold to with a fifth of the nodes hostile and
/// claiming no more than honest providers do: every lookup finds an honest
/// provider (a key's list of 20 is not full here), a failure moves the task
/// on to another node, so at least three tasks in four end answered; a
/// hostile node that failed a requester gets under 5 % of its later
/// attempts (the requester's own records choose whom it asks, a demoted node
/// only when no one else is left); and once a provider of the specialist
/// failed, a stranger gets a task only after it passed a trial task, so
/// under 5 % of the placements after a failure reach a hostile node (the
/// first placements still do: nothing tells the liars apart before then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nodes_with_a_fifth_plausible_liars_still_get_their_tasks_answered() {
    let report = run(config(true)).await;
    let tasks = &report.tasks;
    assert_eq!(tasks.status_faults_hostile, 0, "a plausible status was taken for a lie");
    assert!(tasks.trials_hostile > 0 && tasks.trials_honest > 0, "no trial on both kinds: nothing was tested");
    assert_eq!(tasks.trials_hostile_passed, 0, "a hostile node passed a trial it failed");
    // The goal: once a pair saw a failure, its placements (later tasks and
    // retries) go to strangers only after a trial they pass.
    let after = tasks.after_failure_placements + tasks.retries;
    let on_hostile = tasks.after_failure_on_hostile + tasks.retries_on_hostile;
    assert!(on_hostile * 20 < after, "{on_hostile} of {after} placements after a failure went to hostile nodes");
    assert!(tasks.attempts_on_hostile > 0, "no hostile node was tried: nothing was tested");
    assert!(tasks.after_failure_placements > 0, "no pair saw a hostile node fail: nothing was tested");
    assert!(
        tasks.attempts_on_failed_hostile * 20 < tasks.attempts,
        "{} of {} attempts went to a hostile node that had already failed the requester",
        tasks.attempts_on_failed_hostile,
        tasks.attempts
    );
    assert!(tasks.answered * 4 >= tasks.tasks * 3, "{} of {} tasks answered", tasks.answered, tasks.tasks);
    assert!(
        tasks.after_failure_hostile_share < tasks.first_hostile_share,
        "placements learnt nothing from failures: {:.1} % on hostile nodes first, {:.1} % after a failure",
        tasks.first_hostile_share * 100.0,
        tasks.after_failure_hostile_share * 100.0
    );
}
