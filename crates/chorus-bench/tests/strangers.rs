//! Strangers in a small network simulation: a fifth of the nodes provide
//! every specialist, claim a million tokens a second and 64 free slots, and
//! fail or hang every task; requesters place tasks as a node does. (The
//! 200-node figures: `chorus sim --nodes 200 --hostile 0.2`, BENCHMARKS.md.)
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use chorus_bench::{SimConfig, simulate};

/// What the requester's rules hold to with a fifth of the nodes hostile:
/// every lookup finds an honest provider (a key's list of 20 is not full
/// here), a failure moves the task on to another node, so at least three
/// tasks in four end answered; a hostile node that failed a requester gets
/// under 5 % of its later attempts (the requester's own records choose whom
/// it asks, a demoted node only when no one else is left); and a pair's later
/// tasks go to hostile nodes less often than its first. (How often a pair's
/// later tasks still meet *other* hostile nodes depends on how many of them
/// there are among the providers: BENCHMARKS.md, "Strangers".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nodes_with_a_fifth_hostile_still_get_their_tasks_answered() {
    let config = SimConfig {
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
    };
    let started = std::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(120), simulate(config))
        .await
        .expect("the simulation ends")
        .expect("the simulation runs");
    println!("{}", report.to_markdown());
    println!("in {:.1} s", started.elapsed().as_secs_f64());

    let tasks = &report.tasks;
    assert_eq!(report.hostile, 5, "a fifth of the 26 nodes that do not request");
    assert_eq!((tasks.tasks, tasks.pairs), (4 * 3 * 4, 4 * 3));
    assert!(tasks.attempts_on_hostile > 0, "no hostile node was tried: nothing was tested");
    assert!(tasks.after_failure_placements > 0, "no pair saw a hostile node fail: nothing was tested");
    assert_eq!(tasks.lookups_with_honest, tasks.lookups, "a lookup found only hostile providers");
    for phase in &report.phases {
        assert_eq!(
            phase.honest_any_provider, phase.lookups,
            "{:?}: a lookup found only hostile providers",
            phase.phase
        );
    }
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
