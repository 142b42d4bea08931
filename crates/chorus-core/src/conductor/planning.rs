//! The plan of a composite query: the model's draft, refitted and
//! repaired, or a fallback built from the analysis.

use std::collections::BTreeSet;

use crate::catalog::{Catalog, FALLBACK_SPECIALIST, SpecialistSampling};
use crate::plan::{Plan, PlanRules, PlanSource, RawPlan, UnplannedPart, fallback_plan, plan_schema, repair_plan};
use crate::privacy::context_share;
use crate::routing::Analysis;

use super::executor::{GenerationSpec, collect};
use super::{Conductor, ConductorError, ConductorWriting};

/// The system prompt of the planning step.
const PLAN_SYSTEM: &str = "You are the conductor of Chorus. Split the user's request into a few self-contained \
sub-tasks, one per part of the request, each for the most suitable specialist from the list. Write each task as \
a complete instruction that a specialist can do without seeing the request, carrying only the context it needs. \
Use depends_on only when a task needs an earlier task's result. Answer with JSON only.";

impl Conductor {
    /// The planning prompt and schema for a query (used by `plan` and by
    /// `chorus route`).
    fn plan_spec(&self, query: &str, analysis: &Analysis, candidates: &[String], seed: u32) -> GenerationSpec {
        let mut system = String::from(PLAN_SYSTEM);
        system.push_str("\n\nSpecialists:\n");
        for id in candidates {
            if let Some(specialist) = self.catalog().specialist(id) {
                system.push_str(&format!("- {id}: {}\n", specialist.description));
            }
        }
        let parts: Vec<String> = analysis
            .clauses
            .iter()
            .filter(|clause| !clause.context)
            .filter_map(|clause| {
                let best = clause.best.as_ref().filter(|best| candidates.contains(&best.specialist_id))?;
                Some(format!("- \"{}\" -> {}", clause.text.trim(), best.specialist_id))
            })
            .collect();
        if parts.len() >= 2 {
            system.push_str(
                "\nThe request has these parts (use one sub-task per part, each for a different specialist):\n",
            );
            system.push_str(&parts.join("\n"));
            system.push('\n');
        }
        let ids: Vec<&str> = candidates.iter().map(String::as_str).collect();
        GenerationSpec {
            system,
            prompt: query.to_owned(),
            sampling: SpecialistSampling {
                temperature: self.config.plan_temperature,
                top_k: 40,
                top_p: 0.95,
                min_p: 0.05,
                repeat_penalty: 1.0,
                max_tokens: self.config.plan_max_tokens,
            },
            seed,
            json_schema: Some(plan_schema(&ids, self.config.max_subtasks)),
        }
    }

    /// Asks the conductor model for a plan and returns its raw text (JSON
    /// under the plan grammar) — the planning step alone, for tests and
    /// `chorus route`.
    ///
    /// # Errors
    /// [`ConductorError::Conductor`] if the model fails.
    pub async fn draft_plan(&self, query: &str, analysis: &Analysis, seed: u32) -> Result<String, ConductorError> {
        let reachable = self.reachable(query).await;
        let candidates = self.candidates(analysis, &reachable);
        let stream =
            self.model.generate(self.plan_spec(query, analysis, &candidates, seed)).map_err(ConductorError::from)?;
        let (text, _) = collect(stream, |_| async { true }).await.map_err(ConductorError::from)?;
        Ok(text)
    }

