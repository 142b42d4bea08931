//! The conductor's plan: sub-tasks for specialists, as a DAG. Pure
//! functions only — the grammar the planner writes under, the check and
//! repair of what it wrote, and which sub-tasks may run next.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// One sub-task as the planning model writes it (and as `chorus route`
/// prints it). `depends_on` holds 1-based numbers of earlier sub-tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedSubtask {
    /// The specialist that should do it.
    pub specialist: String,
    /// A self-contained instruction carrying only the context it needs.
    pub task: String,
    /// 1-based numbers of earlier sub-tasks whose results it needs.
    #[serde(default)]
    pub depends_on: Vec<usize>,
}

/// The planning model's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    /// The sub-tasks in order.
    pub subtasks: Vec<PlannedSubtask>,
}

/// Where a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// Written by the conductor model and valid as it was.
    Model,
    /// Written by the conductor model and repaired.
    Repaired,
    /// The model's plan was unusable; built from the query's clauses.
    Fallback,
    /// A simple query of several requests, split by request (one
    /// specialist, no model) because a peer would run it: each peer sees
    /// only its own part, and the parts' answers are joined in order.
    Split,
    /// Built from the analysis, which already named the parts and their
    /// specialists: a small conductor model's draft would only add
    /// mistakes, so it is not asked (see [`crate::ConductorConfig`]).
    Analysis,
}

/// A validated plan: every specialist reachable, every task non-empty,
/// dependencies only on earlier sub-tasks (so it is a DAG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The sub-tasks; `depends_on` holds 0-based indices of earlier ones.
    pub subtasks: Vec<PlanStep>,
    /// Where the plan came from.
    pub source: PlanSource,
    /// What was repaired, in words (empty for a plan taken as written).
    pub repairs: Vec<String>,
    /// Parts of the question no sub-task does (no specialist for them can
    /// be reached, or the plan is full): the answer names each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_planned: Vec<UnplannedPart>,
}

/// A part of the question the plan leaves undone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnplannedPart {
    /// The words of the question that ask for it.
    pub part: String,
    /// Why no sub-task does it.
    pub reason: String,
}

/// One validated sub-task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// 0-based position in the plan.
    pub index: usize,
    /// The specialist that does it.
    pub specialist: String,
    /// The self-contained instruction.
    pub task: String,
    /// 0-based indices of earlier sub-tasks it needs.
    pub depends_on: Vec<usize>,
    /// The words of the question this step answers, when the plan knows
    /// them: the heading of its result in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

impl Plan {
    /// Distinct specialists of the plan, in order of first use.
    #[must_use]
    pub fn specialists(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.subtasks.iter().map(|step| step.specialist.as_str()).filter(|id| seen.insert(*id)).collect()
    }
}

