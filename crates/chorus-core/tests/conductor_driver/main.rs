//! The conductor's driver with scripted executors (pure orchestration
//! logic: retries, deadlines, dependencies, events). The real model runs
//! the same driver in chorus-node's tests.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod compose;
mod conversation;
mod scripted;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_core::{Catalog, Conductor, ConductorConfig, ConductorEvent, Executor, PlanSource, SubtaskStatus};
use scripted::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn a_simple_query_runs_one_specialist_without_a_plan() {
    let local = Scripted::new("local", Behaviour::Answer);
    let conductor = conductor("{}", vec![local.clone()]);
    let events = run(&conductor, "Translate 'good morning' into Spanish").await;
    assert!(
        matches!(&events[0], ConductorEvent::Analysis { kind, specialists, .. } if kind == "simple" && specialists == &vec!["translate.es".to_owned()])
    );
    assert!(!events.iter().any(|event| matches!(event, ConductorEvent::Plan { .. })));
    assert_eq!(local.calls.load(Ordering::SeqCst), 1);
    let Some(ConductorEvent::Done { answer, subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(answer, "[translate.es via local]");
    assert_eq!(subtasks.len(), 1);
}

#[tokio::test]
async fn a_composite_query_is_planned_run_and_synthesised() {
    let plan = r#"{"subtasks":[
        {"specialist":"marketing.strategy","task":"Write a marketing plan for a budgeting app.","depends_on":[]},
        {"specialist":"finance.pricing","task":"Work out pricing tiers for a budgeting app.","depends_on":[]},
        {"specialist":"translate.es","task":"Write a Spanish tagline for a budgeting app.","depends_on":[1]}]}"#;
    let local = Scripted::new("local", Behaviour::Answer);
    let conductor = conductor(plan, vec![local.clone()]);
    let events = run(&conductor, COMPOSITE).await;
    let Some(ConductorEvent::Plan { subtasks, .. }) = events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan: {events:?}")
    };
    assert!(subtasks.len() >= 2);
    let Some(ConductorEvent::Done { answer, subtasks: reports, .. }) = events.last() else { panic!("no done") };
    assert!(answer.starts_with("SYNTHESIS of:"), "{answer}");
    assert!(reports.iter().all(|report| report.status == SubtaskStatus::Done), "{reports:?}");
    // The dependent sub-task saw its dependency's result, and nothing of
    // the other part's task.
    let seen = local.seen.lock().expect("lock").clone();
    let dependent = seen.iter().find(|prompt| prompt.contains("Use this result")).expect("a dependent prompt");
    assert!(dependent.contains(" via local]"), "{dependent}");
    assert!(!dependent.contains("pricing tiers"), "{dependent}");
}

#[tokio::test]
async fn a_failing_executor_is_retried_on_another() {
    let broken = Scripted::new("broken-peer", Behaviour::Fail);
    let local = Scripted::new("local", Behaviour::Answer);
    let conductor = conductor("{}", vec![broken.clone(), local.clone()]);
    let events = run(&conductor, "Translate 'good morning' into Spanish").await;
    assert!(events.iter().any(
        |e| matches!(e, ConductorEvent::SubtaskFailed { will_retry: true, executor, .. } if executor == "broken-peer")
    ));
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Done);
    assert_eq!(subtasks[0].executor, "local");
    assert_eq!(subtasks[0].attempts, 2);
}

#[tokio::test]
async fn a_lone_failing_executor_is_tried_again_but_a_refusing_one_is_not() {
    let broken = Scripted::new("local", Behaviour::Fail);
    let events = run(&conductor("{}", vec![broken.clone()]), "Translate 'good morning' into Spanish").await;
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Failed);
    assert_eq!(broken.calls.load(Ordering::SeqCst), 2, "a failure may pass: the only executor is asked again");

    let refusing = Scripted::new("local", Behaviour::Refuse);
    let events = run(&conductor("{}", vec![refusing.clone()]), "Translate 'good morning' into Spanish").await;
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Failed);
    assert_eq!(subtasks[0].error.as_deref(), Some("executor refused"));
    assert_eq!(refusing.calls.load(Ordering::SeqCst), 1, "a refusal is final for that executor");
}

