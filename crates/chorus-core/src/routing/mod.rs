//! Query routing: the conductor's *analyse* stage.
//!
//! Pure and deterministic — no I/O, no model call. [`rank_specialists`]
//! scores the reachable specialists of a [`Catalog`] by the keywords found
//! in a query; [`analyse`] splits the query into clauses and decides whether
//! one specialist can answer it directly ([`QueryKind::Simple`]) or it needs
//! a plan over several ([`QueryKind::Composite`]).
//!
//! ## Matching
//!
//! The query is folded (lowercase, typographic quotes and dashes made
//! plain, `%` read as "percent") and cut into words. A keyword matches as a
//! whole word or phrase, never inside another word (`ui` does not match
//! "build"). Each of its words may carry a plural or verb ending
//! (`budget` matches "budgets", `procrastinate` "procrastinating"),
//! determiners stand for each other (`fix my sink` matches "fix the
//! sink"), and a phrase of three words or more may skip one extra word
//! ("write a *short* email") at half a word's cost. Keywords with symbols (`c++`, `ci/cd`) match as
//! written; keywords in scripts without spaces (Chinese, Japanese, Thai,
//! Korean) match as plain substrings. An arithmetic expression with `=`
//! counts as the word "equation", one with `+ * × ÷ ^` between numbers as
//! "calculate".
//!
//! A match weighs the number of content words of the keyword (determiners
//! do not count), so `job description` beats `backend`; a translator's
//! one-word keyword (a bare language name such as "spanish") weighs 0.9,
//! because "the Spanish civil war" is about Spain, not a translation. A
//! specialist's skills, professions and name count half, and only when at
//! most two specialists share them. Overlapping matches of one specialist
//! count once (the heaviest). The words "translate", "translation", "how
//! do you say" add 1 to every translator that matched. Ties go to the
//! specialist matched earliest in the query (the head of a request comes
//! first: "an itinerary … on a budget" is travel), then to catalog order.
//!
//! The folding and term matching live in `crate::text` (shared with
//! profile matching); this module scores specialists with them, splits
//! clauses and decides.

mod analyse;
mod clauses;
mod compiled;
mod reachable;
mod requests;
mod results;
mod router;
mod semantic;

pub use analyse::analyse;
pub use compiled::rank_specialists;
pub use reachable::{AllSpecialists, Reachable};
pub use results::{Analysis, Clause, QueryKind, SpecialistScore};
pub use router::Router;
pub use semantic::{SemanticIndex, SemanticSlot, TextEmbedder, specialist_texts};

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests;