/// The JSON Schema the planning model writes under: at most `max_subtasks`
/// sub-tasks, each naming one of `specialists` (exactly the ids the
/// conductor can reach and may choose), a task of sensible length, and
/// dependencies by number.
#[must_use]
pub fn plan_schema(specialists: &[&str], max_subtasks: usize) -> serde_json::Value {
    let max = max_subtasks.max(1);
    serde_json::json!({
        "type": "object",
        "properties": {
            "subtasks": {
                "type": "array",
                "minItems": 1,
                "maxItems": max,
                "items": {
                    "type": "object",
                    "properties": {
                        "specialist": {"enum": specialists},
                        "task": {"type": "string", "minLength": 8, "maxLength": 200},
                        "depends_on": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 1, "maximum": max},
                            "maxItems": max
                        }
                    },
                    "required": ["specialist", "task", "depends_on"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["subtasks"],
        "additionalProperties": false
    })
}

/// How to check and repair a plan.
#[derive(Debug, Clone)]
pub struct PlanRules<'a> {
    /// Specialist ids that can be reached now.
    pub reachable: &'a BTreeSet<String>,
    /// Most sub-tasks.
    pub max_subtasks: usize,
    /// Least distinct specialists a usable plan has (2 for a composite query).
    pub min_specialists: usize,
}

/// Checks the model's plan and repairs what can be repaired: unknown or
/// unreachable specialists are re-routed with `reroute(task)` (or the
/// sub-task dropped), empty or duplicate tasks dropped, dependencies on
/// itself, later or missing sub-tasks removed (which also removes every
/// cycle), and the plan cut to `max_subtasks`. Returns `None` when nothing
/// usable is left (fewer than `min_specialists` distinct specialists): the
/// caller then uses a fallback plan.
pub fn repair_plan(raw: &RawPlan, rules: &PlanRules<'_>, reroute: impl Fn(&str) -> Option<String>) -> Option<Plan> {
    let mut repairs = Vec::new();
    let mut steps: Vec<PlanStep> = Vec::new();
    // Raw 1-based number → new 0-based index (for kept sub-tasks).
    let mut renumber: Vec<Option<usize>> = Vec::with_capacity(raw.subtasks.len());
    let mut seen_tasks = BTreeSet::new();
    for (raw_index, subtask) in raw.subtasks.iter().enumerate() {
        let number = raw_index + 1;
        let task = subtask.task.trim();
        if task.is_empty() {
            repairs.push(format!("dropped sub-task {number}: empty task"));
            renumber.push(None);
            continue;
        }
        if steps.len() == rules.max_subtasks {
            repairs.push(format!("dropped sub-task {number}: more than {} sub-tasks", rules.max_subtasks));
            renumber.push(None);
            continue;
        }
        let specialist = if rules.reachable.contains(&subtask.specialist) {
            subtask.specialist.clone()
        } else if let Some(other) = reroute(task).filter(|id| rules.reachable.contains(id)) {
            repairs.push(format!(
                "sub-task {number}: specialist {:?} is not reachable, rerouted to {other}",
                subtask.specialist
            ));
            other
        } else {
            repairs.push(format!("dropped sub-task {number}: specialist {:?} is not reachable", subtask.specialist));
            renumber.push(None);
            continue;
        };
        if !seen_tasks.insert((specialist.clone(), task.to_lowercase())) {
            repairs.push(format!("dropped sub-task {number}: duplicate of an earlier one"));
            renumber.push(None);
            continue;
        }
        let index = steps.len();
        let mut depends_on = BTreeSet::new();
        for &dependency in &subtask.depends_on {
            match dependency.checked_sub(1).and_then(|at| renumber.get(at).copied()) {
                Some(Some(earlier)) if dependency < number => {
                    depends_on.insert(earlier);
                }
                _ => repairs.push(format!(
                    "sub-task {number}: removed dependency on {dependency} (not an earlier kept sub-task)"
                )),
            }
        }
        steps.push(PlanStep {
            index,
            specialist,
            task: task.to_owned(),
            depends_on: depends_on.into_iter().collect(),
            part: None,
        });
        renumber.push(Some(index));
    }
    let distinct: BTreeSet<&str> = steps.iter().map(|step| step.specialist.as_str()).collect();
    if steps.is_empty() || distinct.len() < rules.min_specialists {
        return None;
    }
    let source = if repairs.is_empty() { PlanSource::Model } else { PlanSource::Repaired };
    Some(Plan { subtasks: steps, source, repairs, not_planned: Vec::new() })
}

/// A plan of independent sub-tasks, one per `(specialist, task)` pair —
/// built from the query's clauses when the model's plan is unusable.
#[must_use]
pub fn fallback_plan(parts: &[(String, String)], max_subtasks: usize, reason: &str) -> Plan {
    let mut seen = BTreeSet::new();
    let subtasks = parts
        .iter()
        .filter(|(specialist, task)| !task.trim().is_empty() && seen.insert((specialist.clone(), task.clone())))
        .take(max_subtasks.max(1))
        .enumerate()
        .map(|(index, (specialist, task))| PlanStep {
            index,
            specialist: specialist.clone(),
            task: task.trim().to_owned(),
            depends_on: Vec::new(),
            part: None,
        })
        .collect();
    Plan { subtasks, source: PlanSource::Fallback, repairs: vec![reason.to_owned()], not_planned: Vec::new() }
}

/// State of one sub-task as the driver tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubtaskStatus {
    /// Waiting for its dependencies or a free executor.
    Pending,
    /// Running on an executor.
    Running,
    /// Finished with a result.
    Done,
    /// Failed after its last attempt.
    Failed,
    /// Not run because a dependency failed.
    Skipped,
    /// Ran past its deadline on its last attempt.
    TimedOut,
}

impl SubtaskStatus {
    /// Whether the sub-task has reached its end.
    #[must_use]
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

/// What the driver should do next, given every sub-task's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextActions {
    /// Pending sub-tasks whose dependencies are all done: start them.
    pub start: Vec<usize>,
    /// Pending sub-tasks with a failed, skipped or timed-out dependency: skip them.
    pub skip: Vec<usize>,
    /// Every sub-task has reached its end.
    pub finished: bool,
}

