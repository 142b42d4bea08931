//! Scoring: the catalog's keywords and tags compiled for matching, and the
//! ranking of specialists on a text.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::catalog::{Catalog, Domain, Specialist};
use crate::text::{DETERMINERS, Term, TermKind, TermMatch, Text, find_words_at, is_determiner};

use super::reachable::Reachable;
use super::results::SpecialistScore;
use super::semantic::SemanticIndex;

/// A translator's one-word keyword (a bare language name) weighs less than
/// one word: "Spanish" is often the topic, not the target language.
pub(super) const LANGUAGE_NAME_WEIGHT: f64 = 0.9;
/// Skills, professions and the name count half a keyword.
const TAG_SCALE: f64 = 0.5;
/// A tag shared by more specialists than this says nothing about one.
const MAX_TAG_SHARING: usize = 2;
/// Added to every matched translator when the query asks to translate.
const TRANSLATE_CUE_BONUS: f64 = 1.0;
/// A clause routes on its own from this score: one keyword (or one bare
/// language name).
pub(super) const MIN_CLAUSE_SCORE: f64 = LANGUAGE_NAME_WEIGHT;

const TRANSLATE_CUES: &[&str] = &[
    "translate",
    "translation",
    "how do you say",
    "how do i say",
    "how would you say",
    "what's the word for",
    "what is the word for",
];

/// Keywords that contain a separator are never split ("terms and
/// conditions", "tl;dr").
fn contains_separator(keyword: &str) -> bool {
    keyword.contains([',', ';', '.', '!', '?', '&'])
        || keyword.split_whitespace().any(|word| matches!(word, "and" | "plus" | "also" | "then"))
}

/// The catalog's keywords and tags compiled for matching: built once by a
/// [`Router`](super::Router), which keeps it, or per call by
/// [`analyse`](super::analyse) and [`rank_specialists`]. Terms are indexed
/// by the forms of their first word, so ranking a query only tries the
/// terms that can start at one of its words.
#[derive(Debug)]
pub(super) struct CompiledCatalog {
    /// Per specialist, in catalog order: its terms and their scale.
    terms: Vec<Vec<(Term, f64)>>,
    /// Word form → (specialist, term) whose first word takes that form.
    by_first_word: HashMap<String, Vec<(usize, usize)>>,
    /// Terms matched on the raw text (symbols, unspaced scripts).
    scanned: Vec<(usize, usize)>,
    translate_cues: Vec<Term>,
    protected: Vec<Term>,
}

impl CompiledCatalog {
    pub(super) fn new(catalog: &Catalog) -> CompiledCatalog {
        let tags_of = |specialist: &Specialist| -> BTreeSet<String> {
            specialist
                .skills
                .iter()
                .chain(&specialist.professions)
                .map(|tag| tag.trim().to_lowercase())
                .chain(std::iter::once(specialist.name.trim().to_lowercase()))
                .filter(|tag| tag.chars().count() >= 3)
                .collect()
        };
        let mut sharing: HashMap<String, usize> = HashMap::new();
        for specialist in catalog.specialists() {
            for tag in tags_of(specialist) {
                *sharing.entry(tag).or_default() += 1;
            }
        }
        let mut compiled = CompiledCatalog {
            terms: Vec::new(),
            by_first_word: HashMap::new(),
            scanned: Vec::new(),
            translate_cues: TRANSLATE_CUES.iter().filter_map(|cue| Term::keyword(cue, 1.0)).collect(),
            protected: Vec::new(),
        };
        let mut protected_seen = HashSet::new();
        for (order, specialist) in catalog.specialists().iter().enumerate() {
            let translator = specialist.domain == Domain::Translation;
            let mut terms = Vec::new();
            for keyword in &specialist.keywords {
                if contains_separator(keyword) && protected_seen.insert(keyword.as_str()) {
                    compiled.protected.extend(Term::keyword(keyword, 1.0));
                }
                if let Some(mut term) = Term::keyword(keyword, 1.0) {
                    if translator && term.content_words == 1 {
                        term.weight = LANGUAGE_NAME_WEIGHT;
                    }
                    terms.push((term, 1.0));
                }
            }
            for tag in tags_of(specialist) {
                let shared_by = sharing.get(&tag).copied().unwrap_or(0);
                if shared_by <= MAX_TAG_SHARING && !specialist.keywords.contains(&tag) {
                    terms.extend(Term::keyword(&tag, TAG_SCALE).map(|term| (term, TAG_SCALE)));
                }
            }
            for (index, (term, _)) in terms.iter().enumerate() {
                match &term.kind {
                    TermKind::Words(words) => {
                        let first: Vec<String> = match words.first() {
                            Some(forms) if forms.first().is_some_and(|word| is_determiner(word)) => {
                                DETERMINERS.iter().map(|word| (*word).to_owned()).collect()
                            }
                            Some(forms) => forms.clone(),
                            None => Vec::new(),
                        };
                        for form in first {
                            compiled.by_first_word.entry(form).or_default().push((order, index));
                        }
                    }
                    TermKind::Symbols(_) | TermKind::Unspaced(_) => compiled.scanned.push((order, index)),
                }
            }
            compiled.terms.push(terms);
        }
        compiled
    }
}

