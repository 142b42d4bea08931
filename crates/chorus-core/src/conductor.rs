//! The conductor's thin async driver: analyse → plan → dispatch and
//! collect → synthesise, with every step reported as a [`ConductorEvent`].
//!
//! The decisions are pure functions elsewhere ([`crate::analyse`],
//! [`crate::repair_plan`], [`crate::next_actions`]); this module only
//! carries them out. It sees models through two small traits —
//! [`TextGenerator`] for the conductor's own writing (plan, synthesis) and
//! [`Executor`] for running a specialist — so it imports neither llama.cpp
//! nor libp2p: `chorus-node` plugs in the local engine (and, later, peers).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::catalog::{Catalog, FALLBACK_SPECIALIST, SpecialistSampling};
use crate::plan::{
    Plan, PlanRules, PlanSource, RawPlan, SubtaskStatus, fallback_plan, next_actions, plan_schema, repair_plan,
};
use crate::routing::{Analysis, QueryKind, analyse, rank_specialists};

/// One generation asked of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSpec {
    /// The system prompt.
    pub system: String,
    /// The user's turn.
    pub prompt: String,
    /// Sampling settings.
    pub sampling: SpecialistSampling,
    /// Random seed.
    pub seed: u32,
    /// When set, the output is JSON valid under this schema.
    pub json_schema: Option<serde_json::Value>,
}

/// What a running generation reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GenerationChunk {
    /// More text.
    Token(String),
    /// Finished: the whole text and the number of tokens.
    Done {
        /// The whole text.
        text: String,
        /// Tokens generated.
        tokens: u32,
    },
    /// Failed.
    Failed(String),
}

/// A running generation. Dropping it cancels the generation.
pub type GenerationStream = mpsc::Receiver<GenerationChunk>;

/// Something that writes text: the conductor model.
pub trait TextGenerator: Send + Sync {
    /// Starts a generation.
    ///
    /// # Errors
    /// A message when the generation cannot start.
    fn generate(&self, spec: GenerationSpec) -> Result<GenerationStream, String>;
}

/// Something that runs specialists: this device, or a peer.
pub trait Executor: Send + Sync {
    /// A stable name for events and the journal (`local`, or a peer id).
    fn id(&self) -> String;
    /// Whether it can run this specialist now.
    fn serves(&self, specialist_id: &str) -> bool;
    /// Runs one sub-task as the specialist `specialist_id`.
    ///
    /// # Errors
    /// A message when the sub-task cannot start.
    fn run(&self, specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, String>;
}

/// Where the conductor finds executors: this device alone, or this device
/// and the network. Asked per query, since peers come and go.
pub trait ExecutorDirectory: Send + Sync {
    /// Specialists some executor can run now. `interest` lists the ones the
    /// query is about, best first, so a network directory can look those
    /// up rather than every specialist of the catalog.
    fn reachable<'a>(&'a self, catalog: &'a Catalog, interest: &'a [String]) -> BoxFuture<'a, BTreeSet<String>>;

    /// Executors for `specialist_id`, best first, leaving out the ids in
    /// `exclude` (executors already tried for this sub-task).
    fn executors_for<'a>(
        &'a self,
        specialist_id: &'a str,
        exclude: &'a [String],
    ) -> BoxFuture<'a, Vec<Arc<dyn Executor>>>;
}

/// A fixed list of executors, in order of preference (this device alone).
#[derive(Clone)]
pub struct StaticExecutors(pub Vec<Arc<dyn Executor>>);

impl ExecutorDirectory for StaticExecutors {
    fn reachable<'a>(&'a self, catalog: &'a Catalog, _interest: &'a [String]) -> BoxFuture<'a, BTreeSet<String>> {
        let reachable = catalog
            .specialists()
            .iter()
            .filter(|specialist| self.0.iter().any(|executor| executor.serves(&specialist.id)))
            .map(|specialist| specialist.id.clone())
            .collect();
        Box::pin(std::future::ready(reachable))
    }

    fn executors_for<'a>(
        &'a self,
        specialist_id: &'a str,
        exclude: &'a [String],
    ) -> BoxFuture<'a, Vec<Arc<dyn Executor>>> {
        let executors = self
            .0
            .iter()
            .filter(|executor| executor.serves(specialist_id) && !exclude.contains(&executor.id()))
            .cloned()
            .collect();
        Box::pin(std::future::ready(executors))
    }
}

