//! The conductor on the real embedded model: a simple query goes straight
//! to one specialist; a composite one is planned, run in parallel and
//! synthesised; plans are valid JSON on 20 of 20 seeds; all is journaled.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use chorus_core::{ConductorEvent, QueryStatus, RawPlan, SubtaskStatus};
use chorus_node::{Node, NodeConfig};

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/setup.sh first: {} is missing", path.display());
    path
}

fn node(data: &tempfile::TempDir) -> Node {
    Node::start(NodeConfig {
        model: Some(model_path()),
        // One thread: tests run side by side on two cores.
        threads: Some(1),
        data_dir: Some(data.path().to_path_buf()),
        ..NodeConfig::default()
    })
    .expect("node starts")
}

async fn collect(node: &Node, query: &str) -> (chorus_core::QueryId, Vec<ConductorEvent>) {
    let mut conversation = node.conduct(query).expect("query starts");
    let mut events = Vec::new();
    while let Some(event) = conversation.events.recv().await {
        events.push(event);
    }
    (conversation.query_id, events)
}

const COMPOSITE: &str = "Write a short marketing plan for a new budgeting app, with the pricing maths for three tiers and a Spanish tagline.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simple_query_goes_straight_to_one_specialist() {
    let data = tempfile::tempdir().expect("temp dir");
    let node = node(&data);
    let (id, events) = collect(&node, "How do I reverse a list in Python?").await;
    let ConductorEvent::Analysis { kind, specialists, .. } = &events[0] else { panic!("first event: {:?}", events[0]) };
    assert_eq!(kind, "simple");
    assert_eq!(specialists, &vec!["software.python".to_owned()]);
    assert!(!events.iter().any(|event| matches!(event, ConductorEvent::Plan { .. })), "no plan for a simple query");
    let Some(ConductorEvent::Done { answer, subtasks, .. }) = events.last() else {
        panic!("last event: {:?}", events.last())
    };
    assert!(!answer.trim().is_empty());
    assert_eq!(subtasks.len(), 1);
    assert_eq!(subtasks[0].specialist, "software.python");
    assert_eq!(subtasks[0].executor, "local");
    assert_eq!(subtasks[0].status, SubtaskStatus::Done);
    let streamed: String = events
        .iter()
        .filter_map(|event| match event {
            ConductorEvent::Token { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(&streamed, answer, "the answer streamed token by token");
    // Journaled.
    let record = node.store().query(id).expect("read").expect("present");
    assert_eq!(record.status, QueryStatus::Done);
    assert_eq!(record.answer.as_deref(), Some(answer.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composite_query_is_planned_run_in_parallel_and_synthesised() {
    let data = tempfile::tempdir().expect("temp dir");
    let node = node(&data);
    let (id, events) = collect(&node, COMPOSITE).await;
    let ConductorEvent::Analysis { kind, .. } = &events[0] else { panic!("first event: {:?}", events[0]) };
    assert_eq!(kind, "composite");
    let Some(ConductorEvent::Plan { subtasks, source, repairs, .. }) =
        events.iter().find(|event| matches!(event, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan: {events:?}")
    };
    eprintln!("plan ({source:?}, repairs {repairs:?}):");
    for step in subtasks {
        eprintln!("  {} {} <- {:?}: {}", step.index, step.specialist, step.depends_on, step.task);
    }
    assert!(subtasks.len() >= 2);
    let distinct: BTreeSet<&str> = subtasks.iter().map(|step| step.specialist.as_str()).collect();
    assert!(distinct.len() >= 2, "{distinct:?}");
    let Some(ConductorEvent::Done { answer, subtasks: reports, coverage, .. }) = events.last() else {
        panic!("last event: {:?}", events.last())
    };
    assert_eq!(reports.len(), subtasks.len());
    // Every part's substance is in the answer, and `done` says so.
    assert_eq!(coverage.len(), reports.len(), "{coverage:?}");
    for part in coverage {
        assert!(part.coverage >= chorus_core::MIN_PART_COVERAGE, "part {} lost: {coverage:?}\n{answer}", part.index);
    }
    for report in reports {
        assert_eq!(report.status, SubtaskStatus::Done, "{report:?}");
        assert!(report.tokens > 0 && !report.text.trim().is_empty());
    }
    assert!(!answer.trim().is_empty());
    // Independent sub-tasks ran at the same time (all started before any finished).
    let independent = subtasks.iter().filter(|step| step.depends_on.is_empty()).count();
    let first_done = events
        .iter()
        .position(|event| matches!(event, ConductorEvent::SubtaskDone { .. }))
        .expect("a sub-task finished");
    let started_before =
        events[..first_done].iter().filter(|event| matches!(event, ConductorEvent::SubtaskStarted { .. })).count();
    assert_eq!(started_before, independent, "independent sub-tasks start together");
    // The synthesis streamed after every sub-task was done.
    let last_subtask =
        events.iter().rposition(|event| matches!(event, ConductorEvent::SubtaskDone { .. })).expect("done");
    assert!(events[last_subtask..].iter().any(|event| matches!(event, ConductorEvent::Token { .. })));
    eprintln!("answer: {answer}");
    // The journal has the plan, the sub-task results and the answer.
    let record = node.store().query(id).expect("read").expect("present");
    assert_eq!(record.status, QueryStatus::Done);
    assert!(record.plan.is_some());
    assert_eq!(record.subtasks.len(), subtasks.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_json_is_valid_on_20_of_20_seeds() {
    let data = tempfile::tempdir().expect("temp dir");
    let node = node(&data);
    let conductor = node.conductor();
    let analysis = conductor.analyse(COMPOSITE).await.expect("analysis");
    assert!(analysis.is_composite());
    let reachable = conductor.reachable(COMPOSITE).await;
    let drafts =
        futures::future::join_all((1..=20u32).map(|seed| conductor.draft_plan(COMPOSITE, &analysis, seed))).await;
    let mut distinct = BTreeSet::new();
    let mut usable = 0;
    for (seed, draft) in (1..=20u32).zip(drafts) {
        let text = draft.expect("the planning model answers");
        let plan: RawPlan = serde_json::from_str(&text).unwrap_or_else(|error| panic!("seed {seed}: {error}: {text}"));
        assert!(!plan.subtasks.is_empty() && plan.subtasks.len() <= 4, "seed {seed}: {text}");
        for subtask in &plan.subtasks {
            assert!(reachable.contains(&subtask.specialist), "seed {seed}: {}", subtask.specialist);
            assert!(subtask.task.chars().count() >= 8);
        }
        let specialists: BTreeSet<&str> = plan.subtasks.iter().map(|s| s.specialist.as_str()).collect();
        if specialists.len() >= 2 {
            usable += 1;
        }
        eprintln!("seed {seed}: {} sub-tasks on {} specialists", plan.subtasks.len(), specialists.len());
        distinct.insert(text);
    }
    eprintln!("{usable} of 20 drafts name at least two specialists (the rest get repaired or replaced)");
    assert!(distinct.len() > 1, "seeds make different plans");
}