/// Decides which sub-tasks start now and which can never run.
#[must_use]
pub fn next_actions(plan: &Plan, statuses: &[SubtaskStatus]) -> NextActions {
    let mut start = Vec::new();
    let mut skip = Vec::new();
    for step in &plan.subtasks {
        if statuses.get(step.index) != Some(&SubtaskStatus::Pending) {
            continue;
        }
        let dependency_states: Vec<SubtaskStatus> = step
            .depends_on
            .iter()
            .map(|&dependency| statuses.get(dependency).copied().unwrap_or(SubtaskStatus::Failed))
            .collect();
        if dependency_states.iter().any(|state| state.is_final() && *state != SubtaskStatus::Done) {
            skip.push(step.index);
        } else if dependency_states.iter().all(|state| *state == SubtaskStatus::Done) {
            start.push(step.index);
        }
    }
    let finished = statuses.iter().all(|state| state.is_final()) && start.is_empty();
    NextActions { start, skip, finished }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reachable(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    fn sub(specialist: &str, task: &str, depends_on: &[usize]) -> PlannedSubtask {
        PlannedSubtask { specialist: specialist.to_owned(), task: task.to_owned(), depends_on: depends_on.to_vec() }
    }

    #[test]
    fn a_good_plan_is_taken_as_written() {
        let ids = reachable(&["a", "b"]);
        let rules = PlanRules { reachable: &ids, max_subtasks: 4, min_specialists: 2 };
        let raw = RawPlan { subtasks: vec![sub("a", "do the first thing", &[]), sub("b", "do the second", &[1])] };
        let plan = repair_plan(&raw, &rules, |_| None).expect("usable");
        assert_eq!(plan.source, PlanSource::Model);
        assert_eq!(plan.subtasks[1].depends_on, vec![0]);
        assert_eq!(plan.specialists(), vec!["a", "b"]);
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn repairs_table() {
        let ids = reachable(&["a", "b", "c"]);
        let rules = PlanRules { reachable: &ids, max_subtasks: 3, min_specialists: 2 };
        // (raw plan, expected specialists, expected deps, usable)
        let cases: Vec<(Vec<PlannedSubtask>, Vec<&str>, Vec<Vec<usize>>, bool)> = vec![
            // unknown id rerouted
            (vec![sub("zzz", "price it", &[]), sub("b", "write it", &[])], vec!["c", "b"], vec![vec![], vec![]], true),
            // self, forward and missing dependencies removed (no cycles possible)
            (vec![sub("a", "one", &[1, 2]), sub("b", "two", &[1, 9])], vec!["a", "b"], vec![vec![], vec![0]], true),
            // empty and duplicate tasks dropped, numbering follows
            (
                vec![sub("a", " ", &[]), sub("a", "x task", &[]), sub("a", "X task", &[]), sub("b", "y", &[2])],
                vec!["a", "b"],
                vec![vec![], vec![0]],
                true,
            ),
            // too many sub-tasks cut
            (
                vec![sub("a", "1", &[]), sub("b", "2", &[]), sub("c", "3", &[]), sub("a", "4", &[])],
                vec!["a", "b", "c"],
                vec![vec![], vec![], vec![]],
                true,
            ),
            // one specialist only: not usable for a composite query
            (vec![sub("a", "1", &[]), sub("a", "2", &[])], vec![], vec![], false),
            // nothing reachable
            (vec![sub("q", "1", &[]), sub("r", "2", &[])], vec![], vec![], false),
        ];
        for (index, (subtasks, specialists, deps, usable)) in cases.into_iter().enumerate() {
            let raw = RawPlan { subtasks };
            let plan = repair_plan(&raw, &rules, |task| (task == "price it").then(|| "c".to_owned()));
            assert_eq!(plan.is_some(), usable, "case {index}");
            if let Some(plan) = plan {
                let got: Vec<&str> = plan.subtasks.iter().map(|s| s.specialist.as_str()).collect();
                assert_eq!(got, specialists, "case {index}");
                let got: Vec<Vec<usize>> = plan.subtasks.iter().map(|s| s.depends_on.clone()).collect();
                assert_eq!(got, deps, "case {index}");
                assert_eq!(plan.source, PlanSource::Repaired, "case {index}");
                assert!(!plan.repairs.is_empty());
            }
        }
    }

    #[test]
    fn schema_lists_exactly_the_given_specialists() {
        let schema = plan_schema(&["x", "y"], 3);
        let items = &schema["properties"]["subtasks"]["items"]["properties"];
        assert_eq!(items["specialist"]["enum"], serde_json::json!(["x", "y"]));
        assert_eq!(schema["properties"]["subtasks"]["maxItems"], 3);
    }

    #[test]
    fn next_actions_follow_the_dag() {
        let plan = Plan {
            subtasks: vec![
                PlanStep { index: 0, specialist: "a".into(), task: "t".into(), depends_on: vec![], part: None },
                PlanStep { index: 1, specialist: "b".into(), task: "t".into(), depends_on: vec![], part: None },
                PlanStep { index: 2, specialist: "c".into(), task: "t".into(), depends_on: vec![0, 1], part: None },
            ],
            source: PlanSource::Model,
            repairs: vec![],
            not_planned: vec![],
        };
        use SubtaskStatus::*;
        let cases = [
            (vec![Pending, Pending, Pending], vec![0, 1], vec![], false),
            (vec![Done, Running, Pending], vec![], vec![], false),
            (vec![Done, Done, Pending], vec![2], vec![], false),
            (vec![Done, Failed, Pending], vec![], vec![2], false),
            (vec![Done, TimedOut, Skipped], vec![], vec![], true),
            (vec![Done, Done, Done], vec![], vec![], true),
        ];
        for (statuses, start, skip, finished) in cases {
            let next = next_actions(&plan, &statuses);
            assert_eq!((next.start, next.skip, next.finished), (start, skip, finished), "{statuses:?}");
        }
    }

    #[test]
    fn fallback_plan_dedupes_and_caps() {
        let parts = vec![
            ("a".to_owned(), "one".to_owned()),
            ("a".to_owned(), "one".to_owned()),
            ("b".to_owned(), "two".to_owned()),
            ("c".to_owned(), " ".to_owned()),
        ];
        let plan = fallback_plan(&parts, 4, "model plan unusable");
        assert_eq!(plan.subtasks.len(), 2);
        assert_eq!(plan.source, PlanSource::Fallback);
    }
}
