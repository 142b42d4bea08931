//! `chorus eval`: routing, planning and answers measured against the
//! labelled evaluation sets in `data/eval/` (written blind, before the
//! router they measure was tuned to them; they are the yardstick).
//!
//! - `routing.jsonl`: one question per line, the specialists that fit it
//!   (best first), its domain and its variant (plain, paraphrase, typo,
//!   other-language, translation).
//! - `plans.jsonl`: one multi-part question per line, its parts (each an
//!   exact substring of the question) with the specialists that fit each,
//!   and its style (and, list, semicolon, …).
//!
//! Routing and planning go through the router the conductor itself uses
//! ([`chorus_core::Conductor::router`]), with every specialist counted as
//! reachable: they measure routing, not what this device has installed.
//! Answers run the real conductor on this device.

mod answers;
mod plans;
mod routing;
#[cfg(test)]
mod tests;

use chorus_core::{Analysis, Clause, FALLBACK_SPECIALIST, QueryKind};
use serde::{Deserialize, Serialize};

pub use answers::{AnswerOutcome, AnswersReport, evaluate_answers};
pub use plans::{LabelledPartOutcome, PlanGroup, PlanMiss, PlansReport, evaluate_plans};
pub use routing::{RoutingGroup, RoutingMiss, RoutingReport, evaluate_routing};

/// The built-in routing set (`data/eval/routing.jsonl`).
pub const ROUTING_SET: &str = include_str!("../../data/eval/routing.jsonl");
/// The built-in planning set (`data/eval/plans.jsonl`), also the questions
/// `chorus eval answers` asks.
pub const PLAN_SET: &str = include_str!("../../data/eval/plans.jsonl");

/// One question of a routing set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingCase {
    /// Its id (`r001`).
    pub id: String,
    /// The question.
    pub question: String,
    /// The specialists that fit it, best first (at least one).
    pub fits: Vec<String>,
    /// Its domain.
    pub domain: String,
    /// How it is put: `plain`, `paraphrase`, `typo`, `other-language` or
    /// `translation`.
    pub variant: String,
}

/// One labelled part of a multi-part question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledPart {
    /// The part, an exact substring of the question.
    pub text: String,
    /// The specialists that fit it, best first (at least one).
    pub fits: Vec<String>,
}

/// One question of a planning set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCase {
    /// Its id (`p001`).
    pub id: String,
    /// The question.
    pub question: String,
    /// Its parts, in question order.
    pub parts: Vec<LabelledPart>,
    /// How the parts are joined (`and`, `list`, `semicolon`, …).
    pub style: String,
}

/// A set file that is not in the format: which line, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SetError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Reads a routing set: one JSON object per line (blank lines skipped).
///
/// # Errors
/// A [`SetError`] naming the first line that is not a routing case, or
/// has no `fits`, or an empty question.
pub fn parse_routing_set(text: &str) -> Result<Vec<RoutingCase>, SetError> {
    parse_lines(text, |case: &RoutingCase| {
        if case.question.trim().is_empty() {
            return Err("the question is empty".to_owned());
        }
        if case.fits.is_empty() {
            return Err("`fits` names no specialist".to_owned());
        }
        Ok(())
    })
}

/// Reads a planning set: one JSON object per line (blank lines skipped).
///
/// # Errors
/// A [`SetError`] naming the first line that is not a planning case, or
/// has no parts, a part with no `fits`, or a part that is not a substring
/// of its question.
pub fn parse_plan_set(text: &str) -> Result<Vec<PlanCase>, SetError> {
    parse_lines(text, |case: &PlanCase| {
        if case.question.trim().is_empty() {
            return Err("the question is empty".to_owned());
        }
        if case.parts.is_empty() {
            return Err("`parts` is empty".to_owned());
        }
        for part in &case.parts {
            if part.fits.is_empty() {
                return Err(format!("part {:?}: `fits` names no specialist", part.text));
            }
            if part.text.trim().is_empty() || !case.question.contains(&part.text) {
                return Err(format!("part {:?} is not a substring of the question", part.text));
            }
        }
        Ok(())
    })
}

fn parse_lines<T: serde::de::DeserializeOwned>(
    text: &str,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, SetError> {
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| SetError { line: index + 1, message };
        let case: T = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
        check(&case).map_err(error)?;
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(SetError { line: 0, message: "the set has no questions".to_owned() });
    }
    Ok(cases)
}

/// `simple` or `composite`.
fn kind_name(analysis: &Analysis) -> &'static str {
    if analysis.is_composite() { "composite" } else { "simple" }
}

/// The clauses that ask (context sentences left out).
fn requests(analysis: &Analysis) -> impl Iterator<Item = &Clause> {
    analysis.clauses.iter().filter(|clause| !clause.context)
}

/// The specialist a question goes to first: a simple query's specialist;
/// for a composite one, the best of its first request clause, else the
/// first of its specialists.
#[must_use]
pub fn chosen_specialist(analysis: &Analysis) -> String {
    match &analysis.kind {
        QueryKind::Simple { specialist_id } => specialist_id.clone(),
        QueryKind::Composite { specialist_ids } => requests(analysis)
            .next()
            .and_then(|clause| clause.best.as_ref())
            .map(|best| best.specialist_id.clone())
            .or_else(|| specialist_ids.first().cloned())
            .unwrap_or_else(|| FALLBACK_SPECIALIST.to_owned()),
    }
}

/// A share, 0 when there is nothing to share.
#[allow(clippy::cast_precision_loss)]
fn share(count: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { count as f64 / of as f64 }
}
