//! Profile matching: the 2–5 specialists that fit a person and their
//! device.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::text::{Term, Text};

use super::types::{BaseModel, Domain, Specialist};
use super::{Catalog, FALLBACK_SPECIALIST};

// ---------------------------------------------------------------------------
// Profile matching
// ---------------------------------------------------------------------------

/// What a person tells Chorus at sign-up, plus what their device can hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Their profession, free text (`"marketer"`, `"senior rust developer"`).
    pub profession: String,
    /// Skills, free text each (`"python"`, `"email marketing"`).
    pub skills: Vec<String>,
    /// Languages they speak: ISO 639-1 codes (`"es"`) or names (`"Spanish"`,
    /// `"español"`).
    pub languages: Vec<String>,
    /// Interests, free text each (`"cooking"`, `"startups"`).
    pub interests: Vec<String>,
    /// Disk space Chorus may use for models, in bytes.
    pub storage_budget_bytes: u64,
    /// RAM available to run a model, in bytes, if known.
    pub memory_bytes: Option<u64>,
}

/// One recommended specialist and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The specialist's id.
    pub specialist_id: String,
    /// How well it fits (higher is better; comparable within one call).
    pub score: f64,
    /// Whether its base model (and adapter) have known hashes; the UI marks
    /// `false` as **unverified**.
    pub verified: bool,
    /// Human-readable reasons, best first ("matches your profession
    /// 'marketer'", "speaks Spanish", "needs 98.4 MB (…)").
    pub reasons: Vec<String>,
}

/// Why no specialist can be recommended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecommendError {
    /// Not even the smallest specialist fits the storage budget.
    #[error("a storage budget of {budget_bytes} bytes holds no specialist; the smallest needs {needed_bytes} bytes")]
    StorageTooSmall {
        /// The budget given.
        budget_bytes: u64,
        /// The smallest size that would fit one specialist.
        needed_bytes: u64,
    },
    /// Specialists fit on disk, but none runs in the memory given.
    #[error(
        "{memory_bytes} bytes of memory run no specialist that fits the budget; the smallest needs {needed_bytes} bytes"
    )]
    MemoryTooSmall {
        /// The memory given.
        memory_bytes: u64,
        /// The smallest `min_ram_bytes` among the specialists that fit on disk.
        needed_bytes: u64,
    },
}

/// At most this many specialists are recommended.
const MAX_RECOMMENDATIONS: usize = 5;
/// At least this many, when anything fits.
const MIN_RECOMMENDATIONS: usize = 2;
/// Translators brought in by the person's languages, at most.
pub(super) const MAX_TRANSLATORS: usize = 3;
/// A specialist needs this score (one real match) to be picked on merit.
const MIN_MERIT_SCORE: f64 = 1.0;

const PROFESSION_EXACT: f64 = 10.0;
const PROFESSION_NARROWER: f64 = 7.0;
const PROFESSION_BROADER: f64 = 3.0;
const PROFESSION_TOPIC: f64 = 3.0;
const SKILL_EXACT: f64 = 6.0;
const SKILL_RELATED: f64 = 3.0;
const INTEREST_EXACT: f64 = 2.5;
const INTEREST_RELATED: f64 = 1.0;
const TRANSLATES_LANGUAGE: f64 = 9.0;
const ANSWERS_IN_LANGUAGE: f64 = 1.0;
const USEFUL_TO_ANYONE: f64 = 0.5;
const FALLBACK_BONUS: f64 = 0.25;

