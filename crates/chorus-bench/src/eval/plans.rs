//! `chorus eval plans`: is a multi-part question recognised as one, and
//! does each labelled part reach a specialist that fits it?
//!
//! A question is recognised when the analysis is composite, or simple with
//! two or more request clauses (those run as several parts too). A part is
//! matched to the request clause(s) whose span in the question overlaps it
//! most (in characters); it is covered when the specialist that clause goes
//! to — its best, `general.assistant` when it has none; the simple
//! specialist for a simple question — is in the part's `fits`.

use std::collections::BTreeMap;

use chorus_core::{AllSpecialists, Analysis, FALLBACK_SPECIALIST, QueryKind, Router};
use serde::Serialize;

use super::{PlanCase, kind_name, requests, share};

/// The figures of one style (or of the whole set).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanGroup {
    /// Questions.
    pub questions: usize,
    /// Questions recognised as multi-part.
    pub recognised: usize,
    /// `recognised / questions`, 0–1.
    pub recognised_share: f64,
    /// Labelled parts.
    pub parts: usize,
    /// Parts that reach a specialist that fits them.
    pub parts_covered: usize,
    /// `parts_covered / parts`, 0–1.
    pub parts_covered_share: f64,
    /// Questions with every part covered.
    pub all_covered: usize,
    /// `all_covered / questions`, 0–1.
    pub all_covered_share: f64,
}

impl PlanGroup {
    fn add(&mut self, recognised: bool, parts: usize, covered: usize) {
        self.questions += 1;
        self.recognised += usize::from(recognised);
        self.parts += parts;
        self.parts_covered += covered;
        self.all_covered += usize::from(covered == parts);
    }

    fn finish(&mut self) {
        self.recognised_share = share(self.recognised, self.questions);
        self.parts_covered_share = share(self.parts_covered, self.parts);
        self.all_covered_share = share(self.all_covered, self.questions);
    }
}

/// Where one labelled part went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelledPartOutcome {
    /// The labelled part.
    pub text: String,
    /// The specialists that fit it.
    pub fits: Vec<String>,
    /// The request clause that overlaps it most, if any does.
    pub clause: Option<String>,
    /// The specialist that clause goes to (`null` when no clause overlaps
    /// the part in a composite question).
    pub specialist: Option<String>,
    /// Whether that specialist is in `fits`.
    pub covered: bool,
}

/// A question not recognised as multi-part, or with a part not covered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanMiss {
    /// Its id in the set.
    pub id: String,
    /// The question.
    pub question: String,
    /// Its style.
    pub style: String,
    /// `simple` or `composite`.
    pub kind: String,
    /// Whether it was recognised as multi-part.
    pub recognised: bool,
    /// The analysis's request clauses, in order.
    pub request_clauses: Vec<String>,
    /// The router's reason.
    pub reason: String,
    /// Each labelled part.
    pub parts: Vec<LabelledPartOutcome>,
}

/// What `chorus eval plans` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlansReport {
    /// Where the questions came from: `built-in` or the `--set` file.
    pub set: String,
    /// The whole set.
    #[serde(flatten)]
    pub overall: PlanGroup,
    /// Questions the router found composite.
    pub composite: usize,
    /// Per style (`and`, `list`, `semicolon`, …).
    pub by_style: BTreeMap<String, PlanGroup>,
    /// Every question not recognised or not wholly covered, in set order.
    pub misses: Vec<PlanMiss>,
}

