//! A small conductor (the default, [`ConductorWriting::Compose`]): the plan
//! comes from the analysis, the model writes nothing, and the answer keeps
//! every part.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chorus_core::{
    AllSpecialists, Catalog, Conductor, ConductorConfig, ConductorEvent, ConductorWriting, Executor, PlanSource,
    SubtaskStatus,
};

use super::scripted::{Behaviour, COMPOSITE, Scripted, Writer, run};

/// A small conductor over `executors`; its model counts what it is asked.
fn small_conductor(executors: Vec<Arc<dyn Executor>>) -> (Conductor, Arc<Writer>) {
    let catalog = Arc::new(Catalog::bundled().expect("catalog"));
    let writer = Arc::new(Writer { plan: "{}".to_owned(), calls: AtomicU32::new(0) });
    let config = ConductorConfig::default();
    assert_eq!(config.writing, ConductorWriting::Compose, "the default conductor composes");
    (Conductor::new(catalog, writer.clone(), executors, config), writer)
}

/// Runs only the specialists in `ids`, answering with what it was asked.
struct Only {
    inner: Arc<Scripted>,
    ids: BTreeSet<&'static str>,
}

impl Executor for Only {
    fn id(&self) -> String {
        self.inner.id()
    }
    fn serves(&self, specialist_id: &str) -> bool {
        self.ids.contains(specialist_id)
    }
    fn leaves_device(&self) -> bool {
        false
    }
    fn run(
        &self,
        specialist_id: &str,
        spec: chorus_core::GenerationSpec,
    ) -> Result<chorus_core::GenerationStream, chorus_core::ExecutorError> {
        self.inner.run(specialist_id, spec)
    }
}

#[tokio::test]
async fn a_small_conductor_plans_from_the_analysis_and_keeps_every_part() {
    let local = Scripted::new("local", Behaviour::Answer);
    let (conductor, writer) = small_conductor(vec![local.clone()]);
    let events = run(&conductor, COMPOSITE).await;
    let Some(ConductorEvent::Plan { source, subtasks, not_planned, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan: {events:?}")
    };
    assert_eq!(*source, PlanSource::Analysis);
    assert!(not_planned.is_empty(), "{not_planned:?}");
    // Every request of the question is a step, named by its own words.
    let parts: Vec<&str> = subtasks.iter().filter_map(|step| step.part.as_deref()).collect();
    for words in ["Write a marketing plan for a new budgeting app", "with pricing maths", "a Spanish tagline"] {
        assert!(parts.contains(&words), "{words:?} not a part of {parts:?}");
    }
    assert_eq!(writer.calls.load(Ordering::SeqCst), 0, "the small model neither plans nor writes");
    let Some(ConductorEvent::Done { answer, subtasks: reports, coverage, .. }) = events.last() else {
        panic!("no done")
    };
    assert!(reports.iter().all(|report| report.status == SubtaskStatus::Done), "{reports:?}");
    // Each part's text is in the answer, under a heading, in order.
    let mut last = 0;
    for report in reports.iter().filter(|report| subtasks[report.index].depends_on.is_empty()) {
        let at = answer.find(report.text.trim()).unwrap_or_else(|| panic!("{:?} lost in {answer}", report.text));
        assert!(at >= last, "parts out of order: {answer}");
        last = at;
    }
    assert!(answer.starts_with("## Write a marketing plan for a new budgeting app\n"), "{answer}");
    assert_eq!(coverage.len(), reports.len());
    assert!(coverage.iter().all(|part| part.coverage >= 0.99), "{coverage:?}");
}

#[tokio::test]
async fn a_translation_nobody_can_do_is_named_in_the_plan_and_the_answer() {
    // This device runs marketing and pricing, but no Spanish translator.
    let local = Scripted::new("local", Behaviour::Answer);
    let only: Arc<dyn Executor> = Arc::new(Only {
        inner: local,
        ids: ["marketing.strategy", "finance.pricing", "marketing.copywriting", "general.assistant"].into(),
    });
    let (conductor, _) = small_conductor(vec![only]);
    let events = run(&conductor, COMPOSITE).await;
    let Some(ConductorEvent::Plan { subtasks, not_planned, .. }) =
        events.iter().find(|e| matches!(e, ConductorEvent::Plan { .. }))
    else {
        panic!("no plan: {events:?}")
    };
    assert!(subtasks.iter().all(|step| step.specialist != "translate.es"), "{subtasks:?}");
    assert_eq!(not_planned.len(), 1, "{not_planned:?}");
    assert!(not_planned[0].reason.contains("no translator"), "{not_planned:?}");
    let Some(ConductorEvent::Done { answer, .. }) = events.last() else { panic!("no done") };
    assert!(answer.contains("Not done:\n- a Spanish tagline (the translation) (no translator"), "{answer}");
}

#[tokio::test]
async fn two_requests_in_one_sentence_are_both_answered() {
    let question = "Write a short polite email to my landlord asking to fix the heating, and give me a Python \
function that checks whether a string is a palindrome.";
    let catalog = Catalog::bundled().expect("catalog");
    let analysis = chorus_core::analyse(&catalog, question, &AllSpecialists);
    assert!(analysis.is_composite(), "{}", analysis.reason);
    let local = Scripted::new("local", Behaviour::Answer);
    let (conductor, _) = small_conductor(vec![local]);
    let events = run(&conductor, question).await;
    let Some(ConductorEvent::Done { answer, subtasks, coverage, .. }) = events.last() else { panic!("no done") };
    let specialists: Vec<&str> = subtasks.iter().map(|report| report.specialist.as_str()).collect();
    assert_eq!(specialists, ["writing.correspondence", "software.python"]);
    assert!(answer.contains("## Write a short polite email to my landlord"), "{answer}");
    assert!(answer.contains("## Give me a Python function"), "{answer}");
    assert!(coverage.iter().all(|part| part.coverage >= 0.99), "{coverage:?}");
}