    /// Makes the plan of a composite query: the model's draft, checked and
    /// repaired, or a fallback built from the query's clauses.
    ///
    /// # Errors
    /// [`ConductorError::Conductor`] only if even the fallback is empty.
    pub async fn plan(&self, query: &str, analysis: &Analysis) -> Result<Plan, ConductorError> {
        let reachable = self.reachable(query).await;
        if self.config.writing == ConductorWriting::Compose {
            let plan = plan_from_analysis(
                self.catalog(),
                query,
                analysis,
                &reachable,
                self.config.max_subtasks,
                PlanSource::Analysis,
            );
            if !plan.subtasks.is_empty() {
                return Ok(plan);
            }
        }
        let rules = PlanRules { reachable: &reachable, max_subtasks: self.config.max_subtasks, min_specialists: 2 };
        let reroute = |task: &str| {
            self.router.rank_specialists(task, &reachable).first().map(|score| score.specialist_id.clone())
        };
        let draft = self.draft_plan(query, analysis, self.config.seed).await;
        if let Ok(text) = &draft {
            tracing::debug!(draft = %text, "the planning model's draft");
        }
        let reason = match draft {
            Ok(text) => match serde_json::from_str::<RawPlan>(&text) {
                Ok(mut raw) => {
                    let refits = self.refit(&mut raw, &reachable);
                    match repair_plan(&raw, &rules, reroute) {
                        Some(mut plan) => {
                            let mut repairs = refits;
                            repairs.append(&mut plan.repairs);
                            repairs.extend(self.cover_missing_parts(&mut plan, query, analysis, &reachable));
                            repairs.extend(confine_to_parts(&mut plan, query, analysis));
                            if !repairs.is_empty() {
                                plan.source = PlanSource::Repaired;
                            }
                            plan.repairs = repairs;
                            return Ok(plan);
                        }
                        None => "the model's plan had fewer than two usable specialists".to_owned(),
                    }
                }
                Err(error) => format!("the model's plan was not valid JSON ({error})"),
            },
            Err(error) => format!("the planning model failed ({error})"),
        };
        let plan =
            fallback_from_analysis(self.catalog(), query, analysis, &reachable, self.config.max_subtasks, &reason);
        if plan.subtasks.is_empty() {
            return Err(ConductorError::Conductor(reason));
        }
        Ok(plan)
    }

    /// The plan of a simple query that asks several things, split by
    /// request for `specialist_id` (see [`PlanSource::Split`]); `None`
    /// when it asks one thing. The conductor runs it when a peer would
    /// otherwise receive the whole question.
    #[must_use]
    pub fn split_for_peers(&self, query: &str, analysis: &Analysis) -> Option<Plan> {
        let crate::routing::QueryKind::Simple { specialist_id } = &analysis.kind else {
            return None;
        };
        split_plan(query, analysis, specialist_id, self.config.max_subtasks)
    }

    /// Moves each sub-task to the reachable specialist its own text routes
    /// to best, when that one matches it better than the model's choice
    /// (small planners tend to give every sub-task the first specialist).
    fn refit(&self, raw: &mut RawPlan, reachable: &BTreeSet<String>) -> Vec<String> {
        let mut repairs = Vec::new();
        for (index, subtask) in raw.subtasks.iter_mut().enumerate() {
            let ranking = self.router.rank_specialists(&subtask.task, reachable);
            let Some(best) = ranking.first() else { continue };
            let chosen =
                ranking.iter().find(|score| score.specialist_id == subtask.specialist).map_or(0.0, |score| score.score);
            if best.specialist_id != subtask.specialist && best.score > chosen {
                repairs.push(format!(
                    "sub-task {}: {} fits {:?} better than {}",
                    index + 1,
                    best.specialist_id,
                    subtask.task,
                    subtask.specialist
                ));
                subtask.specialist = best.specialist_id.clone();
            }
        }
        repairs
    }

    /// Adds a sub-task for each part of the request the analysis routed to a
    /// specialist the plan leaves out (while there is room).
    fn cover_missing_parts(
        &self,
        plan: &mut Plan,
        query: &str,
        analysis: &Analysis,
        reachable: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut repairs = Vec::new();
        for clause in analysis.clauses.iter().filter(|clause| !clause.context) {
            let Some(best) = clause.best.as_ref().filter(|best| reachable.contains(&best.specialist_id)) else {
                continue;
            };
            if plan.subtasks.iter().any(|step| step.specialist == best.specialist_id)
                || plan.subtasks.len() >= self.config.max_subtasks
            {
                continue;
            }
            let index = plan.subtasks.len();
            plan.subtasks.push(crate::plan::PlanStep {
                index,
                specialist: best.specialist_id.clone(),
                task: part_task(clause.text.trim(), query, analysis),
                depends_on: Vec::new(),
                part: Some(clause.text.trim().to_owned()),
            });
            repairs.push(format!(
                "added sub-task {} for the part {:?}, which the plan left out",
                index + 1,
                clause.text.trim()
            ));
        }
        repairs
    }
}