/// Settings of the conductor.
#[derive(Debug, Clone, PartialEq)]
pub struct ConductorConfig {
    /// Most sub-tasks in a plan.
    pub max_subtasks: usize,
    /// Most specialists offered to the planning model.
    pub max_candidates: usize,
    /// Deadline of one attempt of one sub-task.
    pub subtask_deadline: Duration,
    /// Attempts per sub-task (the first included). Each attempt goes to the
    /// best executor not tried yet, or the same one when it is the only one.
    pub max_attempts: u32,
    /// How long a sub-task that no executor can run waits in the queue for
    /// one to appear (a peer joining); zero fails it at once.
    pub queue_timeout: Duration,
    /// How often a queued sub-task looks for an executor again.
    pub queue_poll: Duration,
    /// Token cap of the plan.
    pub plan_max_tokens: u32,
    /// Temperature of the planning model.
    pub plan_temperature: f32,
    /// Token cap of the synthesis.
    pub synthesis_max_tokens: u32,
    /// Token cap of one sub-task (the specialist's own cap applies if lower).
    pub subtask_max_tokens: u32,
    /// Seed for the conductor's own generations.
    pub seed: u32,
    /// Characters of sub-task results the synthesis prompt carries in all
    /// (each result gets an equal share, cut at a word). Small models have
    /// small contexts: the prompt and the answer must both fit.
    pub synthesis_input_chars: usize,
}

impl Default for ConductorConfig {
    fn default() -> Self {
        Self {
            max_subtasks: 4,
            max_candidates: 8,
            subtask_deadline: Duration::from_secs(120),
            max_attempts: 2,
            queue_timeout: Duration::ZERO,
            queue_poll: Duration::from_secs(2),
            plan_max_tokens: 640,
            plan_temperature: 0.3,
            synthesis_max_tokens: 320,
            subtask_max_tokens: 256,
            seed: 7,
            synthesis_input_chars: 1400,
        }
    }
}

