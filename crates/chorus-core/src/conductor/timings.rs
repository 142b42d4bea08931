//! Where a question's time went: the `timings` of the `done` event.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::events::SubtaskReport;
use crate::plan::SubtaskStatus;

/// Where a question's time went, in milliseconds (the `done` event's
/// `timings`). Stages a question did not go through are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Analysing the question (routing it), from its start.
    pub analyse_ms: u64,
    /// Planning its parts (a composite question, or a simple one split
    /// for peers), from the end of the analysis to the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_ms: Option<u64>,
    /// When the first part started on an executor, from the question's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_part_started_ms: Option<u64>,
    /// The longest part that was done (its last attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowest_part_ms: Option<u64>,
    /// Writing the answer after the last part ended (synthesis or
    /// composition); absent when a specialist's text is the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthesis_ms: Option<u64>,
    /// From the question to the end of the answer (the `done` event's `ms`).
    pub total_ms: u64,
}

/// The moments of one question, marked as it goes.
#[derive(Debug)]
pub(super) struct Clock {
    started: Instant,
    analysed: OnceLock<Duration>,
    planned: OnceLock<Duration>,
    first_part: OnceLock<Duration>,
    parts_done: OnceLock<Duration>,
}

impl Clock {
    pub(super) fn start() -> Clock {
        Clock {
            started: Instant::now(),
            analysed: OnceLock::new(),
            planned: OnceLock::new(),
            first_part: OnceLock::new(),
            parts_done: OnceLock::new(),
        }
    }

    /// The analysis is known.
    pub(super) fn analysed(&self) {
        self.analysed.get_or_init(|| self.started.elapsed());
    }

    /// The plan is known.
    pub(super) fn planned(&self) {
        self.planned.get_or_init(|| self.started.elapsed());
    }

    /// A part started on an executor (the first call counts).
    pub(super) fn part_started(&self) {
        self.first_part.get_or_init(|| self.started.elapsed());
    }

    /// Every part has ended; what follows is writing the answer.
    pub(super) fn parts_done(&self) {
        self.parts_done.get_or_init(|| self.started.elapsed());
    }

    /// The timings now, at the end of the answer.
    pub(super) fn timings(&self, reports: &[SubtaskReport], synthesised: bool) -> Timings {
        let total = self.started.elapsed();
        let analysed = self.analysed.get().copied().unwrap_or(total);
        Timings {
            analyse_ms: millis(analysed),
            plan_ms: self.planned.get().map(|planned| millis(planned.saturating_sub(analysed))),
            first_part_started_ms: self.first_part.get().copied().map(millis),
            slowest_part_ms: reports
                .iter()
                .filter(|report| report.status == SubtaskStatus::Done)
                .map(|report| report.ms)
                .max(),
            synthesis_ms: self
                .parts_done
                .get()
                .filter(|_| synthesised)
                .map(|parts_done| millis(total.saturating_sub(*parts_done))),
            total_ms: millis(total),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(status: SubtaskStatus, ms: u64) -> SubtaskReport {
        SubtaskReport {
            index: 0,
            specialist: "s".into(),
            executor: "e".into(),
            status,
            attempts: 1,
            tokens: 1,
            ms,
            text: String::new(),
            error: None,
        }
    }

    #[test]
    fn stages_are_measured_in_order_and_absent_when_skipped() {
        let clock = Clock::start();
        clock.analysed();
        std::thread::sleep(Duration::from_millis(3));
        clock.part_started();
        clock.parts_done();
        let timings = clock.timings(&[report(SubtaskStatus::Done, 40), report(SubtaskStatus::Failed, 90)], false);
        assert!(timings.analyse_ms <= timings.first_part_started_ms.unwrap());
        assert!(timings.first_part_started_ms.unwrap() >= 3 && timings.total_ms >= 3, "{timings:?}");
        // The slowest part that was done; no plan, no synthesis.
        assert_eq!(timings.slowest_part_ms, Some(40));
        assert_eq!((timings.plan_ms, timings.synthesis_ms), (None, None));
        let json = serde_json::to_value(&timings).unwrap();
        assert!(json.get("plan_ms").is_none() && json.get("analyse_ms").is_some(), "{json}");
        // With a plan and a synthesis.
        clock.planned();
        let timings = clock.timings(&[], true);
        assert!(timings.plan_ms.is_some() && timings.synthesis_ms.is_some(), "{timings:?}");
        assert_eq!(timings.slowest_part_ms, None);
    }
}