#[tokio::test]
async fn a_hanging_sub_task_times_out_its_dependents_are_skipped_and_the_answer_says_so() {
    let plan = r#"{"subtasks":[
        {"specialist":"finance.pricing","task":"Work out pricing tiers for a budgeting app.","depends_on":[]},
        {"specialist":"marketing.strategy","task":"Write a marketing plan using the prices.","depends_on":[1]}]}"#;
    let hang = Scripted::new("local", Behaviour::Hang);
    let conductor = conductor(plan, vec![hang.clone()]);
    let events = run(&conductor, COMPOSITE).await;
    let Some(ConductorEvent::Done { answer, subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::TimedOut);
    assert_eq!(subtasks[0].attempts, 2, "retried once");
    assert_eq!(subtasks[1].status, SubtaskStatus::Skipped);
    assert!(answer.contains("could not be answered"), "{answer}");
    assert!(events.iter().any(|e| matches!(e, ConductorEvent::SubtaskSkipped { index: 1, .. })));
}

#[tokio::test]
async fn an_unusable_plan_is_replaced_by_a_fallback_from_the_clauses() {
    // Valid JSON, but everything on one specialist: not a plan for a composite query.
    let plan =
        r#"{"subtasks":[{"specialist":"general.assistant","task":"Do everything at once please.","depends_on":[]}]}"#;
    let local = Scripted::new("local", Behaviour::Answer);
    let events = run(&conductor(plan, vec![local]), COMPOSITE).await;
    let Some(ConductorEvent::Plan { source, subtasks, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan")
    };
    assert_eq!(*source, chorus_core::PlanSource::Fallback);
    let distinct: std::collections::BTreeSet<&str> = subtasks.iter().map(|s| s.specialist.as_str()).collect();
    assert!(distinct.len() >= 2, "{subtasks:?}");

    // A request no keyword matches is a part of the fallback too, for the
    // general assistant, never dropped.
    let query = "Write the landing page copy, give me a Python function that rounds amounts to cents; also explain \
how to bleed a radiator.";
    let local = Scripted::new("local", Behaviour::Answer);
    let events = run(&conductor(plan, vec![local]), query).await;
    let Some(ConductorEvent::Plan { subtasks, .. }) = events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan")
    };
    assert!(
        subtasks.iter().any(|step| step.specialist == "general.assistant" && step.task.contains("radiator")),
        "{subtasks:?}"
    );
}

#[tokio::test]
async fn dropping_the_event_receiver_cancels() {
    let local = Scripted::new("local", Behaviour::Hang);
    let conductor = conductor("{}", vec![local]);
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let result = conductor.ask("Translate 'hi' into Spanish", &tx).await;
    assert!(matches!(result, Err(chorus_core::ConductorError::Cancelled)));
}

#[tokio::test]
async fn a_plan_on_one_specialist_is_refitted_and_missing_parts_are_added() {
    // What small planners write: good tasks, all on the first specialist.
    let plan = r#"{"subtasks":[
        {"specialist":"marketing.strategy","task":"write a marketing plan for a new budgeting app","depends_on":[]},
        {"specialist":"marketing.strategy","task":"write a Spanish tagline for a new budgeting app","depends_on":[]}]}"#;
    let local = Scripted::new("local", Behaviour::Answer);
    let conductor = conductor(plan, vec![local]);
    let events = run(&conductor, COMPOSITE).await;
    let Some(ConductorEvent::Plan { source, subtasks, repairs, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan")
    };
    assert_eq!(*source, chorus_core::PlanSource::Repaired, "{repairs:?}");
    let specialists: Vec<&str> = subtasks.iter().map(|s| s.specialist.as_str()).collect();
    assert_eq!(specialists, vec!["marketing.strategy", "marketing.copywriting", "finance.pricing"], "{repairs:?}");
    assert!(subtasks[0].task.starts_with("write a marketing plan"), "the model's own tasks are kept");
}

/// A directory whose executors appear later (a peer joining) and which
/// records what each request excluded.
struct Appearing {
    executors: Mutex<Vec<Arc<dyn Executor>>>,
    excluded: Mutex<Vec<Vec<String>>>,
}

