//! `chorus eval answers`: the first questions of the planning set asked of
//! the real conductor on this device; from each `done` event, how much of
//! each done part's result the answer keeps (its `coverage`).

use std::time::Instant;

use chorus_core::{Conductor, ConductorEvent, MIN_PART_COVERAGE};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{PlanCase, share};

/// One question asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerOutcome {
    /// Its id in the set.
    pub id: String,
    /// The question.
    pub question: String,
    /// Labelled parts in the set.
    pub labelled_parts: usize,
    /// Sub-tasks the conductor ran (the `done` event's `subtasks`).
    pub parts: usize,
    /// Sub-tasks done (those with a coverage).
    pub done_parts: usize,
    /// Each done part's coverage (0–1), in plan order.
    pub coverage: Vec<f64>,
    /// The smallest of them (`null` when no part was done).
    pub min_coverage: Option<f64>,
    /// Their mean (`null` when no part was done).
    pub mean_coverage: Option<f64>,
    /// Seconds from asking to `done` (or the error).
    pub seconds: f64,
    /// Why the question failed, if it did.
    pub error: Option<String>,
}

/// What `chorus eval answers` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswersReport {
    /// Where the questions came from: `built-in` or the `--set` file.
    pub set: String,
    /// Questions asked.
    pub questions: usize,
    /// Questions that failed.
    pub failed: usize,
    /// Sub-tasks run, over all questions.
    pub parts: usize,
    /// Sub-tasks done.
    pub done_parts: usize,
    /// Done parts whose coverage is at least 0.5.
    pub covered_parts: usize,
    /// `covered_parts / done_parts`, 0–1.
    pub covered_share: f64,
    /// The mean coverage over done parts (0 when none).
    pub mean_coverage: f64,
    /// Seconds, all questions.
    pub seconds: f64,
    /// Each question, in set order.
    pub answers: Vec<AnswerOutcome>,
}

/// Asks the first `limit` questions of `cases` of `conductor`, one after
/// another, and reads the coverage of each `done` event. A question that
/// fails is reported with its error; the others still run.
pub async fn evaluate_answers(conductor: &Conductor, cases: &[PlanCase], limit: usize, set: &str) -> AnswersReport {
    let started = Instant::now();
    let mut answers = Vec::new();
    for case in cases.iter().take(limit) {
        answers.push(ask(conductor, case).await);
    }
    let coverages: Vec<f64> = answers.iter().flat_map(|answer| answer.coverage.iter().copied()).collect();
    let covered = coverages.iter().filter(|coverage| **coverage >= MIN_PART_COVERAGE).count();
    AnswersReport {
        set: set.to_owned(),
        questions: answers.len(),
        failed: answers.iter().filter(|answer| answer.error.is_some()).count(),
        parts: answers.iter().map(|answer| answer.parts).sum(),
        done_parts: coverages.len(),
        covered_parts: covered,
        covered_share: share(covered, coverages.len()),
        mean_coverage: mean(&coverages).unwrap_or(0.0),
        seconds: started.elapsed().as_secs_f64(),
        answers,
    }
}

async fn ask(conductor: &Conductor, case: &PlanCase) -> AnswerOutcome {
    let started = Instant::now();
    let (events, mut received) = mpsc::channel::<ConductorEvent>(256);
    // Events are read (and dropped) as they come: the conductor waits
    // for room, and a dropped receiver would cancel the question.
    let drain = tokio::spawn(async move { while received.recv().await.is_some() {} });
    let outcome = conductor.ask(&case.question, &events).await;
    drop(events);
    let _ = drain.await;
    let mut answer = AnswerOutcome {
        id: case.id.clone(),
        question: case.question.clone(),
        labelled_parts: case.parts.len(),
        parts: 0,
        done_parts: 0,
        coverage: Vec::new(),
        min_coverage: None,
        mean_coverage: None,
        seconds: 0.0,
        error: None,
    };
    match outcome {
        Ok(ConductorEvent::Done { subtasks, coverage, .. }) => {
            let mut parts = coverage;
            parts.sort_by_key(|part| part.index);
            answer.parts = subtasks.len();
            answer.done_parts = parts.len();
            answer.coverage = parts.iter().map(|part| part.coverage).collect();
            answer.min_coverage = answer.coverage.iter().copied().reduce(f64::min);
            answer.mean_coverage = mean(&answer.coverage);
        }
        Ok(other) => answer.error = Some(format!("the conductor ended without `done`: {other:?}")),
        Err(error) => answer.error = Some(error.to_string()),
    }
    answer.seconds = started.elapsed().as_secs_f64();
    answer
}

#[allow(clippy::cast_precision_loss)]
fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}
