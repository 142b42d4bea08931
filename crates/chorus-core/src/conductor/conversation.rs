//! A question that continues a conversation. The history stays on this
//! device: a follow-up the small conductor cannot make self-contained runs
//! here with the last turn as context; a conductor that writes freely
//! (≥ 1B parameters) rewrites it into a self-contained question first, which
//! then goes wherever its parts go, redacted like any other question.

use tokio::sync::mpsc;

use crate::catalog::{Domain, FALLBACK_SPECIALIST, SpecialistSampling};
use crate::plan::fallback_plan;
use crate::privacy::Redactor;

use super::events::emit;
use super::executor::{GenerationSpec, collect};
use super::followup::{Turn, carried_answer, follow_up_cue, follow_up_task};
use super::{Clock, Conductor, ConductorError, ConductorEvent, ConductorWriting, Mode, finish};

/// Why a follow-up stays on this device (the `kept_on_device` reason).
const STAYS_HOME: &str = "a follow-up carries the conversation, which stays on this device";

/// The system prompt of the rewriting step (a conductor that writes freely).
const REWRITE_SYSTEM: &str = "You rewrite the user's last message into one self-contained question or request \
that can be understood without the conversation, keeping its language and everything it refers to. If it is \
already self-contained, repeat it unchanged. Answer with the rewritten message only.";

/// Most tokens of a rewritten question.
const REWRITE_MAX_TOKENS: u32 = 160;