/// A plan built from the analysis alone: one sub-task per request clause
/// (carrying the query's context sentences), plus a translation step that
/// depends on it when the clause names a language its specialist does not
/// write. A part whose specialist cannot be reached, or that finds the plan
/// full, is listed in `not_planned` so the answer names it.
fn plan_from_analysis(
    catalog: &Catalog,
    query: &str,
    analysis: &Analysis,
    reachable: &BTreeSet<String>,
    max_subtasks: usize,
    source: PlanSource,
) -> Plan {
    let mut steps: Vec<crate::plan::PlanStep> = Vec::new();
    let mut not_planned = Vec::new();
    let name = |id: &str| catalog.specialist(id).map_or_else(|| id.to_owned(), |specialist| specialist.name.clone());
    for clause in analysis.clauses.iter().filter(|clause| !clause.context && !clause.text.trim().is_empty()) {
        let part = clause.text.trim().trim_end_matches([',', ';', ':', '.']).to_owned();
        // A request no keyword matched goes to the general assistant
        // rather than being dropped.
        let wanted = match &clause.best {
            Some(best) => best.specialist_id.clone(),
            None => FALLBACK_SPECIALIST.to_owned(),
        };
        let specialist = if reachable.contains(&wanted) {
            wanted
        } else if reachable.contains(FALLBACK_SPECIALIST) {
            FALLBACK_SPECIALIST.to_owned()
        } else {
            not_planned.push(UnplannedPart { part, reason: format!("no {} can be reached", name(&wanted)) });
            continue;
        };
        if steps.len() >= max_subtasks {
            not_planned.push(UnplannedPart { part, reason: format!("the plan holds at most {max_subtasks} parts") });
            continue;
        }
        let task = clause_task(clause, query, analysis);
        let index = steps.len();
        steps.push(crate::plan::PlanStep { index, specialist, task, depends_on: Vec::new(), part: Some(part.clone()) });
        let Some(translator) = clause.translator.as_ref() else { continue };
        let language = name(translator);
        if !reachable.contains(translator) {
            not_planned.push(UnplannedPart {
                part: format!("{part} (the translation)"),
                reason: format!("no translator for this language ({language}) can be reached; install its model"),
            });
        } else if steps.len() >= max_subtasks {
            not_planned.push(UnplannedPart {
                part: format!("{part} (the translation)"),
                reason: format!("the plan holds at most {max_subtasks} parts"),
            });
        } else {
            steps.push(crate::plan::PlanStep {
                index: index + 1,
                specialist: translator.clone(),
                task: format!("Translate the result of the previous step as asked ({language})."),
                depends_on: vec![index],
                part: Some(part),
            });
        }
    }
    Plan { subtasks: steps, source, repairs: Vec::new(), not_planned }
}

/// [`plan_from_analysis`] after the model's plan proved unusable, or the
/// whole query for the general assistant when even that is empty.
fn fallback_from_analysis(
    catalog: &Catalog,
    query: &str,
    analysis: &Analysis,
    reachable: &BTreeSet<String>,
    max_subtasks: usize,
    reason: &str,
) -> Plan {
    let mut plan = plan_from_analysis(catalog, query, analysis, reachable, max_subtasks, PlanSource::Fallback);
    if plan.subtasks.is_empty() {
        let parts = vec![(FALLBACK_SPECIALIST.to_owned(), query.trim().to_owned())];
        return fallback_plan(&parts, max_subtasks, reason);
    }
    plan.repairs.push(reason.to_owned());
    plan
}

/// The plan of a simple query with several requests, split for peers:
/// one sub-task per request clause, all for `specialist_id`, none carrying
/// the others. `None` when the query asks one thing.
fn split_plan(query: &str, analysis: &Analysis, specialist_id: &str, max_subtasks: usize) -> Option<Plan> {
    let mut tasks: Vec<(String, String)> = analysis
        .clauses
        .iter()
        .filter(|clause| !clause.context && !clause.text.trim().is_empty())
        .map(|clause| (clause_task(clause, query, analysis), clause.text.trim().to_owned()))
        .collect();
    if tasks.len() < 2 {
        return None;
    }
    // More requests than sub-tasks: the last ones share a part (still
    // never all of them in one).
    while tasks.len() > max_subtasks.max(2) {
        let (task, part) = tasks.pop().unwrap_or_default();
        if let Some((previous, previous_part)) = tasks.last_mut() {
            previous.push(' ');
            previous.push_str(&task);
            previous_part.push(' ');
            previous_part.push_str(&part);
        }
    }
    let subtasks: Vec<crate::plan::PlanStep> = tasks
        .into_iter()
        .enumerate()
        .map(|(index, (task, part))| crate::plan::PlanStep {
            index,
            specialist: specialist_id.to_owned(),
            task,
            depends_on: Vec::new(),
            part: Some(part),
        })
        .collect();
    let repairs = vec![format!(
        "{} requests for one specialist, split so that no peer sees more than its own part",
        subtasks.len()
    )];
    Some(Plan { subtasks, source: PlanSource::Split, repairs, not_planned: Vec::new() })
}