impl chorus_core::ExecutorDirectory for Appearing {
    fn reachable<'a>(
        &'a self,
        catalog: &'a Catalog,
        _interest: &'a [String],
    ) -> futures::future::BoxFuture<'a, std::collections::BTreeSet<String>> {
        // Every specialist is reachable through the network, even before a
        // peer that runs it is found.
        let all = catalog.specialists().iter().map(|specialist| specialist.id.clone()).collect();
        Box::pin(async move { all })
    }

    fn executors_for<'a>(
        &'a self,
        _specialist_id: &'a str,
        exclude: &'a [String],
    ) -> futures::future::BoxFuture<'a, Vec<Arc<dyn Executor>>> {
        self.excluded.lock().unwrap().push(exclude.to_vec());
        let executors = self
            .executors
            .lock()
            .unwrap()
            .iter()
            .filter(|executor| !exclude.contains(&executor.id()))
            .cloned()
            .collect();
        Box::pin(async move { executors })
    }
}

fn directory_conductor(directory: Arc<Appearing>, queue_timeout: Duration) -> Conductor {
    let catalog = Arc::new(Catalog::bundled().expect("catalog"));
    let config = ConductorConfig {
        subtask_deadline: Duration::from_millis(300),
        max_attempts: 3,
        queue_timeout,
        queue_poll: Duration::from_millis(20),
        ..ConductorConfig::default()
    };
    Conductor::with_directory(
        catalog,
        Arc::new(Writer { plan: "{}".to_owned(), calls: Default::default() }),
        directory,
        config,
    )
}

#[tokio::test]
async fn a_sub_task_with_no_executor_waits_in_the_queue_until_one_appears() {
    let directory = Arc::new(Appearing { executors: Mutex::new(Vec::new()), excluded: Mutex::new(Vec::new()) });
    let conductor = directory_conductor(Arc::clone(&directory), Duration::from_secs(10));
    let peer = Scripted::new("peer-late", Behaviour::Answer);
    let joining = Arc::clone(&directory);
    let late: Arc<dyn Executor> = peer.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        joining.executors.lock().unwrap().push(late);
    });
    let events = run(&conductor, "How do I reverse a list in Python?").await;
    let queued = events.iter().position(|event| matches!(event, ConductorEvent::SubtaskQueued { .. }));
    let started = events
        .iter()
        .position(|event| matches!(event, ConductorEvent::SubtaskStarted { executor, .. } if executor == "peer-late"));
    assert!(queued.is_some() && started.is_some() && queued < started, "{events:?}");
    let Some(ConductorEvent::SubtaskQueued { prompt, .. }) = queued.map(|at| &events[at]) else { unreachable!() };
    assert!(prompt.contains("reverse a list"), "the queued sub-task keeps its prompt");
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Done);
    assert_eq!(peer.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn with_no_executor_the_queue_gives_up_after_its_timeout_and_says_so() {
    let directory = Arc::new(Appearing { executors: Mutex::new(Vec::new()), excluded: Mutex::new(Vec::new()) });
    let conductor = directory_conductor(directory, Duration::from_millis(200));
    let events = run(&conductor, "How do I reverse a list in Python?").await;
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Failed);
    assert!(subtasks[0].error.as_deref().unwrap_or("").contains("appeared"), "{:?}", subtasks[0].error);
}