/// Everything that happens to a query, in order. Serialised with an
/// `event` tag; this is the `chorus ask --json` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConductorEvent {
    /// The analysis: simple or composite, and why.
    Analysis {
        /// `simple` or `composite`.
        kind: String,
        /// The rule that decided it, in words.
        reason: String,
        /// The chosen specialists (one for a simple query).
        specialists: Vec<String>,
    },
    /// The plan of a composite query.
    Plan {
        /// `model`, `repaired` or `fallback`.
        source: PlanSource,
        /// The sub-tasks.
        subtasks: Vec<crate::plan::PlanStep>,
        /// What was repaired, in words.
        repairs: Vec<String>,
    },
    /// No executor can run a sub-task now: it waits in the durable queue
    /// until one appears (a peer joins) or the queue timeout passes. The
    /// prompt is carried so the journal can keep the sub-task.
    SubtaskQueued {
        /// Index in the plan.
        index: usize,
        /// The specialist it needs.
        specialist: String,
        /// The specialist's system prompt.
        system: String,
        /// The sub-task's prompt.
        prompt: String,
        /// Longest wait, in seconds.
        timeout_s: u64,
    },
    /// The `token` text streamed so far is void: the attempt that wrote it
    /// failed (a simple query's specialist, whose text is the answer). The
    /// answer starts again with the next `token`.
    AnswerReset {
        /// The attempt that failed.
        attempt: u32,
    },
    /// A sub-task started on an executor.
    SubtaskStarted {
        /// Its index in the plan.
        index: usize,
        /// The specialist.
        specialist: String,
        /// The executor.
        executor: String,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// Text of a sub-task of a composite query.
    SubtaskToken {
        /// Its index.
        index: usize,
        /// The text.
        text: String,
    },
    /// A sub-task finished.
    SubtaskDone {
        /// Its index.
        index: usize,
        /// The specialist.
        specialist: String,
        /// The executor.
        executor: String,
        /// Tokens generated.
        tokens: u32,
        /// Milliseconds of the successful attempt.
        ms: u64,
    },
    /// An attempt of a sub-task failed (or ran past its deadline).
    SubtaskFailed {
        /// Its index.
        index: usize,
        /// The specialist.
        specialist: String,
        /// The executor.
        executor: String,
        /// Why.
        error: String,
        /// The attempt that failed.
        attempt: u32,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// A sub-task will not run because a dependency failed.
    SubtaskSkipped {
        /// Its index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Text of the answer (the synthesis, or a simple query's specialist).
    Token {
        /// The text.
        text: String,
    },
    /// The query failed as a whole (sub-task failures are not this).
    Error {
        /// A stable code: `empty_prompt`, `nothing_reachable`, `cancelled`, `conductor_failed`.
        code: String,
        /// What went wrong, for people.
        message: String,
    },
    /// The answer is complete.
    Done {
        /// The whole answer.
        answer: String,
        /// The end state of every sub-task.
        subtasks: Vec<SubtaskReport>,
        /// Milliseconds from the query to the end of the answer.
        ms: u64,
    },
}

/// The end state of one sub-task, as `done` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskReport {
    /// Its index.
    pub index: usize,
    /// The specialist.
    pub specialist: String,
    /// The executor of its last attempt (empty if it never started).
    pub executor: String,
    /// Its end state.
    pub status: SubtaskStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Tokens of its result.
    pub tokens: u32,
    /// Milliseconds of its last attempt.
    pub ms: u64,
    /// Its result text (empty unless done).
    pub text: String,
    /// The last error, if any.
    pub error: Option<String>,
}

/// Why the conductor could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConductorError {
    /// The query is empty.
    #[error("the question is empty")]
    EmptyQuery,
    /// No executor serves any specialist.
    #[error("no specialist can be reached: install a model or allow the network")]
    NothingReachable,
    /// The conductor model failed while synthesising.
    #[error("the conductor model failed: {0}")]
    Conductor(String),
    /// The event consumer went away: the query was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// The conductor: a catalog, the conductor model and executors.
#[derive(Clone)]
pub struct Conductor {
    catalog: Arc<Catalog>,
    model: Arc<dyn TextGenerator>,
    directory: Arc<dyn ExecutorDirectory>,
    config: ConductorConfig,
}

impl std::fmt::Debug for Conductor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conductor").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The system prompt of the planning step.
const PLAN_SYSTEM: &str = "You are the conductor of Chorus. Split the user's request into a few self-contained \
sub-tasks, one per part of the request, each for the most suitable specialist from the list. Write each task as \
a complete instruction that a specialist can do without seeing the request, carrying only the context it needs. \
Use depends_on only when a task needs an earlier task's result. Answer with JSON only.";

/// The system prompt of the synthesis step.
const SYNTHESIS_SYSTEM: &str = "You are the conductor of Chorus. Specialists worked on parts of the user's request. \
Write one coherent answer to the request that combines their results: keep their facts and figures, remove \
repetition, and do not list the specialists. If a part failed, say briefly that this part could not be answered.";

impl Conductor {
    /// A conductor over `catalog`, writing plans and syntheses with `model`
    /// and running specialists on `executors` (in order of preference).
    #[must_use]
    pub fn new(
        catalog: Arc<Catalog>,
        model: Arc<dyn TextGenerator>,
        executors: Vec<Arc<dyn Executor>>,
        config: ConductorConfig,
    ) -> Self {
        Self::with_directory(catalog, model, Arc::new(StaticExecutors(executors)), config)
    }

    /// A conductor that finds its executors in `directory` (this device and
    /// the network).
    #[must_use]
    pub fn with_directory(
        catalog: Arc<Catalog>,
        model: Arc<dyn TextGenerator>,
        directory: Arc<dyn ExecutorDirectory>,
        config: ConductorConfig,
    ) -> Self {
        Self { catalog, model, directory, config }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ConductorConfig {
        &self.config
    }

    /// Specialists some executor can run now, for `query` (the directory
    /// looks up the specialists the query is about).
    pub async fn reachable(&self, query: &str) -> BTreeSet<String> {
        let everything = analyse(&self.catalog, query, &crate::routing::AllSpecialists);
        let mut interest: Vec<String> = match &everything.kind {
            QueryKind::Simple { specialist_id } => vec![specialist_id.clone()],
            QueryKind::Composite { specialist_ids } => specialist_ids.clone(),
        };
        for score in &everything.ranking {
            if !interest.contains(&score.specialist_id) {
                interest.push(score.specialist_id.clone());
            }
        }
        interest.truncate(self.config.max_candidates.max(2));
        if !interest.iter().any(|id| id == FALLBACK_SPECIALIST) {
            interest.push(FALLBACK_SPECIALIST.to_owned());
        }
        self.directory.reachable(&self.catalog, &interest).await
    }

    /// The analysis stage alone (no model call).
    ///
    /// # Errors
    /// [`ConductorError::EmptyQuery`] or [`ConductorError::NothingReachable`].
    pub async fn analyse(&self, query: &str) -> Result<Analysis, ConductorError> {
        if query.trim().is_empty() {
            return Err(ConductorError::EmptyQuery);
        }
        let reachable = self.reachable(query).await;
        if reachable.is_empty() {
            return Err(ConductorError::NothingReachable);
        }
        Ok(analyse(&self.catalog, query, &reachable))
    }

    /// Specialists offered to the planning model for `analysis`: the ones it
    /// ranked, then the general assistant, all reachable.
    fn candidates(&self, analysis: &Analysis, reachable: &BTreeSet<String>) -> Vec<String> {
        let mut candidates: Vec<String> = Vec::new();
        let mut push = |id: &str| {
            if reachable.contains(id) && !candidates.iter().any(|c| c == id) {
                candidates.push(id.to_owned());
            }
        };
        if let QueryKind::Composite { specialist_ids } = &analysis.kind {
            for id in specialist_ids {
                push(id);
            }
        }
        for score in &analysis.ranking {
            push(&score.specialist_id);
        }
        push(FALLBACK_SPECIALIST);
        candidates.truncate(self.config.max_candidates.max(2));
        candidates
    }

    /// The planning prompt and schema for a query (used by `plan` and by
    /// `chorus route`).
    fn plan_spec(&self, query: &str, analysis: &Analysis, candidates: &[String], seed: u32) -> GenerationSpec {
        let mut system = String::from(PLAN_SYSTEM);
        system.push_str("\n\nSpecialists:\n");
        for id in candidates {
            if let Some(specialist) = self.catalog.specialist(id) {
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
        let stream = self
            .model
            .generate(self.plan_spec(query, analysis, &candidates, seed))
            .map_err(ConductorError::Conductor)?;
        let (text, _) = collect(stream, |_| async { true }).await.map_err(ConductorError::Conductor)?;
        Ok(text)
    }

    /// Makes the plan of a composite query: the model's draft, checked and
    /// repaired, or a fallback built from the query's clauses.
    ///
    /// # Errors
    /// [`ConductorError::Conductor`] only if even the fallback is empty.
    pub async fn plan(&self, query: &str, analysis: &Analysis) -> Result<Plan, ConductorError> {
        let reachable = self.reachable(query).await;
        let rules = PlanRules { reachable: &reachable, max_subtasks: self.config.max_subtasks, min_specialists: 2 };
        let reroute = |task: &str| {
            rank_specialists(&self.catalog, task, &reachable).first().map(|score| score.specialist_id.clone())
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
            fallback_from_analysis(&self.catalog, query, analysis, &reachable, self.config.max_subtasks, &reason);
        if plan.subtasks.is_empty() {
            return Err(ConductorError::Conductor(reason));
        }
        Ok(plan)
    }

    /// Moves each sub-task to the reachable specialist its own text routes
    /// to best, when that one matches it better than the model's choice
    /// (small planners tend to give every sub-task the first specialist).
    fn refit(&self, raw: &mut RawPlan, reachable: &BTreeSet<String>) -> Vec<String> {
        let mut repairs = Vec::new();
        for (index, subtask) in raw.subtasks.iter_mut().enumerate() {
            let ranking = rank_specialists(&self.catalog, &subtask.task, reachable);
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
                task: format!(
                    "{} (This is one part of the request \"{}\"; answer only this part.)",
                    clause.text.trim(),
                    query.trim()
                ),
                depends_on: Vec::new(),
            });
            repairs.push(format!(
                "added sub-task {} for the part {:?}, which the plan left out",
                index + 1,
                clause.text.trim()
            ));
        }
        repairs
    }

    /// Answers a query, reporting every step on `events`. Dropping the
    /// receiver of `events` cancels the query.
    ///
    /// # Errors
    /// A [`ConductorError`]; sub-task failures are not errors (they are
    /// reported and acknowledged in the answer).
    pub async fn ask(
        &self,
        query: &str,
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<ConductorEvent, ConductorError> {
        let started = Instant::now();
        let analysis = self.analyse(query).await?;
        let (kind, specialists) = match &analysis.kind {
            QueryKind::Simple { specialist_id } => ("simple", vec![specialist_id.clone()]),
            QueryKind::Composite { specialist_ids } => ("composite", specialist_ids.clone()),
        };
        emit(events, ConductorEvent::Analysis { kind: kind.to_owned(), reason: analysis.reason.clone(), specialists })
            .await?;

        let (answer, reports) = match &analysis.kind {
            QueryKind::Simple { specialist_id } => {
                let plan = fallback_plan(&[(specialist_id.clone(), query.to_owned())], 1, "simple query");
                let reports = self.dispatch(&plan, events, true).await?;
                let answer = reports.first().map(|report| report.text.clone()).unwrap_or_default();
                if reports.first().is_some_and(|report| report.status != SubtaskStatus::Done) {
                    let error = reports.first().and_then(|report| report.error.clone()).unwrap_or_default();
                    let text = format!("Sorry, the {specialist_id} specialist could not answer: {error}");
                    emit(events, ConductorEvent::Token { text: text.clone() }).await?;
                    (text, reports)
                } else {
                    (answer, reports)
                }
            }
            QueryKind::Composite { .. } => {
                let plan = self.plan(query, &analysis).await?;
                emit(
                    events,
                    ConductorEvent::Plan {
                        source: plan.source,
                        subtasks: plan.subtasks.clone(),
                        repairs: plan.repairs.clone(),
                    },
                )
                .await?;
                let reports = self.dispatch(&plan, events, false).await?;
                let answer = self.synthesise(query, &plan, &reports, events).await?;
                (answer, reports)
            }
        };
        let done = ConductorEvent::Done {
            answer,
            subtasks: reports,
            ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        emit(events, done.clone()).await?;
        Ok(done)
    }

    /// Runs the plan's sub-tasks, each as soon as its dependencies are done,
    /// all runnable ones at once. With `direct`, sub-task text is the answer
    /// and goes out as `token` events.
    async fn dispatch(
        &self,
        plan: &Plan,
        events: &mpsc::Sender<ConductorEvent>,
        direct: bool,
    ) -> Result<Vec<SubtaskReport>, ConductorError> {
        let mut statuses = vec![SubtaskStatus::Pending; plan.subtasks.len()];
        let mut reports: Vec<SubtaskReport> = plan
            .subtasks
            .iter()
            .map(|step| SubtaskReport {
                index: step.index,
                specialist: step.specialist.clone(),
                executor: String::new(),
                status: SubtaskStatus::Pending,
                attempts: 0,
                tokens: 0,
                ms: 0,
                text: String::new(),
                error: None,
            })
            .collect();
        let mut running = FuturesUnordered::new();
        loop {
            let next = next_actions(plan, &statuses);
            for index in next.skip {
                statuses[index] = SubtaskStatus::Skipped;
                reports[index].status = SubtaskStatus::Skipped;
                let reason = "a sub-task it depends on did not finish".to_owned();
                reports[index].error = Some(reason.clone());
                emit(events, ConductorEvent::SubtaskSkipped { index, reason }).await?;
            }
            for index in next.start {
                statuses[index] = SubtaskStatus::Running;
                let prompt = subtask_prompt(plan, index, &reports);
                running.push(self.run_subtask(plan.subtasks[index].specialist.clone(), index, prompt, events, direct));
            }
            if statuses.iter().all(|status| status.is_final()) {
                break;
            }
            match running.next().await {
                Some(report) => {
                    let report = report?;
                    statuses[report.index] = report.status;
                    let index = report.index;
                    reports[index] = report;
                }
                None => break,
            }
        }
        Ok(reports)
    }

    /// Runs one sub-task with a deadline per attempt and retries on another
    /// executor (or the same one when it is the only one).
    async fn run_subtask(
        &self,
        specialist_id: String,
        index: usize,
        prompt: String,
        events: &mpsc::Sender<ConductorEvent>,
        direct: bool,
    ) -> Result<SubtaskReport, ConductorError> {
        let mut report = SubtaskReport {
            index,
            specialist: specialist_id.clone(),
            executor: String::new(),
            status: SubtaskStatus::Failed,
            attempts: 0,
            tokens: 0,
            ms: 0,
            text: String::new(),
            error: Some("no executor serves this specialist".to_owned()),
        };
        let Some(specialist) = self.catalog.specialist(&specialist_id) else {
            report.error = Some(format!("unknown specialist {specialist_id}"));
            return Ok(report);
        };
        let attempts = self.config.max_attempts.max(1);
        let mut tried: Vec<String> = Vec::new();
        for attempt in 1..=attempts {
            let mut executors = self.directory.executors_for(&specialist_id, &tried).await;
            if executors.is_empty() && !tried.is_empty() {
                // Every executor was tried: the same one again, if any.
                executors = self.directory.executors_for(&specialist_id, &[]).await;
            }
            if executors.is_empty() && attempt == 1 && !self.config.queue_timeout.is_zero() {
                emit(
                    events,
                    ConductorEvent::SubtaskQueued {
                        index,
                        specialist: specialist_id.clone(),
                        system: specialist.system_prompt.clone(),
                        prompt: prompt.clone(),
                        timeout_s: self.config.queue_timeout.as_secs(),
                    },
                )
                .await?;
                executors = self.wait_for_executor(&specialist_id, events).await?;
                if executors.is_empty() {
                    report.error = Some(format!(
                        "no executor for {specialist_id} appeared within {} s",
                        self.config.queue_timeout.as_secs()
                    ));
                }
            }
            let Some(executor) = executors.first() else {
                break;
            };
            tried.push(executor.id());
            let executor_id = executor.id();
            report.attempts = attempt;
            report.executor = executor_id.clone();
            emit(
                events,
                ConductorEvent::SubtaskStarted {
                    index,
                    specialist: specialist_id.clone(),
                    executor: executor_id.clone(),
                    attempt,
                },
            )
            .await?;
            let mut sampling = specialist.sampling;
            sampling.max_tokens = sampling.max_tokens.min(self.config.subtask_max_tokens);
            let spec = GenerationSpec {
                system: specialist.system_prompt.clone(),
                prompt: prompt.clone(),
                sampling,
                seed: self.config.seed.wrapping_add(attempt),
                json_schema: None,
            };
            let attempt_started = Instant::now();
            let streamed = std::sync::atomic::AtomicBool::new(false);
            let outcome = match executor.run(&specialist_id, spec) {
                Err(error) => Err(error),
                Ok(stream) => {
                    let forward = |text: String| {
                        streamed.store(true, std::sync::atomic::Ordering::Relaxed);
                        let event = if direct {
                            ConductorEvent::Token { text }
                        } else {
                            ConductorEvent::SubtaskToken { index, text }
                        };
                        async move { events.send(event).await.is_ok() }
                    };
                    match tokio::time::timeout(self.config.subtask_deadline, collect(stream, forward)).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("deadline of {} s passed", self.config.subtask_deadline.as_secs_f64())),
                    }
                }
            };
            if events.is_closed() {
                return Err(ConductorError::Cancelled);
            }
            report.ms = u64::try_from(attempt_started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match outcome {
                Ok((text, tokens)) => {
                    report.status = SubtaskStatus::Done;
                    report.text = text;
                    report.tokens = tokens;
                    report.error = None;
                    emit(
                        events,
                        ConductorEvent::SubtaskDone {
                            index,
                            specialist: specialist_id.clone(),
                            executor: executor_id,
                            tokens,
                            ms: report.ms,
                        },
                    )
                    .await?;
                    return Ok(report);
                }
                Err(error) => {
                    let timed_out = error.starts_with("deadline");
                    report.status = if timed_out { SubtaskStatus::TimedOut } else { SubtaskStatus::Failed };
                    report.error = Some(error.clone());
                    emit(
                        events,
                        ConductorEvent::SubtaskFailed {
                            index,
                            specialist: specialist_id.clone(),
                            executor: executor_id,
                            error,
                            attempt,
                            will_retry: attempt < attempts,
                        },
                    )
                    .await?;
                    if direct && streamed.load(std::sync::atomic::Ordering::Relaxed) {
                        // The answer streamed so far came from the failed
                        // attempt: consumers drop it.
                        emit(events, ConductorEvent::AnswerReset { attempt }).await?;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Waits for an executor of `specialist_id` to appear, up to the queue
    /// timeout. Empty when none did.
    async fn wait_for_executor(
        &self,
        specialist_id: &str,
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<Vec<Arc<dyn Executor>>, ConductorError> {
        let deadline = Instant::now() + self.config.queue_timeout;
        let poll = self.config.queue_poll.max(Duration::from_millis(50));
        while Instant::now() < deadline {
            tokio::time::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))).await;
            if events.is_closed() {
                return Err(ConductorError::Cancelled);
            }
            let executors = self.directory.executors_for(specialist_id, &[]).await;
            if !executors.is_empty() {
                return Ok(executors);
            }
        }
        Ok(Vec::new())
    }

    /// Merges the sub-task results into one answer, streamed.
    async fn synthesise(
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
                .catalog
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
        let stream = self.model.generate(spec).map_err(ConductorError::Conductor)?;
        let forward = |text: String| {
            let event = ConductorEvent::Token { text };
            async move { events.send(event).await.is_ok() }
        };
        let (mut answer, _) = collect(stream, forward).await.map_err(ConductorError::Conductor)?;
        if events.is_closed() {
            return Err(ConductorError::Cancelled);
        }
        // A failed part is acknowledged in the answer, never hidden.
        let failed: Vec<&SubtaskReport> =
            reports.iter().filter(|report| report.status != SubtaskStatus::Done).collect();
        if !failed.is_empty() {
            let mut note = String::from("\n\nNote: some parts could not be answered:");
            for report in failed {
                note.push_str(&format!(
                    "\n- {} ({}): {}",
                    plan.subtasks[report.index].task,
                    report.specialist,
                    report.error.as_deref().unwrap_or("no result")
                ));
            }
            emit(events, ConductorEvent::Token { text: note.clone() }).await?;
            answer.push_str(&note);
        }
        Ok(answer)
    }
}

/// A plan built from the analysis alone: one sub-task per request clause
/// (carrying the query's context sentences), plus a translation step that
/// depends on it when the clause names a language its specialist does not
/// write.
fn fallback_from_analysis(
    catalog: &Catalog,
    query: &str,
    analysis: &Analysis,
    reachable: &BTreeSet<String>,
    max_subtasks: usize,
    reason: &str,
) -> Plan {
    let context: Vec<&str> =
        analysis.clauses.iter().filter(|clause| clause.context).map(|clause| clause.text.trim()).collect();
    let context = context.join(" ");
    let mut steps: Vec<crate::plan::PlanStep> = Vec::new();
    for clause in analysis.clauses.iter().filter(|clause| !clause.context) {
        if steps.len() >= max_subtasks {
            break;
        }
        let Some(best) = clause.best.as_ref().filter(|best| reachable.contains(&best.specialist_id)) else {
            continue;
        };
        // A clause alone ("with pricing maths") is no self-contained task:
        // carry the request it belongs to.
        let mut task = format!(
            "{} (This is one part of the request \"{}\"; answer only this part.)",
            clause.text.trim(),
            query.trim()
        );
        if !context.is_empty() {
            task = format!("{context} {task}");
        }
        let index = steps.len();
        steps.push(crate::plan::PlanStep {
            index,
            specialist: best.specialist_id.clone(),
            task,
            depends_on: Vec::new(),
        });
        if let Some(translator) = clause.translator.as_ref().filter(|id| reachable.contains(*id))
            && steps.len() < max_subtasks
        {
            let language =
                catalog.specialist(translator).map_or_else(|| translator.clone(), |specialist| specialist.name.clone());
            steps.push(crate::plan::PlanStep {
                index: index + 1,
                specialist: translator.clone(),
                task: format!("Translate the result of the previous step as asked ({language})."),
                depends_on: vec![index],
            });
        }
    }
    if steps.is_empty() {
        let parts = vec![(FALLBACK_SPECIALIST.to_owned(), query.trim().to_owned())];
        return fallback_plan(&parts, max_subtasks, reason);
    }
    Plan { subtasks: steps, source: PlanSource::Fallback, repairs: vec![reason.to_owned()] }
}

/// The prompt of a sub-task: its task, plus the results of its dependencies.
fn subtask_prompt(plan: &Plan, index: usize, reports: &[SubtaskReport]) -> String {
    let step = &plan.subtasks[index];
    if step.depends_on.is_empty() {
        return step.task.clone();
    }
    let mut prompt = step.task.clone();
    prompt.push_str("\n\nUse these results:\n");
    for &dependency in &step.depends_on {
        if let Some(report) = reports.get(dependency) {
            prompt.push_str(&format!("- {}: {}\n", plan.subtasks[dependency].task, shorten(report.text.trim(), 600)));
        }
    }
    prompt
}

/// `text` cut to at most `limit` characters, at a word, marked with "…".
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let cut: String = text.chars().take(limit).collect();
    let at_word = cut.rfind(char::is_whitespace).filter(|at| *at > limit / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at_word].trim_end())
}

async fn emit(events: &mpsc::Sender<ConductorEvent>, event: ConductorEvent) -> Result<(), ConductorError> {
    events.send(event).await.map_err(|_| ConductorError::Cancelled)
}

/// Reads a generation to its end, passing each token to `forward` (which
/// returns false to stop). Returns the text and token count.
async fn collect<F, Fut>(mut stream: GenerationStream, mut forward: F) -> Result<(String, u32), String>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut text = String::new();
    while let Some(chunk) = stream.recv().await {
        match chunk {
            GenerationChunk::Token(piece) => {
                text.push_str(&piece);
                if !forward(piece).await {
                    return Err("cancelled".to_owned());
                }
            }
            GenerationChunk::Done { text: whole, tokens } => return Ok((whole, tokens)),
            GenerationChunk::Failed(error) => return Err(error),
        }
    }
    Err(format!("the generation stopped without a result after {} bytes", text.len()))
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shorten_cuts_at_a_word() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("one two three four", 12), "one two…");
        assert_eq!(shorten("ééééééééé", 4), "éééé…");
    }
}