/// The compiled catalog seen through a reachability filter (and, once it
/// is ready, the semantic index).
pub(super) struct Matcher<'c> {
    catalog: &'c Catalog,
    compiled: &'c CompiledCatalog,
    reachable: Vec<bool>,
    semantic: Option<&'c SemanticIndex>,
}

/// How much a semantic similarity adds to a keyword score: each 0.1 above
/// [`SEMANTIC_FLOOR`] is worth 0.8 of a keyword word (chosen on the
/// evaluation set: 3.5 to 12 all score within 2 points).
const SEMANTIC_WEIGHT: f64 = 8.0;
/// Similarities at or below this say nothing (unrelated sentences of this
/// model score 0–0.2).
const SEMANTIC_FLOOR: f64 = 0.25;
/// What a keyword counts for when the text's meaning is unrelated to its
/// specialist (similarity at or under [`SEMANTIC_FLOOR`]) and close to
/// another.
const UNRELATED_KEYWORDS: f64 = 0.5;
/// How far above [`SEMANTIC_FLOOR`] the closest specialist must be for the
/// meaning to discount keywords.
const CLEAR_MEANING: f64 = 0.05;
/// A specialist no keyword matched ranks on its similarity from here.
pub(super) const SEMANTIC_ACCEPT: f64 = 0.35;

/// One specialist's score on a text, before it becomes public.
#[derive(Debug, Clone)]
pub(super) struct Ranked {
    pub(super) order: usize,
    /// Keyword score plus the semantic share.
    pub(super) score: f64,
    /// The keyword score alone.
    pub(super) keywords: f64,
    /// The cosine similarity to the specialist, when semantic routing ran.
    pub(super) semantic: Option<f64>,
    first: usize,
    matched: Vec<String>,
}

impl Ranked {
    /// Whether it is good enough to route a clause on its own: one keyword,
    /// or a clear semantic match.
    pub(super) fn routes(&self) -> bool {
        self.keywords >= MIN_CLAUSE_SCORE || self.semantic.is_some_and(|similarity| similarity >= SEMANTIC_ACCEPT)
    }
}