/// English names of the languages in the catalog, by ISO 639-1 code.
const LANGUAGE_NAMES: &[(&str, &str)] = &[
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("ru", "Russian"),
    ("uk", "Ukrainian"),
    ("tr", "Turkish"),
    ("ar", "Arabic"),
    ("hi", "Hindi"),
    ("zh", "Chinese"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("vi", "Vietnamese"),
    ("id", "Indonesian"),
    ("sv", "Swedish"),
    ("cs", "Czech"),
    ("el", "Greek"),
    ("he", "Hebrew"),
    ("th", "Thai"),
    ("ro", "Romanian"),
    ("da", "Danish"),
    ("fi", "Finnish"),
    ("hu", "Hungarian"),
    ("no", "Norwegian"),
];

/// The English name of a language code, or the code itself.
fn language_name(code: &str) -> &str {
    LANGUAGE_NAMES.iter().find(|(known, _)| *known == code).map_or(code, |(_, name)| name)
}

/// A language as a person wrote it (`es`, `Spanish`, `español`) → its
/// ISO 639-1 code, using the catalog's translator keywords for native names.
pub(super) fn resolve_language(catalog: &Catalog, written: &str) -> Option<String> {
    let lowered = written.trim().to_lowercase();
    if lowered.is_empty() {
        return None;
    }
    if let Some((code, _)) =
        LANGUAGE_NAMES.iter().find(|(code, name)| *code == lowered || name.to_lowercase() == lowered)
    {
        return Some((*code).to_owned());
    }
    catalog
        .specialists()
        .iter()
        .find(|specialist| specialist.translation_language().is_some() && specialist.keywords.contains(&lowered))
        .and_then(Specialist::translation_language)
        .map(str::to_owned)
}

/// Bytes as a short decimal string (`98.4 MB`, `2.02 GB`).
pub(super) fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64;
    if value >= 1e9 {
        format!("{:.2} GB", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.1} MB", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} kB", value / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Whether `needle` occurs in `haystack` as whole words (inflections and
/// determiners allowed as in query routing).
fn phrase_in(haystack: &str, needle: &str) -> bool {
    Term::keyword(needle, 1.0).is_some_and(|term| term.find(&Text::plain(haystack)).is_some())
}

fn normalised(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// How many specialists carry each profession, skill and interest tag: a
/// tag shared by many specialists says less about any one of them.
struct TagCounts {
    professions: HashMap<String, usize>,
    skills: HashMap<String, usize>,
    interests: HashMap<String, usize>,
}

impl TagCounts {
    fn new(catalog: &Catalog) -> Self {
        let count = |tags: fn(&Specialist) -> &Vec<String>| {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for specialist in catalog.specialists() {
                let distinct: BTreeSet<&String> = tags(specialist).iter().collect();
                for tag in distinct {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
            }
            counts
        };
        TagCounts {
            professions: count(|s| &s.professions),
            skills: count(|s| &s.skills),
            interests: count(|s| &s.interests),
        }
    }

    /// `1 / sqrt(number of specialists with the tag)`.
    fn specificity(counts: &HashMap<String, usize>, tag: &str) -> f64 {
        let count = counts.get(tag).copied().unwrap_or(1).max(1);
        #[allow(clippy::cast_precision_loss)]
        let count = count as f64;
        1.0 / count.sqrt()
    }
}

/// Professions are listed by relevance: the first one is the specialist's
/// main audience.
fn position_factor(position: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let position = position as f64;
    (1.0 - 0.15 * position).max(0.4)
}

/// Scores one specialist against the profile: (score, reasons).
fn profile_score(
    specialist: &Specialist,
    profile: &Profile,
    languages: &[String],
    counts: &TagCounts,
) -> (f64, Vec<String>) {
    let mut score = 0.0;
    let mut reasons = Vec::new();
    let profession_weight =
        |position: usize, tag: &str| position_factor(position) * TagCounts::specificity(&counts.professions, tag);

    let profession = normalised(&profile.profession);
    if !profession.is_empty() {
        let tags = || specialist.professions.iter().enumerate().filter(|(_, tag)| *tag != "anyone");
        let exact = tags().find(|(_, tag)| **tag == profession || phrase_equal(tag, &profession));
        let narrower = tags().find(|(_, tag)| phrase_in(&profession, tag));
        let broader = tags().find(|(_, tag)| phrase_in(tag, &profession));
        if let Some((position, tag)) = exact {
            score += PROFESSION_EXACT * profession_weight(position, tag);
            reasons.push(format!("matches your profession '{}'", profile.profession.trim()));
        } else if let Some((position, tag)) = narrower {
            score += PROFESSION_NARROWER * profession_weight(position, tag);
            reasons.push(format!("made for a {tag}, like you ('{}')", profile.profession.trim()));
        } else if let Some((position, tag)) = broader {
            // "art student" for a student: no more specific than "student"
            // itself, however rare the longer tag.
            score +=
                PROFESSION_BROADER * profession_weight(position, tag).min(profession_weight(position, &profession));
            reasons.push(format!("serves {tag}s, close to your profession '{}'", profile.profession.trim()));
        }
        if let Some(topic) = specialist
            .keywords
            .iter()
            .chain(&specialist.skills)
            .find(|topic| topic.len() > 2 && phrase_in(&profession, topic))
        {
            score += PROFESSION_TOPIC;
            reasons.push(format!("covers {topic}, named in your profession"));
        }
    }

    for skill in profile.skills.iter().map(|skill| normalised(skill)).filter(|skill| !skill.is_empty()) {
        if let Some(tag) = specialist.skills.iter().find(|tag| **tag == skill || phrase_equal(tag, &skill)) {
            score += SKILL_EXACT * TagCounts::specificity(&counts.skills, tag);
            reasons.push(format!("matches your skill '{skill}'"));
        } else if specialist
            .keywords
            .iter()
            .chain(&specialist.skills)
            .any(|tag| *tag == skill || phrase_in(tag, &skill) || phrase_in(&skill, tag))
        {
            score += SKILL_RELATED;
            reasons.push(format!("related to your skill '{skill}'"));
        }
    }

    for interest in profile.interests.iter().map(|interest| normalised(interest)).filter(|i| !i.is_empty()) {
        if let Some(tag) = specialist.interests.iter().find(|tag| **tag == interest || phrase_equal(tag, &interest)) {
            score += INTEREST_EXACT * TagCounts::specificity(&counts.interests, tag);
            reasons.push(format!("fits your interest in {interest}"));
        } else if specialist
            .interests
            .iter()
            .chain(&specialist.keywords)
            .chain(&specialist.skills)
            .any(|tag| phrase_in(tag, &interest) || phrase_in(&interest, tag))
        {
            score += INTEREST_RELATED;
            reasons.push(format!("related to your interest in {interest}"));
        }
    }

    for language in languages.iter().filter(|language| *language != "en") {
        if specialist.translation_language() == Some(language.as_str()) {
            score += TRANSLATES_LANGUAGE;
            reasons.push(format!("speaks {}: translates between it and English", language_name(language)));
        } else if specialist.domain != Domain::Translation && specialist.speaks(language) {
            score += ANSWERS_IN_LANGUAGE;
            reasons.push(format!("also answers in {}", language_name(language)));
        }
    }

    if specialist.professions.iter().any(|tag| tag == "anyone") {
        score += USEFUL_TO_ANYONE;
        if reasons.is_empty() {
            reasons.push("useful to anyone".to_owned());
        }
    }
    if specialist.id == FALLBACK_SPECIALIST {
        score += FALLBACK_BONUS;
        if reasons.len() <= 1 {
            reasons.push("answers any question no other specialist covers".to_owned());
        }
    }
    (score, reasons)
}

/// Whether two short phrases are the same up to plural/inflection.
fn phrase_equal(a: &str, b: &str) -> bool {
    a.split_whitespace().count() == b.split_whitespace().count() && phrase_in(a, b) && phrase_in(b, a)
}

/// The 2–5 specialists that fit a person best and fit their device.
///
/// Each specialist is scored against the profile: the profession (a tag
/// equal to it 10, a tag inside it 7, it inside a tag 3 — each scaled down
/// for tags many specialists share and for tags late in the specialist's
/// list — plus 3 when the profession names one of its keywords or skills),
/// each skill (equal to one of its skills 6, scaled for shared skills;
/// related 3), each interest (equal 2.5, scaled; related 1), each
/// non-English language (its translator 9; another specialist answering in
/// it 1) and 0.5 for specialists meant for anyone. Then, while fewer than
/// five are chosen and the storage budget allows:
///
/// 1. the best-scoring non-translator with a real match (score ≥ 1);
/// 2. the translator of each non-English language the person speaks, in
///    their order (at most three; translators are only ever picked for a
///    language the person speaks);
/// 3. the other non-translators with a real match, best first;
/// 4. if fewer than two were chosen, `general.assistant`, then the best
///    remaining non-translators.
///
/// Storage counts each base model once (specialists that share a base model
/// share its file); a specialist whose base model does not fit in what is
/// left, or whose base model needs more than `memory_bytes` of RAM, is
/// skipped. Ties are broken by id, so the result is deterministic. The
/// result is ordered by score (then id); each carries its reasons, the disk
/// it adds, and whether it is verified.
///
/// ```
/// use chorus_core::{Catalog, Profile, recommend};
/// let catalog = Catalog::bundled()?;
/// let profile = Profile {
///     profession: "marketer".into(),
///     languages: vec!["en".into(), "es".into()],
///     storage_budget_bytes: 1_000_000_000,
///     ..Profile::default()
/// };
/// let picks = recommend(&catalog, &profile)?;
/// assert!(picks.iter().any(|pick| pick.specialist_id == "translate.es"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`RecommendError::StorageTooSmall`] or [`RecommendError::MemoryTooSmall`]
/// when not a single specialist fits, with the smallest size needed.
pub fn recommend(catalog: &Catalog, profile: &Profile) -> Result<Vec<Recommendation>, RecommendError> {
    let budget = profile.storage_budget_bytes;
    let fits_storage = |specialist: &Specialist| specialist.size_bytes <= budget;
    let fits_memory = |specialist: &Specialist| match (profile.memory_bytes, catalog.base_model_of(specialist)) {
        (Some(memory), Some(base)) => base.min_ram_bytes <= memory,
        (None, _) => true,
        (Some(_), None) => false,
    };

    let candidates: Vec<&Specialist> =
        catalog.specialists().iter().filter(|s| fits_storage(s) && fits_memory(s)).collect();
    if candidates.is_empty() {
        return Err(nothing_fits(catalog, profile, &fits_memory));
    }

    let mut languages: Vec<String> = Vec::new();
    for written in &profile.languages {
        if let Some(code) = resolve_language(catalog, written)
            && !languages.contains(&code)
        {
            languages.push(code);
        }
    }

    let counts = TagCounts::new(catalog);
    let mut scored: Vec<(&Specialist, f64, Vec<String>)> = candidates
        .iter()
        .map(|specialist| {
            let (score, reasons) = profile_score(specialist, profile, &languages, &counts);
            (*specialist, score, reasons)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));

    let mut picker = Picker { catalog, budget, picked: Vec::new(), bases: BTreeSet::new(), used: 0 };
    let on_merit =
        |specialist: &Specialist, score: f64| specialist.domain != Domain::Translation && score >= MIN_MERIT_SCORE;

    // 1. The person's core specialist.
    if let Some(index) = scored.iter().position(|(s, score, _)| on_merit(s, *score) && picker.fits(s)) {
        picker.pick(index, scored[index].0);
    }
    // 2. Translators for the languages they speak.
    let mut translators = 0;
    for language in languages.iter().filter(|language| *language != "en") {
        if translators == MAX_TRANSLATORS || picker.full() {
            break;
        }
        if let Some(index) = scored.iter().position(|(s, _, _)| s.translation_language() == Some(language.as_str()))
            && picker.pick(index, scored[index].0)
        {
            translators += 1;
        }
    }
    // 3. Everything else with a real match, best first.
    for (index, (specialist, score, _)) in scored.iter().enumerate() {
        if on_merit(specialist, *score) {
            picker.pick(index, specialist);
        }
    }
    // 4. At least two, starting with the fallback.
    if let Some(index) = scored.iter().position(|(s, _, _)| s.id == FALLBACK_SPECIALIST)
        && picker.picked.len() < MIN_RECOMMENDATIONS
    {
        picker.pick(index, scored[index].0);
    }
    for (index, (specialist, _, _)) in scored.iter().enumerate() {
        if picker.picked.len() >= MIN_RECOMMENDATIONS {
            break;
        }
        if specialist.domain != Domain::Translation {
            picker.pick(index, specialist);
        }
    }

    let mut counted: BTreeSet<&str> = BTreeSet::new();
    let mut recommendations: Vec<Recommendation> = picker
        .picked
        .iter()
        .map(|&index| {
            let (specialist, score, reasons) = &scored[index];
            let mut reasons = reasons.clone();
            if let Some(base) = catalog.base_model_of(specialist) {
                let shared = !counted.insert(base.id.as_str());
                reasons.push(storage_reason(base, shared));
                if !base.is_verified() {
                    reasons.push(format!("unverified: no checked sha256 for {} yet", base.name));
                }
            }
            Recommendation {
                specialist_id: specialist.id.clone(),
                score: (score * 100.0).round() / 100.0,
                verified: catalog.is_specialist_verified(specialist),
                reasons,
            }
        })
        .collect();
    recommendations.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.specialist_id.cmp(&b.specialist_id)));
    Ok(recommendations)
}

fn storage_reason(base: &BaseModel, shared: bool) -> String {
    if shared {
        format!("shares {} with another pick: no extra disk", base.name)
    } else if base.embedded {
        format!("runs on {}, the built-in model ({})", base.name, human_bytes(base.size_bytes))
    } else {
        format!("needs {} for {}", human_bytes(base.size_bytes), base.name)
    }
}

fn nothing_fits(catalog: &Catalog, profile: &Profile, fits_memory: &dyn Fn(&Specialist) -> bool) -> RecommendError {
    let on_disk: Vec<&Specialist> =
        catalog.specialists().iter().filter(|s| s.size_bytes <= profile.storage_budget_bytes).collect();
    if let (Some(memory), false) = (profile.memory_bytes, on_disk.is_empty()) {
        let needed = on_disk
            .iter()
            .filter_map(|s| catalog.base_model_of(s))
            .map(|base| base.min_ram_bytes)
            .min()
            .unwrap_or(u64::MAX);
        return RecommendError::MemoryTooSmall { memory_bytes: memory, needed_bytes: needed };
    }
    let runnable = catalog.specialists().iter().filter(|s| fits_memory(s)).map(|s| s.size_bytes).min();
    let smallest = catalog.specialists().iter().map(|s| s.size_bytes).min();
    RecommendError::StorageTooSmall {
        budget_bytes: profile.storage_budget_bytes,
        needed_bytes: runnable.or(smallest).unwrap_or(u64::MAX),
    }
}

/// Greedy selection under the storage budget, counting each base model once.
struct Picker<'a> {
    catalog: &'a Catalog,
    budget: u64,
    picked: Vec<usize>,
    bases: BTreeSet<&'a str>,
    used: u64,
}

impl<'a> Picker<'a> {
    fn full(&self) -> bool {
        self.picked.len() >= MAX_RECOMMENDATIONS
    }

    /// Extra bytes this specialist would add.
    fn extra_bytes(&self, specialist: &Specialist) -> Option<u64> {
        let base = self.catalog.base_model_of(specialist)?;
        let lora = specialist.lora.as_ref().map_or(0, |lora| lora.size_bytes);
        let base_bytes = if self.bases.contains(base.id.as_str()) { 0 } else { base.size_bytes };
        Some(base_bytes.saturating_add(lora))
    }

    fn fits(&self, specialist: &Specialist) -> bool {
        self.extra_bytes(specialist).is_some_and(|extra| self.used.saturating_add(extra) <= self.budget)
    }

    fn pick(&mut self, index: usize, specialist: &'a Specialist) -> bool {
        if self.full() || self.picked.contains(&index) || !self.fits(specialist) {
            return false;
        }
        let Some(extra) = self.extra_bytes(specialist) else { return false };
        let Some(base) = self.catalog.base_model_of(specialist) else { return false };
        self.used = self.used.saturating_add(extra);
        self.bases.insert(base.id.as_str());
        self.picked.push(index);
        true
    }
}
