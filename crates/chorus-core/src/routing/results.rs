//! What routing returns: scores, the simple/composite verdict, clauses and
//! the analysis.

use serde::{Deserialize, Serialize};

use crate::catalog::Domain;

/// How well one specialist matches a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecialistScore {
    /// The specialist's id.
    pub specialist_id: String,
    /// Its domain.
    pub domain: Domain,
    /// The sum of its match weights (see the module docs); higher is better.
    pub score: f64,
    /// What matched, in query order: keywords, tags, and `translate` for the
    /// translation cue.
    pub matched: Vec<String>,
    /// The cosine similarity (−1–1) of the text to the specialist's
    /// description and examples, when semantic routing ran; `score` then
    /// includes its share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic: Option<f64>,
}

/// The verdict of [`analyse`](super::analyse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryKind {
    /// One specialist answers directly, with no planning call.
    Simple {
        /// The specialist.
        specialist_id: String,
    },
    /// Several specialists are needed: the conductor plans sub-tasks.
    Composite {
        /// The distinct specialists the parts route to, in query order (at
        /// least two).
        specialist_ids: Vec<String>,
    },
}

/// One part of a query, as [`analyse`](super::analyse) cut it: a request (a sub-task for
/// the fallback plan) or a context sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    /// The text, exactly as it appears in the query.
    pub text: String,
    /// The best specialist for this text alone, if any matched well enough
    /// (score ≥ 0.9, one keyword).
    pub best: Option<SpecialistScore>,
    /// True for a sentence that gives background rather than asks ("We are
    /// launching a budgeting app next month.") when another sentence does
    /// ask: it is no sub-task of its own, and sub-tasks that need it should
    /// carry it.
    pub context: bool,
    /// In a composite query, the translator that should render this part's
    /// answer, because the part names a language its specialist does not
    /// write ("a Spanish tagline" → `marketing.copywriting`, then
    /// `translate.es`). Set even when that translator cannot be reached:
    /// the plan then names the translation as not done.
    pub translator: Option<String>,
}

/// The result of the analyse stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Simple or composite, with the specialists chosen.
    pub kind: QueryKind,
    /// Why, in one sentence a person can read.
    pub reason: String,
    /// All matching reachable specialists for the query's request text
    /// (context sentences left out), best first.
    pub ranking: Vec<SpecialistScore>,
    /// The parts of the query in order: requests (merged where they route
    /// to the same specialist) and context.
    pub clauses: Vec<Clause>,
}

impl Analysis {
    /// The chosen specialists: one for a simple query, the distinct
    /// candidates in order for a composite one.
    #[must_use]
    pub fn specialist_ids(&self) -> Vec<&str> {
        match &self.kind {
            QueryKind::Simple { specialist_id } => vec![specialist_id.as_str()],
            QueryKind::Composite { specialist_ids } => specialist_ids.iter().map(String::as_str).collect(),
        }
    }

    /// Whether the query needs a plan.
    #[must_use]
    pub fn is_composite(&self) -> bool {
        matches!(self.kind, QueryKind::Composite { .. })
    }
}
