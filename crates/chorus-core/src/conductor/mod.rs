//! The conductor's thin async driver: analyse → plan → dispatch and
//! collect → synthesise, with every step reported as a [`ConductorEvent`].
//!
//! The decisions are pure functions elsewhere ([`crate::analyse`],
//! [`crate::repair_plan`], [`crate::next_actions`]); this module only
//! carries them out. It sees models through two small traits —
//! [`TextGenerator`] for the conductor's own writing (plan, synthesis) and
//! [`Executor`] for running a specialist — so it imports neither llama.cpp
//! nor libp2p: `chorus-node` plugs in the local engine, and peers through
//! an [`ExecutorDirectory`] (its network directory offers a
//! `RemoteExecutor` per peer that serves the specialist).
//!
//! The stages, one file each: `planning` (the plan of a composite query),
//! `dispatch` (sub-tasks run with deadlines, retries and the queue) and
//! `synthesis` (the combined answer); `executor` holds the traits models
//! are seen through, `events` what the driver reports, `config` its
//! settings. The conductor owns the [`Router`] that routes its queries.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::catalog::{Catalog, FALLBACK_SPECIALIST};
use crate::plan::{Plan, SubtaskStatus, fallback_plan};
use crate::privacy::Redactor;
use crate::recognise::Recogniser;
use crate::routing::{AllSpecialists, Analysis, QueryKind, Router, SemanticSlot};

mod compose;
mod config;
mod conversation;
mod dispatch;
mod events;
mod executor;
mod followup;
mod home;
mod outbound;
mod planning;
mod shape;
mod synthesis;
mod timings;

pub use compose::{MIN_PART_COVERAGE, clean_part, compose, coverage};
pub use config::{ConductorConfig, ConductorWriting};
pub use events::{ConductorEvent, PartCoverage, SubtaskReport};
pub use executor::{
    Executor, ExecutorDirectory, ExecutorError, ExecutorErrorKind, GenerationChunk, GenerationSpec, GenerationStream,
    StaticExecutors, TextGenerator,
};
pub use followup::{MAX_CARRIED_CHARS, Turn, follow_up_cue};
pub use outbound::SentText;
use timings::Clock;
pub use timings::Timings;

use events::emit;

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

impl From<ExecutorError> for ConductorError {
    /// The conductor model's failure; its consumer going away is a
    /// cancellation.
    fn from(error: ExecutorError) -> Self {
        match error.kind {
            ExecutorErrorKind::Cancelled => Self::Cancelled,
            _ => Self::Conductor(error.message),
        }
    }
}

/// The conductor: a catalog (compiled for routing), the conductor model
/// and executors.
#[derive(Clone)]
pub struct Conductor {
    router: Arc<Router>,
    model: Arc<dyn TextGenerator>,
    directory: Arc<dyn ExecutorDirectory>,
    /// The recognisers of personal data, with the owner's listed names.
    recogniser: Recogniser,
    config: ConductorConfig,
}