/// Analyses every case with `router` (every specialist reachable) and
/// scores it.
#[must_use]
pub fn evaluate_plans(router: &Router, cases: &[PlanCase], set: &str) -> PlansReport {
    let mut overall = PlanGroup::default();
    let mut by_style: BTreeMap<String, PlanGroup> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut composite = 0;
    for case in cases {
        let analysis = router.analyse(&case.question, &AllSpecialists);
        composite += usize::from(analysis.is_composite());
        let recognised = analysis.is_composite() || requests(&analysis).count() >= 2;
        let parts = score_parts(case, &analysis);
        let covered = parts.iter().filter(|part| part.covered).count();
        overall.add(recognised, parts.len(), covered);
        by_style.entry(case.style.clone()).or_default().add(recognised, parts.len(), covered);
        if !recognised || covered < parts.len() {
            misses.push(PlanMiss {
                id: case.id.clone(),
                question: case.question.clone(),
                style: case.style.clone(),
                kind: kind_name(&analysis).to_owned(),
                recognised,
                request_clauses: requests(&analysis).map(|clause| clause.text.clone()).collect(),
                reason: analysis.reason.clone(),
                parts,
            });
        }
    }
    overall.finish();
    by_style.values_mut().for_each(PlanGroup::finish);
    PlansReport { set: set.to_owned(), overall, composite, by_style, misses }
}

/// Where each labelled part of `case` goes in `analysis`.
pub(super) fn score_parts(case: &PlanCase, analysis: &Analysis) -> Vec<LabelledPartOutcome> {
    let question = case.question.as_str();
    // The request clauses with their byte spans in the question.
    let mut cursor = 0;
    let clauses: Vec<(std::ops::Range<usize>, &chorus_core::Clause)> = analysis
        .clauses
        .iter()
        .filter_map(|clause| {
            let span = locate(question, &clause.text, cursor)?;
            cursor = span.end;
            Some((span, clause))
        })
        .filter(|(_, clause)| !clause.context)
        .collect();
    let mut cursor = 0;
    case.parts
        .iter()
        .map(|part| {
            let span = locate(question, &part.text, cursor).unwrap_or(0..0);
            cursor = span.start;
            let overlaps: Vec<(usize, &chorus_core::Clause)> =
                clauses.iter().map(|(clause_span, clause)| (overlap(question, &span, clause_span), *clause)).collect();
            let most = overlaps.iter().map(|(chars, _)| *chars).max().unwrap_or(0);
            let nearest: Vec<&chorus_core::Clause> =
                overlaps.iter().filter(|(chars, _)| most > 0 && *chars == most).map(|(_, clause)| *clause).collect();
            let goes_to = |clause: &chorus_core::Clause| match &analysis.kind {
                QueryKind::Simple { specialist_id } => specialist_id.clone(),
                QueryKind::Composite { .. } => clause
                    .best
                    .as_ref()
                    .map_or_else(|| FALLBACK_SPECIALIST.to_owned(), |best| best.specialist_id.clone()),
            };
            // Of the clauses that overlap most, one that fits, else the first.
            let pick =
                nearest.iter().find(|clause| part.fits.contains(&goes_to(clause))).or_else(|| nearest.first()).copied();
            let specialist = match (&analysis.kind, pick) {
                // A simple question goes whole to its specialist.
                (QueryKind::Simple { specialist_id }, _) => Some(specialist_id.clone()),
                (QueryKind::Composite { .. }, Some(clause)) => Some(goes_to(clause)),
                (QueryKind::Composite { .. }, None) => None,
            };
            LabelledPartOutcome {
                text: part.text.clone(),
                fits: part.fits.clone(),
                clause: pick.map(|clause| clause.text.clone()),
                covered: specialist.as_ref().is_some_and(|id| part.fits.contains(id)),
                specialist,
            }
        })
        .collect()
}

/// The byte span of `needle` in `haystack`: its first occurrence from
/// `from` on, else anywhere, else ignoring ASCII case.
pub(super) fn locate(haystack: &str, needle: &str, from: usize) -> Option<std::ops::Range<usize>> {
    let needle = needle.trim();
    if needle.is_empty() {
        return None;
    }
    let found = haystack
        .get(from..)
        .and_then(|rest| rest.find(needle).map(|at| at + from))
        .or_else(|| haystack.find(needle))
        .or_else(|| haystack.to_ascii_lowercase().find(&needle.to_ascii_lowercase()))?;
    Some(found..found + needle.len())
}

/// Characters two byte spans of `text` share.
pub(super) fn overlap(text: &str, a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> usize {
    let (start, end) = (a.start.max(b.start), a.end.min(b.end));
    if start >= end { 0 } else { text.get(start..end).map_or(end - start, |shared| shared.chars().count()) }
}