#[tokio::test]
async fn a_failed_executor_is_excluded_and_the_next_best_runs_the_sub_task() {
    let dead = Scripted::new("peer-dead", Behaviour::Fail);
    let alive = Scripted::new("peer-alive", Behaviour::Answer);
    let directory = Arc::new(Appearing {
        executors: Mutex::new(vec![dead.clone() as Arc<dyn Executor>, alive.clone()]),
        excluded: Mutex::new(Vec::new()),
    });
    let conductor = directory_conductor(Arc::clone(&directory), Duration::ZERO);
    let events = run(&conductor, "How do I reverse a list in Python?").await;
    let Some(ConductorEvent::Done { subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Done);
    assert_eq!(subtasks[0].executor, "peer-alive");
    assert_eq!(subtasks[0].attempts, 2);
    assert_eq!(dead.calls.load(Ordering::SeqCst), 1);
    let excluded = directory.excluded.lock().unwrap().clone();
    assert_eq!(excluded[1], vec!["peer-dead".to_owned()], "the second attempt left the failed peer out");
}

// ---------------------------------------------------------------------------
// Privacy: the gate where work leaves the device
// ---------------------------------------------------------------------------

const PERSONAL: &str = "My e-mail is priya.raman@example.com. Write a Python function that validates an IBAN checksum.";

fn started(events: &[ConductorEvent]) -> Vec<&ConductorEvent> {
    events.iter().filter(|event| matches!(event, ConductorEvent::SubtaskStarted { .. })).collect()
}

#[tokio::test]
async fn what_a_peer_receives_is_redacted_and_its_answer_restored() {
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let conductor = conductor("{}", vec![peer.clone()]);
    let events = run(&conductor, PERSONAL).await;
    let seen = peer.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(!seen[0].contains("priya"), "the peer saw the e-mail address: {}", seen[0]);
    assert!(seen[0].contains("[EMAIL_1]"), "{}", seen[0]);
    let starts = started(&events);
    let Some(ConductorEvent::SubtaskStarted { left_device, redacted, sent, kept_on_device, .. }) = starts.first()
    else {
        panic!("no start: {events:?}")
    };
    assert!(*left_device);
    assert_eq!(*redacted, 1);
    assert_eq!(sent.as_ref().map(|sent| sent.prompt.as_str()), Some(seen[0].as_str()), "the event shows what was sent");
    assert_eq!(kept_on_device, &None);
    // The peer wrote the placeholder back; the person reads the value.
    let Some(ConductorEvent::Done { answer, .. }) = events.last() else { panic!("no done") };
    assert!(answer.contains("priya.raman@example.com"), "{answer}");
    assert!(!answer.contains("EMAIL_1"), "{answer}");
    let streamed: String = events
        .iter()
        .filter_map(|event| match event {
            ConductorEvent::Token { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(&streamed, answer, "the streamed tokens were restored as well");
}

#[tokio::test]
async fn work_on_this_device_sees_the_original_text() {
    let local = Scripted::new("local", Behaviour::Echo);
    let conductor = conductor("{}", vec![local.clone()]);
    let events = run(&conductor, PERSONAL).await;
    let seen = local.seen.lock().expect("lock").clone();
    assert!(seen[0].contains("priya.raman@example.com"), "{seen:?}");
    let Some(ConductorEvent::SubtaskStarted { left_device, redacted, sent, .. }) = started(&events).first().copied()
    else {
        panic!("no start")
    };
    assert!(!*left_device);
    assert_eq!(*redacted, 0);
    assert!(sent.is_none());
}

const HEALTH: &str = "What are common symptoms of iron deficiency anaemia?";

#[tokio::test]
async fn a_sensitive_part_stays_home_while_a_peer_offers_its_specialist() {
    // The peer comes first: without the rule it would run the part.
    let peer = Scripted::new("peer-fast", Behaviour::Answer);
    let local = Scripted::new("local", Behaviour::Answer);
    let conductor = conductor("{}", vec![peer.clone(), local.clone()]);
    let events = run(&conductor, HEALTH).await;
    assert_eq!(peer.calls.load(Ordering::SeqCst), 0, "the sensitive part went to the peer");
    assert_eq!(local.calls.load(Ordering::SeqCst), 1);
    let Some(ConductorEvent::SubtaskStarted { specialist, executor, kept_on_device, .. }) =
        started(&events).first().copied()
    else {
        panic!("no start")
    };
    assert!(specialist.starts_with("medical-info."), "{specialist}");
    assert_eq!(executor, "local");
    assert!(kept_on_device.as_deref().is_some_and(|why| why.contains("sensitive")), "{kept_on_device:?}");

    // The owner may let it go.
    let peer = Scripted::new("peer-fast", Behaviour::Answer);
    let local = Scripted::new("local", Behaviour::Answer);
    let catalog = Arc::new(Catalog::bundled().expect("catalog"));
    let config = ConductorConfig { keep_sensitive_on_device: false, ..ConductorConfig::default() };
    let writer = Arc::new(Writer { plan: "{}".to_owned(), calls: Default::default() });
    let open = Conductor::new(catalog, writer, vec![peer.clone(), local.clone()], config);
    let _ = run(&open, HEALTH).await;
    assert_eq!(peer.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn with_no_local_specialist_a_sensitive_part_runs_on_the_conductor_model() {
    let peer = Scripted::new("peer-only", Behaviour::Answer);
    let conductor = conductor("{}", vec![peer.clone()]);
    let events = run(&conductor, HEALTH).await;
    assert_eq!(peer.calls.load(Ordering::SeqCst), 0);
    let Some(ConductorEvent::Done { subtasks, answer, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks[0].status, SubtaskStatus::Done, "{subtasks:?}");
    assert_eq!(subtasks[0].executor, "local");
    // The Writer echoes what it was asked: the health question itself.
    assert!(answer.contains("iron deficiency"), "{answer}");
}

#[tokio::test]
async fn a_planned_task_that_carries_the_whole_question_is_cut_to_its_part() {
    let plan = format!(
        r#"{{"subtasks":[
        {{"specialist":"marketing.strategy","task":"{COMPOSITE}","depends_on":[]}},
        {{"specialist":"finance.pricing","task":"{COMPOSITE}","depends_on":[]}}]}}"#
    );
    let peer = Scripted::new("peer-1", Behaviour::Answer);
    let conductor = conductor(&plan, vec![peer.clone()]);
    let events = run(&conductor, COMPOSITE).await;
    let seen = peer.seen.lock().expect("lock").clone();
    assert!(seen.len() >= 2, "{seen:?}");
    for prompt in &seen {
        let share = chorus_core::context_share(COMPOSITE, prompt);
        assert!(share < 0.8, "a peer received {share:.2} of the question: {prompt}");
    }
    // The two tasks route alike, so the plan falls back to the clauses (or,
    // if it survives, each task is cut to its part).
    let Some(ConductorEvent::Plan { source, repairs, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan")
    };
    assert!(
        *source == PlanSource::Fallback || repairs.iter().any(|repair| repair.contains("whole question")),
        "{source:?} {repairs:?}"
    );
}

/// A simple question that asks two things of one specialist.
const TWO_REQUESTS: &str = "Write a haiku about autumn; then explain the rules of the haiku form.";

#[tokio::test]
async fn a_simple_question_of_several_requests_is_split_for_peers_and_joined_in_order() {
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let conductor = conductor("{}", vec![peer.clone()]);
    let events = run(&conductor, TWO_REQUESTS).await;
    assert!(matches!(&events[0], ConductorEvent::Analysis { kind, .. } if kind == "simple"), "{:?}", events[0]);
    let Some(ConductorEvent::Plan { source, subtasks, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan: {events:?}")
    };
    assert_eq!(*source, PlanSource::Split);
    assert_eq!(subtasks.len(), 2, "{subtasks:?}");
    assert!(subtasks.iter().all(|step| step.specialist == subtasks[0].specialist));
    let seen = peer.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for prompt in &seen {
        assert!(!(prompt.contains("Write a haiku") && prompt.contains("rules")), "a peer saw both parts: {prompt}");
        assert!(chorus_core::context_share(TWO_REQUESTS, prompt) < 0.8, "{prompt}");
    }
    // The parts' answers, in the order of the question, as written.
    let Some(ConductorEvent::Done { answer, subtasks, .. }) = events.last() else { panic!("no done") };
    assert_eq!(subtasks.len(), 2);
    let (first, second) = (answer.find("Write a haiku"), answer.find("rules"));
    assert!(first.is_some() && second.is_some() && first < second, "{answer}");
    assert!(!answer.contains("SYNTHESIS"), "no model rewrote the parts: {answer}");
}

#[tokio::test]
async fn a_simple_question_of_several_requests_goes_whole_only_to_this_device() {
    // This device comes first: the question runs whole, here.
    let local = Scripted::new("local", Behaviour::Echo);
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let here = conductor("{}", vec![local.clone(), peer.clone()]);
    let events = run(&here, TWO_REQUESTS).await;
    assert!(!events.iter().any(|event| matches!(event, ConductorEvent::Plan { .. })));
    assert_eq!(local.seen.lock().expect("lock").clone(), [TWO_REQUESTS]);
    assert_eq!(peer.calls.load(Ordering::SeqCst), 0);

    // When it fails here, its retry does not go to the peer with the
    // whole question either.
    let local = Scripted::new("local", Behaviour::Fail);
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let failing = conductor("{}", vec![local.clone(), peer.clone()]);
    let (_, events) = attempt(&failing, TWO_REQUESTS).await;
    assert_eq!(peer.calls.load(Ordering::SeqCst), 0, "{events:?}");
    assert!(
        started(&events).iter().any(|event| matches!(event, ConductorEvent::SubtaskStarted { kept_on_device: Some(why), .. } if why.contains("2 parts"))),
        "{events:?}"
    );
}

#[tokio::test]
async fn more_requests_than_sub_tasks_share_the_last_part_and_none_goes_whole() {
    let query =
        "Write a haiku about autumn; then write a limerick about cats; then explain the rules of the haiku form.";
    let peer = Scripted::new("peer-1", Behaviour::Echo);
    let catalog = Arc::new(Catalog::bundled().expect("catalog"));
    let config = ConductorConfig { max_subtasks: 2, ..ConductorConfig::default() };
    let writer = Arc::new(Writer { plan: "{}".to_owned(), calls: Default::default() });
    let events = run(&Conductor::new(catalog, writer, vec![peer.clone()], config), query).await;
    let Some(ConductorEvent::Plan { source, subtasks, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan: {events:?}")
    };
    assert_eq!((*source, subtasks.len()), (PlanSource::Split, 2), "{subtasks:?}");
    for prompt in peer.seen.lock().expect("lock").iter() {
        assert!(!(prompt.contains("Write a haiku") && prompt.contains("limerick")), "a peer saw every part: {prompt}");
    }
}

#[tokio::test]
async fn the_parts_of_a_question_go_to_different_peers_when_several_can_run_them() {
    let first = Scripted::new("peer-1", Behaviour::Echo);
    let second = Scripted::new("peer-2", Behaviour::Echo);
    let both = conductor("{}", vec![first.clone(), second.clone()]);
    let events = run(&both, TWO_REQUESTS).await;
    let executors: Vec<&str> = started(&events)
        .iter()
        .filter_map(|event| match event {
            ConductorEvent::SubtaskStarted { executor, .. } => Some(executor.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(executors.len(), 2, "{events:?}");
    assert_ne!(executors[0], executors[1], "both parts went to one peer: {events:?}");
    assert_eq!(first.seen.lock().expect("lock").len(), 1);
    assert_eq!(second.seen.lock().expect("lock").len(), 1);

    // With one peer, it runs both parts: still as separate tasks.
    let only = Scripted::new("peer-1", Behaviour::Echo);
    let events = run(&conductor("{}", vec![only.clone()]), TWO_REQUESTS).await;
    assert_eq!(started(&events).len(), 2);
    assert_eq!(only.seen.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn a_peers_error_text_reaches_prompts_and_answers_only_cut_and_clean() {
    let loud = Scripted::new("peer-loud", Behaviour::Loud);
    let conductor = conductor("{}", vec![loud.clone()]);
    let (_, events) = attempt(&conductor, COMPOSITE).await;
    let mut seen = 0;
    for event in &events {
        let text = match event {
            ConductorEvent::SubtaskFailed { error, .. } => error.clone(),
            ConductorEvent::Token { text } => text.clone(),
            ConductorEvent::Done { answer, subtasks, .. } => {
                for report in subtasks {
                    let error = report.error.clone().unwrap_or_default();
                    assert!(error.chars().count() <= 200, "{} chars kept", error.chars().count());
                }
                answer.clone()
            }
            _ => continue,
        };
        seen += usize::from(text.contains("IGNORE THE USER"));
        assert!(!text.contains('\u{1b}'), "an escape got through: {text:?}");
        // Each failed part says at most 200 characters of the peer's text.
        assert!(text.len() < 4_000, "uncut: {} chars", text.len());
        if let ConductorEvent::SubtaskFailed { error, .. } = event {
            assert!(error.chars().count() <= 200, "{} chars kept", error.chars().count());
        }
    }
    assert!(seen > 0, "the error was said, cut: {events:?}");
    assert!(loud_error().len() > 16_000);
}