impl std::fmt::Debug for Conductor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conductor").field("config", &self.config).finish_non_exhaustive()
    }
}

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
        let recogniser = Recogniser::new(&config.private_names);
        Self { router: Arc::new(Router::new(catalog)), model, directory, recogniser, config }
    }

    /// This conductor routing with the semantic index in `slot` once it is
    /// ready (conductors given one slot share the index).
    #[must_use]
    pub fn with_semantic(mut self, slot: SemanticSlot) -> Self {
        self.router = Arc::new(Router::with_semantic(Arc::clone(self.router.shared_catalog()), slot));
        self
    }

    /// The router it analyses questions with (the catalog compiled for
    /// routing): also for measuring routing on its own, as `chorus eval`
    /// does.
    #[must_use]
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ConductorConfig {
        &self.config
    }

    /// This conductor with other privacy settings: the names the owner
    /// listed and whether sensitive parts stay on this device. Questions
    /// already running keep the settings they started with.
    #[must_use]
    pub fn with_privacy(&self, private_names: Vec<String>, keep_sensitive_on_device: bool) -> Self {
        let config = ConductorConfig { private_names, keep_sensitive_on_device, ..self.config.clone() };
        Self { recogniser: Recogniser::new(&config.private_names), config, ..self.clone() }
    }

    /// The catalog it routes over.
    fn catalog(&self) -> &Catalog {
        self.router.catalog()
    }

    /// Specialists some executor can run now, for `query` (the directory
    /// looks up the specialists the query is about).
    pub async fn reachable(&self, query: &str) -> BTreeSet<String> {
        let everything = self.router.analyse(query, &AllSpecialists);
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
        self.directory.reachable(self.catalog(), &interest).await
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
        Ok(self.router.analyse(query, &reachable))
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
        let clock = Clock::start();
        let analysis = self.analyse(query).await?;
        clock.analysed();
        // One question, one set of placeholders: the same value is the
        // same placeholder in every sub-task, and the mapping dies with it.
        let redactor = Redactor::new(self.recogniser.clone());
        let (kind, specialists) = match &analysis.kind {
            QueryKind::Simple { specialist_id } => ("simple", vec![specialist_id.clone()]),
            QueryKind::Composite { specialist_ids } => ("composite", specialist_ids.clone()),
        };
        emit(events, ConductorEvent::Analysis { kind: kind.to_owned(), reason: analysis.reason.clone(), specialists })
            .await?;

        let (answer, reports) = match &analysis.kind {
            QueryKind::Simple { specialist_id } => {
                // A question that asks several things never goes whole to
                // one peer: split by request when a peer would run it,
                // else kept on this device.
                let split = self.split_for_peers(query, &analysis);
                let mut mode = Mode { direct: true, stays_home: None, clock: &clock };
                if let Some(plan) = split {
                    if self.first_leaves_device(specialist_id).await {
                        return self.ask_split(query, &plan, events, &redactor, &clock).await;
                    }
                    mode.stays_home = Some(format!(
                        "the question has {} parts and goes whole only to this device",
                        plan.subtasks.len()
                    ));
                }
                let plan = fallback_plan(&[(specialist_id.clone(), query.to_owned())], 1, "simple query");
                let reports = self.dispatch(&plan, events, &mode, &redactor).await?;
                let (answer, reports) = self.direct_answer(specialist_id, reports, events).await?;
                return finish(events, answer, reports, &clock, false).await;
            }
            QueryKind::Composite { .. } => {
                let plan = self.plan(query, &analysis).await?;
                clock.planned();
                emit(events, ConductorEvent::plan(&plan)).await?;
                let reports = self.dispatch(&plan, events, &Mode::parts(&clock), &redactor).await?;
                let answer = self.synthesise(query, &plan, &reports, events).await?;
                (answer, reports)
            }
        };
        finish(events, answer, reports, &clock, true).await
    }

    /// The answer of a one-task query whose text streamed as the answer:
    /// the task's text, or, when it failed, a sentence saying so (streamed
    /// too).
    async fn direct_answer(
        &self,
        specialist_id: &str,
        reports: Vec<SubtaskReport>,
        events: &mpsc::Sender<ConductorEvent>,
    ) -> Result<(String, Vec<SubtaskReport>), ConductorError> {
        let answer = reports.first().map(|report| report.text.clone()).unwrap_or_default();
        if reports.first().is_some_and(|report| report.status != SubtaskStatus::Done) {
            let error = reports.first().and_then(|report| report.error.clone()).unwrap_or_default();
            let text = format!("Sorry, the {specialist_id} specialist could not answer: {error}");
            emit(events, ConductorEvent::Token { text: text.clone() }).await?;
            return Ok((text, reports));
        }
        Ok((answer, reports))
    }

    /// Whether the executor the dispatch would try first for
    /// `specialist_id` is off this device (or none is there yet: the one
    /// that appears may be a peer).
    async fn first_leaves_device(&self, specialist_id: &str) -> bool {
        self.directory.executors_for(specialist_id, &[]).await.first().is_none_or(|executor| executor.leaves_device())
    }

    /// Runs a simple query split by request: the parts at once, each a task of
    /// its own, their answers joined in order.
    async fn ask_split(
        &self,
        query: &str,
        plan: &Plan,
        events: &mpsc::Sender<ConductorEvent>,
        redactor: &Redactor,
        clock: &Clock,
    ) -> Result<ConductorEvent, ConductorError> {
        tracing::debug!(
            query_words = crate::privacy::word_count(query),
            parts = plan.subtasks.len(),
            "split for peers"
        );
        clock.planned();
        emit(events, ConductorEvent::plan(plan)).await?;
        let reports = self.dispatch(plan, events, &Mode::parts(clock), redactor).await?;
        let answer = compose::compose(plan, &reports, self.catalog());
        emit(events, ConductorEvent::Token { text: answer.clone() }).await?;
        finish(events, answer, reports, clock, true).await
    }
}

/// How dispatch runs a plan.
pub(super) struct Mode<'c> {
    /// Sub-task text is the answer: it goes out as `token` events.
    direct: bool,
    /// Every sub-task stays on this device, for this reason.
    stays_home: Option<String>,
    /// The question's clock: dispatch marks when the first part starts and
    /// when the last ends.
    clock: &'c Clock,
}

impl Mode<'_> {
    /// The parts of a plan: their text goes to the answer later.
    fn parts(clock: &Clock) -> Mode<'_> {
        Mode { direct: false, stays_home: None, clock }
    }
}

/// Reports the end of a query (`synthesised`: the answer was written after
/// the parts, not streamed by one of them).
async fn finish(
    events: &mpsc::Sender<ConductorEvent>,
    answer: String,
    reports: Vec<SubtaskReport>,
    clock: &Clock,
    synthesised: bool,
) -> Result<ConductorEvent, ConductorError> {
    let coverage = compose::part_coverage(&reports, &answer);
    let timings = clock.timings(&reports, synthesised);
    let done = ConductorEvent::Done { answer, subtasks: reports, ms: timings.total_ms, coverage, timings };
    emit(events, done.clone()).await?;
    Ok(done)
}

#[cfg(test)]
mod tests;