impl<'c> Matcher<'c> {
    pub(super) fn new<R: Reachable + ?Sized>(
        catalog: &'c Catalog,
        compiled: &'c CompiledCatalog,
        reachable: &R,
    ) -> Matcher<'c> {
        Matcher {
            catalog,
            compiled,
            reachable: catalog.specialists().iter().map(|specialist| reachable.is_reachable(&specialist.id)).collect(),
            semantic: None,
        }
    }

    /// The same matcher, blending in `index`'s similarities in
    /// [`Matcher::rank_blended`].
    pub(super) fn with_semantic(mut self, index: Option<&'c SemanticIndex>) -> Matcher<'c> {
        self.semantic = index.filter(|index| index.len() == self.reachable.len());
        self
    }

    /// The semantic index it blends in, if any.
    pub(super) fn semantic(&self) -> Option<&'c SemanticIndex> {
        self.semantic
    }

    /// [`Matcher::rank`] with the semantic similarity of `raw` to every
    /// reachable specialist added (see [`SEMANTIC_WEIGHT`]); specialists no
    /// keyword matched join when their similarity reaches
    /// [`SEMANTIC_ACCEPT`]. Without a semantic index, the keyword ranking.
    pub(super) fn rank_blended(&self, raw: &str) -> Vec<Ranked> {
        self.rank_read_as(raw, raw)
    }

    /// [`Matcher::rank_blended`] with the keywords of `raw` and, as its
    /// meaning, the mean of the similarities of `raw` alone and of `meant`
    /// (the same text after what gives it context): the context says what
    /// a short request is about without drowning what it asks ("I'm
    /// building a Flutter app. … What should the onboarding screens look
    /// like?" is a design question).
    pub(super) fn rank_read_as(&self, raw: &str, meant: &str) -> Vec<Ranked> {
        let mut ranked = self.rank(&Text::new(raw));
        let Some(mut similarities) = self.semantic.and_then(|index| index.similarities(meant)) else {
            return ranked;
        };
        if meant != raw
            && let Some(alone) = self.semantic.and_then(|index| index.similarities(raw))
        {
            similarities = similarities.iter().zip(alone.iter()).map(|(read, alone)| (read + alone) / 2.0).collect();
        }
        // A translator is chosen by the language a text names, never by
        // its topic: it takes no semantic share.
        let translator = |order: usize| {
            self.catalog.specialists().get(order).is_some_and(|specialist| specialist.domain == Domain::Translation)
        };
        let share = |similarity: f64| SEMANTIC_WEIGHT * (similarity - SEMANTIC_FLOOR).max(0.0);
        // A keyword whose specialist the text's meaning is far from, when
        // the meaning points clearly elsewhere, is likely another sense of
        // the word ("block spam calls on Android" is no Android
        // development; "recommend science fiction novels" is no novel
        // writing): it counts from half (meaning unrelated) to whole (as
        // close as the closest specialist).
        let closest = similarities
            .iter()
            .enumerate()
            .filter(|&(order, _)| self.is_reachable(order) && !translator(order))
            .map(|(_, similarity)| f64::from(*similarity))
            .fold(SEMANTIC_FLOOR, f64::max);
        let keyword_share = |similarity: f64| {
            if closest - SEMANTIC_FLOOR < CLEAR_MEANING {
                return 1.0;
            }
            let nearness = ((similarity - SEMANTIC_FLOOR) / (closest - SEMANTIC_FLOOR)).clamp(0.0, 1.0);
            UNRELATED_KEYWORDS + (1.0 - UNRELATED_KEYWORDS) * nearness
        };
        for entry in ranked.iter_mut().filter(|entry| !translator(entry.order)) {
            let similarity = similarities.get(entry.order).copied().map_or(0.0, f64::from);
            entry.semantic = Some(round(similarity));
            entry.score = round(entry.keywords * keyword_share(similarity) + share(similarity));
        }
        for (order, similarity) in similarities.iter().enumerate() {
            let similarity = f64::from(*similarity);
            if similarity >= SEMANTIC_ACCEPT
                && self.is_reachable(order)
                && !translator(order)
                && !ranked.iter().any(|e| e.order == order)
            {
                ranked.push(Ranked {
                    order,
                    score: round(share(similarity)),
                    keywords: 0.0,
                    semantic: Some(round(similarity)),
                    first: usize::MAX,
                    matched: Vec::new(),
                });
            }
        }
        ranked.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| a.first.cmp(&b.first)).then_with(|| a.order.cmp(&b.order))
        });
        ranked
    }

    /// The same matcher over every specialist, reachable or not.
    pub(super) fn everything(&self) -> Matcher<'c> {
        Matcher {
            catalog: self.catalog,
            compiled: self.compiled,
            reachable: vec![true; self.reachable.len()],
            semantic: self.semantic,
        }
    }

    /// Whether the specialist of this catalog order can be reached.
    pub(super) fn is_reachable(&self, order: usize) -> bool {
        self.reachable.get(order).copied().unwrap_or(false)
    }

    /// Scores every reachable specialist on the text; best first.
    pub(super) fn rank(&self, text: &Text) -> Vec<Ranked> {
        let compiled = self.compiled;
        let reachable = |order: usize| self.reachable.get(order).copied().unwrap_or(false);
        // Earliest match of every term that matches, per specialist.
        let mut found: HashMap<usize, Vec<(TermMatch, f64, &str)>> = HashMap::new();
        let mut seen: HashSet<(usize, usize)> = HashSet::new();
        let term_at = |order: usize, index: usize| compiled.terms.get(order).and_then(|terms| terms.get(index));
        for (position, token) in text.tokens.iter().enumerate() {
            let Some(starting_here) = compiled.by_first_word.get(&token.word) else { continue };
            for &(order, index) in starting_here {
                if !reachable(order) || seen.contains(&(order, index)) {
                    continue;
                }
                let Some((term, scale)) = term_at(order, index) else { continue };
                if let TermKind::Words(words) = &term.kind
                    && let Some(at) = find_words_at(words, text, position)
                {
                    seen.insert((order, index));
                    found.entry(order).or_default().push((at, term.weight_of(at, *scale), term.label.as_str()));
                }
            }
        }
        for &(order, index) in &compiled.scanned {
            let Some((term, scale)) = term_at(order, index).filter(|_| reachable(order)) else { continue };
            if let Some(at) = term.find(text) {
                found.entry(order).or_default().push((at, term.weight_of(at, *scale), term.label.as_str()));
            }
        }

        let translate_cue = compiled.translate_cues.iter().any(|cue| cue.find(text).is_some());
        let mut ranked = Vec::new();
        for (order, mut matches) in found {
            matches.sort_by(|a, b| {
                b.1.total_cmp(&a.1)
                    .then_with(|| (b.0.end - b.0.start).cmp(&(a.0.end - a.0.start)))
                    .then_with(|| a.0.start.cmp(&b.0.start))
                    .then_with(|| a.2.cmp(b.2))
            });
            let mut accepted: Vec<(TermMatch, f64, &str)> = Vec::new();
            for (at, weight, label) in matches {
                let overlaps = accepted.iter().any(|(other, _, _)| at.start < other.end && other.start < at.end);
                if !overlaps && weight > 0.0 {
                    accepted.push((at, weight, label));
                }
            }
            if accepted.is_empty() {
                continue;
            }
            accepted.sort_by_key(|(at, _, _)| at.start);
            let mut score: f64 = accepted.iter().map(|(_, weight, _)| weight).sum();
            let first = accepted.first().map_or(usize::MAX, |(at, _, _)| at.start);
            let mut matched: Vec<String> = accepted.iter().map(|(_, _, label)| (*label).to_owned()).collect();
            let translator = self.catalog.specialists().get(order).is_some_and(|s| s.domain == Domain::Translation);
            if translate_cue && translator {
                score += TRANSLATE_CUE_BONUS;
                matched.push("translate".to_owned());
            }
            ranked.push(Ranked { order, score: round(score), keywords: round(score), semantic: None, first, matched });
        }
        ranked.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| a.first.cmp(&b.first)).then_with(|| a.order.cmp(&b.order))
        });
        ranked
    }

    pub(super) fn specialist(&self, ranked: &Ranked) -> Option<&'c Specialist> {
        self.catalog.specialists().get(ranked.order)
    }

    pub(super) fn public(&self, ranked: &Ranked) -> Option<SpecialistScore> {
        let specialist = self.specialist(ranked)?;
        Some(SpecialistScore {
            specialist_id: specialist.id.clone(),
            domain: specialist.domain,
            score: ranked.score,
            matched: ranked.matched.clone(),
            semantic: ranked.semantic,
        })
    }

    pub(super) fn public_all(&self, ranked: &[Ranked]) -> Vec<SpecialistScore> {
        ranked.iter().filter_map(|entry| self.public(entry)).collect()
    }

    /// Byte spans of separator-carrying keywords in the folded query.
    pub(super) fn protected_spans(&self, folded: &str) -> Vec<(usize, usize)> {
        let text = Text::plain(folded);
        self.compiled.protected.iter().filter_map(|term| term.find(&text)).map(|at| (at.start, at.end)).collect()
    }
}

