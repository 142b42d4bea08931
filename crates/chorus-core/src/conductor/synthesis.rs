//! Synthesis: the sub-task results merged into one answer — composed from
//! the parts, or written by a larger conductor model and checked — failed
//! and unplanned parts acknowledged.

use tokio::sync::mpsc;

use crate::catalog::SpecialistSampling;
use crate::plan::{Plan, SubtaskStatus};

use super::compose::{added_back, compose, missing_parts, not_done_note};
use super::events::{ConductorEvent, SubtaskReport, emit};
use super::executor::{GenerationSpec, collect};
use super::{Conductor, ConductorError, ConductorWriting};

/// The system prompt of the synthesis step.
const SYNTHESIS_SYSTEM: &str = "You are the conductor of Chorus. Specialists worked on parts of the user's request. \
Write one coherent answer to the request that combines their results: keep their facts and figures, remove \
repetition, and do not list the specialists. If a part failed, say briefly that this part could not be answered.";

impl Conductor {
    /// The answer of a plan's parts, streamed: composed from the parts
    /// (a small conductor), or written by the conductor model and checked,
    /// with any part it lost added back (a larger one; see
    /// [`ConductorWriting`]).
    pub(super) async fn synthesise(
        &self,
        query: &str,
        plan: &Plan,
        reports: &[SubtaskReport],
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<String, ConductorError> {
        if self.config.writing == ConductorWriting::Compose {
            let answer = compose(plan, reports, self.catalog());
            emit(events, ConductorEvent::Token { text: answer.clone() }).await?;
            return Ok(answer);
        }
        let mut answer = self.write_freely(query, plan, reports, events).await?;
        // What the model lost goes back in, as the specialists wrote it.
        let missing = missing_parts(plan, reports, &answer);
        if !missing.is_empty() {
            let text = added_back(&missing);
            emit(events, ConductorEvent::Token { text: text.clone() }).await?;
            answer.push_str(&text);
        }
        // A failed part is acknowledged in the answer, never hidden.
        let failed: Vec<&SubtaskReport> =
            reports.iter().filter(|report| report.status != SubtaskStatus::Done).collect();
        let mut note = String::new();
        if !failed.is_empty() {
            note.push_str("\n\nNote: some parts could not be answered:");
            for report in failed {
                note.push_str(&format!(
                    "\n- {} ({}): {}",
                    plan.subtasks[report.index].task,
                    report.specialist,
                    report.error.as_deref().unwrap_or("no result")
                ));
            }
        }
        note.push_str(&not_done_note(plan));
        if !note.is_empty() {
            emit(events, ConductorEvent::Token { text: note.clone() }).await?;
            answer.push_str(&note);
        }
        Ok(answer)
    }

    /// The conductor model's own merge of the parts, streamed.
    async fn write_freely(
        &self,
        query: &str,
        plan: &Plan,
        reports: &[SubtaskReport],
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<String, ConductorError> {
        let mut prompt = format!("Request: {query}\n\nResults of the specialists:\n");
        let share = self.config.synthesis_input_chars / plan.subtasks.len().max(1);
        for (step, report) in plan.subtasks.iter().zip(reports) {
            let name = self
                .catalog()
                .specialist(&step.specialist)
                .map_or(step.specialist.as_str(), |specialist| specialist.name.as_str());
            match report.status {
                SubtaskStatus::Done => {
                    prompt.push_str(&format!(
                        "{}. From the {name}:\n{}\n\n",
                        step.index + 1,
                        shorten(report.text.trim(), share)
                    ));
                }
                _ => prompt.push_str(&format!(
                    "{}. From the {name}: FAILED ({})\n\n",
                    step.index + 1,
                    report.error.as_deref().unwrap_or("no result")
                )),
            }
        }
        prompt.push_str("Write the combined answer to the request now.");
        let spec = GenerationSpec {
            system: SYNTHESIS_SYSTEM.to_owned(),
            prompt,
            sampling: SpecialistSampling {
                temperature: 0.3,
                top_k: 40,
                top_p: 0.9,
                min_p: 0.05,
                repeat_penalty: 1.1,
                max_tokens: self.config.synthesis_max_tokens,
            },
            seed: self.config.seed,
            json_schema: None,
        };
        let stream = self.model.generate(spec).map_err(ConductorError::from)?;
        let forward = |text: String| {
            let event = ConductorEvent::Token { text };
            async move { events.send(event).await.is_ok() }
        };
        let (answer, _) = collect(stream, forward).await.map_err(ConductorError::from)?;
        if events.is_closed() {
            return Err(ConductorError::Cancelled);
        }
        Ok(answer)
    }
}

/// `text` cut to at most `limit` characters, at a word, marked with "…".
pub(super) fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let cut: String = text.chars().take(limit).collect();
    let at_word = cut.rfind(char::is_whitespace).filter(|at| *at > limit / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at_word].trim_end())
}
