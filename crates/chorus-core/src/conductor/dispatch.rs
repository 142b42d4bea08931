//! Dispatch: the plan's sub-tasks run as their dependencies allow, each
//! with a deadline per attempt, retried on another executor, queued while
//! no executor can run it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::plan::{Plan, SubtaskStatus, next_actions};
use crate::privacy::Redactor;

use super::events::{ConductorEvent, SubtaskReport, emit};
use super::executor::{Executor, ExecutorError, ExecutorErrorKind, GenerationSpec, collect};
use super::outbound;
use super::shape::{PartShape, part_shape};
use super::synthesis::shorten;
use super::{Conductor, ConductorError, Mode};

impl Conductor {
    /// Runs the plan's sub-tasks, each as soon as its dependencies are done,
    /// all runnable ones at once, as `mode` says. What leaves the device is
    /// redacted through the question's `redactor`.
    pub(super) async fn dispatch(
        &self,
        plan: &Plan,
        events: &mpsc::Sender<ConductorEvent>,
        mode: &Mode<'_>,
        redactor: &Redactor,
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
        // The peers running a part of this question: another part goes to
        // a peer not among them when one can run it.
        let holding = std::sync::Mutex::new(Vec::new());
        // The form each part's answer should take (a simple question's own
        // words go as they are).
        let shapes: Vec<PartShape> = plan
            .subtasks
            .iter()
            .map(
                |step| {
                    if mode.direct { PartShape::Free } else { part_shape(step.part.as_deref().unwrap_or(&step.task)) }
                },
            )
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
                let mut prompt = subtask_prompt(plan, index, &reports);
                if let Some(instruction) = shapes[index].instruction() {
                    prompt.push_str("\n\n");
                    prompt.push_str(&instruction);
                }
                running.push(self.run_subtask(
                    plan.subtasks[index].specialist.clone(),
                    index,
                    prompt,
                    shapes[index].max_tokens(),
                    events,
                    mode,
                    redactor,
                    &holding,
                ));
            }
            if statuses.iter().all(|status| status.is_final()) {
                break;
            }
            match running.next().await {
                Some(report) => {
                    let mut report = report?;
                    if report.status == SubtaskStatus::Done {
                        report.text = shapes[report.index].fit(&report.text);
                    }
                    statuses[report.index] = report.status;
                    let index = report.index;
                    reports[index] = report;
                }
                None => break,
            }
        }
        mode.clock.parts_done();
        Ok(reports)
    }

    /// Runs one sub-task with a deadline per attempt and retries on another
    /// executor (or the same one when it is the only one). A part the
    /// owner keeps home runs only on this device. Of the peers that can run
    /// it, one not `holding` another part of the question goes first, so
    /// that no peer gets two parts while another could take one.
    #[allow(clippy::too_many_lines, clippy::too_many_arguments)]
    async fn run_subtask(
        &self,
        specialist_id: String,
        index: usize,
        prompt: String,
        token_cap: Option<u32>,
        events: &mpsc::Sender<ConductorEvent>,
        mode: &Mode<'_>,
        redactor: &Redactor,
        holding: &std::sync::Mutex<Vec<String>>,
    ) -> Result<SubtaskReport, ConductorError> {
        let direct = mode.direct;
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
        let Some(specialist) = self.catalog().specialist(&specialist_id) else {
            report.error = Some(format!("unknown specialist {specialist_id}"));
            return Ok(report);
        };
        let kept_on_device = mode.stays_home.clone().or_else(|| self.keep_home_reason(specialist, &prompt));
        let attempts = self.config.max_attempts.max(1);
        let mut tried: Vec<String> = Vec::new();
        // Executors that refused this sub-task: asking again gives the same
        // answer, so they are not tried a second time.
        let mut refused: Vec<String> = Vec::new();
        for attempt in 1..=attempts {
            let mut executors = self.directory.executors_for(&specialist_id, &tried).await;
            if executors.is_empty() && !tried.is_empty() {
                // Every executor was tried: the same one again, if any,
                // unless it refused.
                executors = self.directory.executors_for(&specialist_id, &refused).await;
            }
            let mut run_as = specialist_id.clone();
            // Said only when the rule turned a peer away.
            let mut kept_from_peer = None;
            if kept_on_device.is_some() {
                if executors.iter().any(|executor| executor.leaves_device()) {
                    kept_from_peer.clone_from(&kept_on_device);
                }
                executors.retain(|executor| !executor.leaves_device());
                if executors.is_empty() {
                    let home = self.home(&refused).await;
                    executors = home.executors;
                    run_as = home.run_as;
                }
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
            let Some(executor) = pick(executors, holding) else {
                break;
            };
            tried.push(executor.id());
            let executor_id = executor.id();
            report.attempts = attempt;
            report.executor = executor_id.clone();
            let mut sampling = specialist.sampling;
            sampling.max_tokens =
                sampling.max_tokens.min(self.config.subtask_max_tokens).min(token_cap.unwrap_or(u32::MAX));
            let spec = GenerationSpec {
                system: specialist.system_prompt.clone(),
                prompt: prompt.clone(),
                sampling,
                seed: self.config.seed.wrapping_add(attempt),
                json_schema: None,
            };
            let left_device = executor.leaves_device();
            let prepared = outbound::prepare(executor, spec, redactor);
            emit(
                events,
                ConductorEvent::SubtaskStarted {
                    index,
                    specialist: specialist_id.clone(),
                    executor: executor_id.clone(),
                    attempt,
                    left_device,
                    redacted: prepared.redacted,
                    sent: prepared.sent.clone(),
                    kept_on_device: kept_from_peer,
                },
            )
            .await?;
            mode.clock.part_started();
            let attempt_started = Instant::now();
            let streamed = std::sync::atomic::AtomicBool::new(false);
            let outcome = match outbound::run(prepared, &run_as) {
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
                        Err(_) => Err(ExecutorError::new(
                            ExecutorErrorKind::TimedOut,
                            format!("deadline of {} s passed", self.config.subtask_deadline.as_secs_f64()),
                        )),
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
                Err(ExecutorError { kind, message: error }) => {
                    report.status = if kind == ExecutorErrorKind::TimedOut {
                        SubtaskStatus::TimedOut
                    } else {
                        SubtaskStatus::Failed
                    };
                    if kind == ExecutorErrorKind::Refused {
                        refused.push(executor_id.clone());
                    }
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
}

/// The first of the ranked `executors`, unless it is a peer holding another
/// part of the question and a later one is not: then the best of those. A
/// chosen peer is added to `holding`.
fn pick(executors: Vec<Arc<dyn Executor>>, holding: &std::sync::Mutex<Vec<String>>) -> Option<Arc<dyn Executor>> {
    let Ok(mut holding) = holding.lock() else {
        return executors.into_iter().next();
    };
    let held = |executor: &Arc<dyn Executor>| executor.leaves_device() && holding.contains(&executor.id());
    let at = executors.iter().position(|executor| !held(executor)).unwrap_or(0);
    let executor = executors.into_iter().nth(at)?;
    if executor.leaves_device() && !holding.contains(&executor.id()) {
        holding.push(executor.id());
    }
    Some(executor)
}

/// The prompt of a sub-task: its task, plus the results of its
/// dependencies, trimmed — never the other parts' tasks, so a peer running
/// this part sees nothing of the question beyond what the part needs.
fn subtask_prompt(plan: &Plan, index: usize, reports: &[SubtaskReport]) -> String {
    let step = &plan.subtasks[index];
    if step.depends_on.is_empty() {
        return step.task.clone();
    }
    let mut prompt = step.task.clone();
    prompt.push_str("\n\nUse this result of an earlier step:\n");
    for &dependency in &step.depends_on {
        if let Some(report) = reports.get(dependency) {
            prompt.push_str(&format!("{}\n", shorten(report.text.trim(), 600)));
        }
    }
    prompt
}