fn round(score: f64) -> f64 {
    (score * 1000.0).round() / 1000.0
}

/// Scores the reachable specialists on a query, best first; specialists
/// with no match are left out. See the module docs for the rules.
///
/// Compiles the catalog's keywords on every call: to route many queries,
/// make a [`Router`](super::Router) once.
///
/// ```
/// use chorus_core::{AllSpecialists, Catalog, rank_specialists};
/// let catalog = Catalog::bundled()?;
/// let ranking = rank_specialists(&catalog, "Write a job description for a backend engineer", &AllSpecialists);
/// assert_eq!(ranking[0].specialist_id, "hr.recruiting");
/// # Ok::<(), chorus_core::CatalogError>(())
/// ```
#[must_use]
pub fn rank_specialists<R: Reachable + ?Sized>(catalog: &Catalog, query: &str, reachable: &R) -> Vec<SpecialistScore> {
    rank_with(catalog, &CompiledCatalog::new(catalog), query, reachable)
}

/// [`rank_specialists`] with the catalog already compiled.
pub(super) fn rank_with<R: Reachable + ?Sized>(
    catalog: &Catalog,
    compiled: &CompiledCatalog,
    query: &str,
    reachable: &R,
) -> Vec<SpecialistScore> {
    let matcher = Matcher::new(catalog, compiled, reachable);
    matcher.public_all(&matcher.rank(&Text::new(query)))
}