/// The task of one request clause: its own text (with the subject of the
/// request when it cannot stand alone), after the query's context
/// sentences — never the other parts.
fn clause_task(clause: &crate::routing::Clause, query: &str, analysis: &Analysis) -> String {
    let context: Vec<&str> =
        analysis.clauses.iter().filter(|clause| clause.context).map(|clause| clause.text.trim()).collect();
    // A clause alone ("with pricing maths") is no self-contained task:
    // it carries the subject of the request, never the other parts.
    let task = part_task(clause.text.trim(), query, analysis);
    if context.is_empty() { task } else { format!("{} {task}", context.join(" ")) }
}

/// Words that open a clause which cannot stand alone ("with pricing maths",
/// "a tagline in Spanish"): it needs the subject of the request.
const FRAGMENT_OPENERS: &[&str] = &["with", "and", "also", "plus", "a", "an", "the", "some", "its", "their", "then"];

/// Words after which the first clause names its subject ("a marketing
/// plan for my bakery").
const SUBJECT_MARKERS: &[&str] = &["for", "about", "of", "on"];

/// The subject of the request: up to six words after "for", "about", …
/// in its first request clause ("my bakery"), if it names one.
fn subject(analysis: &Analysis) -> Option<String> {
    let first = analysis.clauses.iter().find(|clause| !clause.context)?;
    let words: Vec<&str> = first.text.split_whitespace().collect();
    let at = words.iter().position(|word| SUBJECT_MARKERS.contains(&word.to_lowercase().as_str()))?;
    let subject: Vec<&str> =
        words[at + 1..].iter().take(6).map(|word| word.trim_end_matches([',', '.', ';', ':', '!', '?'])).collect();
    (!subject.is_empty()).then(|| subject.join(" "))
}

/// The task of one part: its own clause, plus the subject of the request
/// when the clause cannot stand alone — never the whole question.
fn part_task(clause: &str, query: &str, analysis: &Analysis) -> String {
    let opener = clause.split_whitespace().next().unwrap_or_default().to_lowercase();
    let first = analysis.clauses.iter().find(|candidate| !candidate.context).map(|first| first.text.trim());
    let needs_subject = FRAGMENT_OPENERS.contains(&opener.as_str()) && first != Some(clause);
    let mut task = clause.trim_end_matches([',', ';', '.']).to_owned();
    if let Some(subject) = subject(analysis).filter(|_| needs_subject)
        && !clause.contains(&subject)
    {
        task.push_str(&format!(" (for {subject})"));
    }
    if task.split_whitespace().count() == query.split_whitespace().count() && analysis.clauses.len() > 1 {
        return clause.to_owned();
    }
    task
}

/// A sub-task the plan wrote as (nearly) the whole question gets its own
/// part instead, when the question has several: a peer running one part
/// must not see the others.
fn confine_to_parts(plan: &mut Plan, query: &str, analysis: &Analysis) -> Vec<String> {
    let requests: Vec<&crate::routing::Clause> = analysis.clauses.iter().filter(|clause| !clause.context).collect();
    if requests.len() < 2 {
        return Vec::new();
    }
    let mut repairs = Vec::new();
    for step in &mut plan.subtasks {
        if context_share(query, &step.task) < 0.8 {
            continue;
        }
        // The clause routed to this step's specialist, else the clause
        // that shares most words with the task.
        let own = requests
            .iter()
            .find(|clause| clause.best.as_ref().is_some_and(|best| best.specialist_id == step.specialist))
            .or_else(|| {
                requests
                    .iter()
                    .max_by(|a, b| context_share(&a.text, &step.task).total_cmp(&context_share(&b.text, &step.task)))
            });
        let Some(own) = own else { continue };
        step.task = part_task(own.text.trim(), query, analysis);
        repairs.push(format!("sub-task {} carried the whole question; it now carries only its part", step.index + 1));
    }
    repairs
}