impl Conductor {
    /// Answers `query` as the next turn after `history` (oldest first),
    /// reporting a `context` event (how the history was used) before the
    /// usual ones. With no history this is [`Conductor::ask`].
    ///
    /// # Errors
    /// As [`Conductor::ask`].
    pub async fn ask_after(
        &self,
        query: &str,
        history: &[Turn],
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<ConductorEvent, ConductorError> {
        if history.is_empty() {
            return self.ask(query, events).await;
        }
        if query.trim().is_empty() {
            return Err(ConductorError::EmptyQuery);
        }
        let turns = history.len();
        let Some(last) = history.iter().rev().find(|turn| !turn.answer.trim().is_empty()) else {
            let reason = "no earlier question of the conversation has an answer to go on".to_owned();
            emit(events, ConductorEvent::Context { follow_up: false, turns, carried: 0, reason, resolved: None })
                .await?;
            return self.ask(query, events).await;
        };
        if self.config.writing == ConductorWriting::Free {
            return self.ask_rewritten(query, history, events).await;
        }
        let Some(cue) = follow_up_cue(query) else {
            let reason = "the question stands on its own: routed afresh, without the conversation".to_owned();
            emit(events, ConductorEvent::Context { follow_up: false, turns, carried: 0, reason, resolved: None })
                .await?;
            return self.ask(query, events).await;
        };
        self.ask_follow_up(query, last, turns, &cue, events).await
    }

    /// A follow-up answered on this device by the specialist that wrote the
    /// last answer (or a translator, when it asks for a language one
    /// serves), with the last turn carried in its task.
    async fn ask_follow_up(
        &self,
        query: &str,
        last: &Turn,
        turns: usize,
        cue: &str,
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<ConductorEvent, ConductorError> {
        let clock = Clock::start();
        let reachable = self.reachable(query).await;
        let analysis = self.router.analyse(query, &reachable);
        clock.analysed();
        let translator = analysis
            .ranking
            .first()
            .filter(|score| score.domain == Domain::Translation && !score.matched.is_empty())
            .map(|score| score.specialist_id.clone());
        let (specialist, task, carried) = match translator {
            Some(translator) => (translator, carried_answer(&last.answer), "the last answer, to translate"),
            None => {
                let previous = last
                    .specialists
                    .iter()
                    .find(|id| self.catalog().specialist(id).is_some())
                    .cloned()
                    .unwrap_or_else(|| FALLBACK_SPECIALIST.to_owned());
                (previous, follow_up_task(query, last), "the last question and answer")
            }
        };
        let older = turns.saturating_sub(1);
        let reason = if older == 0 {
            format!("a follow-up ({cue}): carries {carried}")
        } else {
            format!("a follow-up ({cue}): carries {carried}; {older} earlier turn(s) not carried")
        };
        emit(events, ConductorEvent::Context { follow_up: true, turns, carried: 1, reason, resolved: None }).await?;
        emit(
            events,
            ConductorEvent::Analysis {
                kind: "simple".to_owned(),
                reason: format!("a follow-up, continued by {specialist} on this device"),
                specialists: vec![specialist.clone()],
            },
        )
        .await?;
        let plan = fallback_plan(&[(specialist.clone(), task)], 1, "follow-up");
        let mode = Mode { direct: true, stays_home: Some(STAYS_HOME.to_owned()), clock: &clock };
        let redactor = Redactor::new(self.recogniser.clone());
        let reports = self.dispatch(&plan, events, &mode, &redactor).await?;
        let (answer, reports) = self.direct_answer(&specialist, reports, events).await?;
        finish(events, answer, reports, &clock, false).await
    }

    /// A follow-up rewritten by the conductor model into a self-contained
    /// question, then answered like any question (the history itself never
    /// leaves this device; the rewritten question is redacted as usual).
    async fn ask_rewritten(
        &self,
        query: &str,
        history: &[Turn],
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<ConductorEvent, ConductorError> {
        let spec = GenerationSpec {
            system: REWRITE_SYSTEM.to_owned(),
            prompt: rewrite_prompt(query, history),
            sampling: SpecialistSampling {
                temperature: 0.0,
                top_k: 1,
                top_p: 1.0,
                min_p: 0.0,
                repeat_penalty: 1.0,
                max_tokens: REWRITE_MAX_TOKENS,
            },
            seed: self.config.seed,
            json_schema: None,
        };
        let stream = self.model.generate(spec).map_err(ConductorError::from)?;
        let (text, _) = collect(stream, |_| async { true }).await.map_err(ConductorError::from)?;
        let rewritten = clean_rewrite(&text);
        let turns = history.len();
        let (question, reason, follow_up) = match rewritten {
            Some(rewritten) if rewritten.trim() != query.trim() => {
                (rewritten, "rewritten by the conductor model into a self-contained question".to_owned(), true)
            }
            Some(rewritten) => (rewritten, "the question stands on its own (the conductor model)".to_owned(), false),
            None => {
                (query.to_owned(), "the conductor model's rewriting was unusable: asked as written".to_owned(), false)
            }
        };
        let carried = usize::from(follow_up).min(turns);
        let resolved = follow_up.then(|| question.clone());
        emit(events, ConductorEvent::Context { follow_up, turns, carried, reason, resolved }).await?;
        self.ask(&question, events).await
    }
}

/// The rewriting prompt: the last turns (answers cut), then the message.
fn rewrite_prompt(query: &str, history: &[Turn]) -> String {
    let mut prompt = String::from("Conversation:\n");
    for turn in history.iter().rev().take(3).rev() {
        prompt.push_str(&format!("User: {}\nAssistant: {}\n", turn.question.trim(), carried_answer(&turn.answer)));
    }
    prompt.push_str(&format!("\nLast message: {}\n\nRewritten:", query.trim()));
    prompt
}

/// The rewritten question out of the model's text: its first non-empty
/// line, without quotes or a label; `None` when empty or too long to be one
/// question.
fn clean_rewrite(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let line = ["Rewritten:", "Rewritten message:", "Question:"]
        .iter()
        .find_map(|label| line.strip_prefix(label))
        .unwrap_or(line)
        .trim()
        .trim_matches(['"', '\u{201C}', '\u{201D}'])
        .trim();
    (!line.is_empty() && line.chars().count() <= 1_000).then(|| line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_is_its_first_line_without_label_or_quotes() {
        assert_eq!(
            clean_rewrite("\n Rewritten: \"Make the bakery names shorter\"\nmore"),
            Some("Make the bakery names shorter".to_owned())
        );
        assert_eq!(clean_rewrite("   \n  "), None);
        assert_eq!(clean_rewrite(&"x".repeat(1_001)), None);
    }

    #[test]
    fn the_rewrite_prompt_holds_the_last_three_turns() {
        let history: Vec<Turn> = (1..=5).map(|n| Turn::new(format!("question {n}"), format!("answer {n}"))).collect();
        let prompt = rewrite_prompt("and the next?", &history);
        assert!(!prompt.contains("question 2"), "{prompt}");
        assert!(prompt.contains("User: question 3\nAssistant: answer 3"), "{prompt}");
        assert!(prompt.ends_with("Last message: and the next?\n\nRewritten:"), "{prompt}");
    }
}
