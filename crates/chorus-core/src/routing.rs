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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Domain, FALLBACK_SPECIALIST, Specialist};

// ---------------------------------------------------------------------------
// Reachability
// ---------------------------------------------------------------------------

/// Which specialists can run right now: installed on this device or served
/// by a reachable peer. Only reachable specialists are routing candidates.
///
/// Implemented for [`AllSpecialists`], slices, vectors, arrays and sets of
/// ids.
pub trait Reachable {
    /// Whether the specialist with this id can run.
    fn is_reachable(&self, specialist_id: &str) -> bool;
}

/// Every specialist of the catalog is reachable (for `chorus route` and
/// tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllSpecialists;

impl Reachable for AllSpecialists {
    fn is_reachable(&self, _specialist_id: &str) -> bool {
        true
    }
}

impl Reachable for [&str] {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(&specialist_id)
    }
}

impl Reachable for [String] {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.iter().any(|id| id == specialist_id)
    }
}

impl<const N: usize> Reachable for [&str; N] {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(&specialist_id)
    }
}

impl Reachable for Vec<&str> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(&specialist_id)
    }
}

impl Reachable for Vec<String> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.iter().any(|id| id == specialist_id)
    }
}

impl<S: BuildHasher> Reachable for HashSet<String, S> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl<S: BuildHasher> Reachable for HashSet<&str, S> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl Reachable for BTreeSet<String> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl Reachable for BTreeSet<&str> {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        self.contains(specialist_id)
    }
}

impl<R: Reachable + ?Sized> Reachable for &R {
    fn is_reachable(&self, specialist_id: &str) -> bool {
        (**self).is_reachable(specialist_id)
    }
}

// ---------------------------------------------------------------------------
// Public results
// ---------------------------------------------------------------------------

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
}

/// The verdict of [`analyse`].
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

/// One part of a query, as [`analyse`] cut it: a request (a sub-task for
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
    /// `translate.es`).
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

// ---------------------------------------------------------------------------
// Text normalisation
// ---------------------------------------------------------------------------

/// Folds one character: lowercase (first char of the lowercase mapping, so
/// the folded text has exactly as many chars as the original), plain quotes,
/// plain hyphens and spaces.
fn fold_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}' | '\u{2033}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{00A0}' | '\u{2007}' | '\u{2009}' | '\u{202F}' | '\u{3000}' => ' ',
        _ => c.to_lowercase().next().unwrap_or(c),
    }
}

/// The folded text, char for char.
fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Scripts written without spaces between words (or, for Korean, with
/// particles attached): keywords in them match as substrings.
fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0E7F}'     // Thai
        | '\u{1100}'..='\u{11FF}'   // Hangul Jamo
        | '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3130}'..='\u{318F}'   // Hangul compatibility Jamo
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}') // CJK compatibility ideographs
}

/// Words that stand for each other in phrases (`fix my sink` ≈ "fix the
/// sink") and do not count towards a keyword's weight.
const DETERMINERS: &[&str] =
    &["a", "an", "the", "my", "our", "your", "this", "that", "these", "those", "his", "her", "their", "its", "some"];

fn is_determiner(word: &str) -> bool {
    DETERMINERS.contains(&word)
}

/// One word of a text, with its byte span in the folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    start: usize,
    end: usize,
    word: String,
    /// Added by a cue (`%`, arithmetic), not written as such.
    synthetic: bool,
}

/// A folded text and its words: what terms are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    folded: String,
    tokens: Vec<Token>,
}

impl Text {
    /// A query text: folded, with `%` read as "percent" and arithmetic cues.
    pub(crate) fn new(raw: &str) -> Text {
        let mut text = Text::plain(raw);
        if let Some(cue) = arithmetic_cue(&text.folded) {
            let end = text.folded.len();
            text.tokens.push(Token { start: end, end, word: cue.to_owned(), synthetic: true });
        }
        text
    }

    /// A text without arithmetic cues (tags, profile fields).
    pub(crate) fn plain(raw: &str) -> Text {
        let folded = fold(raw);
        let mut tokens = Vec::new();
        let mut current: Option<usize> = None;
        for (index, c) in folded.char_indices() {
            if is_word_char(c) || c == '\'' {
                current.get_or_insert(index);
                continue;
            }
            if let Some(start) = current.take() {
                push_token(&folded, start, index, &mut tokens);
            }
            if c == '%' {
                tokens.push(Token { start: index, end: index + 1, word: "percent".to_owned(), synthetic: false });
            }
        }
        if let Some(start) = current {
            push_token(&folded, start, folded.len(), &mut tokens);
        }
        Text { folded, tokens }
    }

    /// Whether the words at token indices `a` < `b` are separated only by
    /// spaces, hyphens or slashes (a phrase does not run across punctuation).
    fn joined(&self, a: usize, b: usize) -> bool {
        let (Some(left), Some(right)) = (self.tokens.get(a), self.tokens.get(b)) else { return false };
        if right.synthetic || left.synthetic || left.end > right.start {
            return false;
        }
        self.folded
            .get(left.end..right.start)
            .is_some_and(|between| between.chars().all(|c| c.is_whitespace() || c == '-' || c == '/'))
    }
}

fn push_token(folded: &str, start: usize, end: usize, tokens: &mut Vec<Token>) {
    let Some(raw) = folded.get(start..end) else { return };
    let leading = raw.len() - raw.trim_start_matches('\'').len();
    let word = raw.trim_matches('\'');
    if word.is_empty() {
        return;
    }
    let start = start + leading;
    tokens.push(Token { start, end: start + word.len(), word: word.to_owned(), synthetic: false });
}

/// "equation" for `3x + 7 = 22`, "calculate" for `12 * 7`.
fn arithmetic_cue(folded: &str) -> Option<&'static str> {
    if !folded.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let chars: Vec<char> = folded.chars().filter(|c| !c.is_whitespace()).collect();
    let around = |index: usize| {
        let before = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
        let after = chars.get(index + 1).copied();
        (before, after)
    };
    let operand =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == 'x' || c == 'y' || c == ')' || c == '(');
    for (index, c) in chars.iter().enumerate() {
        if *c == '=' {
            let (before, after) = around(index);
            if operand(before) && (operand(after) || after == Some('-')) {
                return Some("equation");
            }
        }
    }
    for (index, c) in chars.iter().enumerate() {
        if matches!(c, '+' | '*' | '×' | '÷' | '^') {
            let (before, after) = around(index);
            let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == ')' || c == '(');
            if digit(before) && digit(after) {
                return Some("calculate");
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Terms: keywords and tags compiled for matching
// ---------------------------------------------------------------------------

/// Where a term matched: byte span in the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TermMatch {
    start: usize,
    end: usize,
    gapped: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum TermKind {
    /// Plain words: matched on tokens. Each entry lists the accepted forms
    /// of one word.
    Words(Vec<Vec<String>>),
    /// Words with symbols: matched on the folded text, whole-word at the
    /// alphanumeric ends.
    Symbols(Vec<String>),
    /// Chinese, Japanese, Thai, Korean: a plain substring.
    Unspaced(String),
}

/// A keyword or tag, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    label: String,
    kind: TermKind,
    weight: f64,
    content_words: usize,
}

/// Accepted forms of a word: itself, plural, and verb endings for words of
/// four letters or more.
fn word_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_owned()];
    let inflectable = word.len() >= 4 && word.chars().all(|c| c.is_ascii_alphabetic());
    if !inflectable {
        return forms;
    }
    let mut add = |form: String| {
        if !forms.contains(&form) {
            forms.push(form);
        }
    };
    add(format!("{word}s"));
    add(format!("{word}es"));
    let bytes = word.as_bytes();
    let last = bytes[bytes.len() - 1];
    let before_last = bytes[bytes.len() - 2];
    let vowel = |b: u8| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u');
    if last == b'y' && !vowel(before_last) {
        add(format!("{}ies", &word[..word.len() - 1]));
        add(format!("{}ied", &word[..word.len() - 1]));
    }
    if last == b'e' {
        add(format!("{word}d"));
        add(format!("{}ing", &word[..word.len() - 1]));
    } else {
        add(format!("{word}ed"));
        add(format!("{word}ing"));
    }
    forms
}

impl Term {
    /// Compiles a keyword or tag; `scale` multiplies its weight (the number
    /// of content words). `None` for an empty keyword.
    pub(crate) fn keyword(raw: &str, scale: f64) -> Option<Term> {
        let folded = fold(raw.trim());
        if folded.is_empty() {
            return None;
        }
        let spaced: String = folded.chars().map(|c| if c == '-' { ' ' } else { c }).collect();
        let words: Vec<&str> = spaced.split_whitespace().collect();
        let content_words = words.iter().filter(|word| !is_determiner(word)).count().max(1);
        let kind = if folded.chars().any(is_unspaced_script) {
            TermKind::Unspaced(folded.clone())
        } else if !words.is_empty() && spaced.chars().all(|c| is_word_char(c) || c == '\'' || c.is_whitespace()) {
            TermKind::Words(words.iter().map(|word| word_forms(word)).collect())
        } else {
            let mut forms = vec![folded.clone()];
            if let Some(last) = folded.rsplit(' ').next()
                && last.len() >= 4
                && last.chars().all(|c| c.is_ascii_alphabetic())
            {
                let stem = &folded[..folded.len() - last.len()];
                forms.extend(word_forms(last).into_iter().skip(1).map(|form| format!("{stem}{form}")));
            }
            TermKind::Symbols(forms)
        };
        #[allow(clippy::cast_precision_loss)]
        let weight = content_words as f64 * scale;
        Some(Term { label: raw.trim().to_owned(), kind, weight, content_words })
    }

    /// The weight of a match: a skipped word costs half a word.
    fn weight_of(&self, found: TermMatch, scale: f64) -> f64 {
        if found.gapped { (self.weight - 0.5 * scale).max(0.0) } else { self.weight }
    }

    /// The earliest match in the text.
    pub(crate) fn find(&self, text: &Text) -> Option<TermMatch> {
        match &self.kind {
            TermKind::Words(words) => find_words(words, text),
            TermKind::Symbols(forms) => find_symbols(forms, &text.folded),
            TermKind::Unspaced(needle) => text.folded.find(needle.as_str()).map(|start| TermMatch {
                start,
                end: start + needle.len(),
                gapped: false,
            }),
        }
    }
}

fn word_matches(forms: &[String], token: &str) -> bool {
    match forms.first() {
        Some(word) if is_determiner(word) => is_determiner(token),
        _ => forms.iter().any(|form| form == token),
    }
}

/// Conjunctions a phrase never skips over.
fn is_conjunction(word: &str) -> bool {
    matches!(word, "and" | "or" | "but" | "nor" | "then")
}

fn find_words(words: &[Vec<String>], text: &Text) -> Option<TermMatch> {
    (0..text.tokens.len()).find_map(|start| find_words_at(words, text, start))
}

/// A match of the phrase whose first word is token `start`.
fn find_words_at(words: &[Vec<String>], text: &Text, start: usize) -> Option<TermMatch> {
    let token = text.tokens.get(start)?;
    if !word_matches(words.first()?, &token.word) {
        return None;
    }
    let (last, gapped) = extend_words(words, text, 1, start, false)?;
    let end = text.tokens.get(last).map_or(token.end, |token| token.end);
    Some(TermMatch { start: token.start, end, gapped })
}

/// Matches `words[index..]` after token `previous`, skipping at most one
/// token in the whole phrase. Returns the last token index and whether a
/// token was skipped.
fn extend_words(
    words: &[Vec<String>],
    text: &Text,
    index: usize,
    previous: usize,
    gapped: bool,
) -> Option<(usize, bool)> {
    let Some(forms) = words.get(index) else { return Some((previous, gapped)) };
    let next = previous + 1;
    if text.joined(previous, next)
        && text.tokens.get(next).is_some_and(|token| word_matches(forms, &token.word))
        && let Some(found) = extend_words(words, text, index + 1, next, gapped)
    {
        return Some(found);
    }
    let after = next + 1;
    // Only phrases of three words or more skip a word (two-word keywords are
    // compounds: `cell biology` never matches "cell phone biology"), and only
    // a plain word, never a number or a conjunction.
    let skippable = words.len() >= 3
        && text
            .tokens
            .get(next)
            .is_some_and(|token| !is_conjunction(&token.word) && token.word.chars().all(char::is_alphabetic));
    if !gapped
        && skippable
        && text.joined(previous, next)
        && text.joined(next, after)
        && text.tokens.get(after).is_some_and(|token| word_matches(forms, &token.word))
    {
        return extend_words(words, text, index + 1, after, true);
    }
    None
}

fn find_symbols(forms: &[String], folded: &str) -> Option<TermMatch> {
    let mut best: Option<TermMatch> = None;
    for form in forms {
        let starts_with_word = form.chars().next().is_some_and(is_word_char);
        let ends_with_word = form.chars().next_back().is_some_and(is_word_char);
        for (start, _) in folded.match_indices(form.as_str()) {
            let end = start + form.len();
            let before_ok = !starts_with_word || !folded[..start].chars().next_back().is_some_and(is_word_char);
            let after_ok = !ends_with_word || !folded[end..].chars().next().is_some_and(is_word_char);
            if before_ok && after_ok {
                let better = best.is_none_or(|best| start < best.start || (start == best.start && end > best.end));
                if better {
                    best = Some(TermMatch { start, end, gapped: false });
                }
                break;
            }
        }
    }
    best
}

// ---------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------

/// A translator's one-word keyword (a bare language name) weighs less than
/// one word: "Spanish" is often the topic, not the target language.
const LANGUAGE_NAME_WEIGHT: f64 = 0.9;
/// Skills, professions and the name count half a keyword.
const TAG_SCALE: f64 = 0.5;
/// A tag shared by more specialists than this says nothing about one.
const MAX_TAG_SHARING: usize = 2;
/// Added to every matched translator when the query asks to translate.
const TRANSLATE_CUE_BONUS: f64 = 1.0;
/// A clause routes on its own from this score: one keyword (or one bare
/// language name).
const MIN_CLAUSE_SCORE: f64 = LANGUAGE_NAME_WEIGHT;

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

/// The catalog's keywords and tags compiled for matching, built once per
/// [`Catalog`] and cached in it. Terms are indexed by the forms of their
/// first word, so ranking a query only tries the terms that can start at
/// one of its words.
#[derive(Debug)]
pub(crate) struct CompiledCatalog {
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
    fn new(catalog: &Catalog) -> CompiledCatalog {
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

/// The cache of a catalog's [`CompiledCatalog`]: built on first use, shared
/// by clones, ignored by comparisons.
#[derive(Default, Clone)]
pub(crate) struct RoutingCache(OnceLock<Arc<CompiledCatalog>>);

impl RoutingCache {
    pub(crate) fn get_or_build(&self, catalog: &Catalog) -> &CompiledCatalog {
        self.0.get_or_init(|| Arc::new(CompiledCatalog::new(catalog)))
    }
}

impl std::fmt::Debug for RoutingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "RoutingCache(built)" } else { "RoutingCache(empty)" })
    }
}

impl PartialEq for RoutingCache {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// The compiled catalog seen through a reachability filter.
struct Matcher<'c> {
    catalog: &'c Catalog,
    compiled: &'c CompiledCatalog,
    reachable: Vec<bool>,
}

/// One specialist's score on a text, before it becomes public.
#[derive(Debug, Clone)]
struct Ranked {
    order: usize,
    score: f64,
    first: usize,
    matched: Vec<String>,
}

impl<'c> Matcher<'c> {
    fn new<R: Reachable + ?Sized>(catalog: &'c Catalog, reachable: &R) -> Matcher<'c> {
        Matcher {
            catalog,
            compiled: catalog.routing_cache().get_or_build(catalog),
            reachable: catalog.specialists().iter().map(|specialist| reachable.is_reachable(&specialist.id)).collect(),
        }
    }

    /// Scores every reachable specialist on the text; best first.
    fn rank(&self, text: &Text) -> Vec<Ranked> {
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
            ranked.push(Ranked { order, score: round(score), first, matched });
        }
        ranked.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| a.first.cmp(&b.first)).then_with(|| a.order.cmp(&b.order))
        });
        ranked
    }

    fn specialist(&self, ranked: &Ranked) -> Option<&'c Specialist> {
        self.catalog.specialists().get(ranked.order)
    }

    fn public(&self, ranked: &Ranked) -> Option<SpecialistScore> {
        let specialist = self.specialist(ranked)?;
        Some(SpecialistScore {
            specialist_id: specialist.id.clone(),
            domain: specialist.domain,
            score: ranked.score,
            matched: ranked.matched.clone(),
        })
    }

    fn public_all(&self, ranked: &[Ranked]) -> Vec<SpecialistScore> {
        ranked.iter().filter_map(|entry| self.public(entry)).collect()
    }

    /// Byte spans of separator-carrying keywords in the folded query.
    fn protected_spans(&self, folded: &str) -> Vec<(usize, usize)> {
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
/// ```
/// use chorus_core::{AllSpecialists, Catalog, rank_specialists};
/// let catalog = Catalog::bundled()?;
/// let ranking = rank_specialists(&catalog, "Write a job description for a backend engineer", &AllSpecialists);
/// assert_eq!(ranking[0].specialist_id, "hr.recruiting");
/// # Ok::<(), chorus_core::CatalogError>(())
/// ```
#[must_use]
pub fn rank_specialists<R: Reachable + ?Sized>(catalog: &Catalog, query: &str, reachable: &R) -> Vec<SpecialistScore> {
    let matcher = Matcher::new(catalog, reachable);
    matcher.public_all(&matcher.rank(&Text::new(query)))
}

// ---------------------------------------------------------------------------
// Clause splitting
// ---------------------------------------------------------------------------

/// What separates a piece from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Boundary {
    /// The first piece.
    Start,
    /// A comma, "and", "plus", "as well as", "along with", "&".
    Weak,
    /// A sentence end, a question mark, a semicolon, a line break, a list item.
    Strong,
}

/// A piece of the query between separators: byte span in the folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    start: usize,
    end: usize,
    boundary: Boundary,
    sentence: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Pieces {
    pieces: Vec<Piece>,
    /// Per sentence: whether it ended with a question mark.
    questions: Vec<bool>,
}

/// A separator found in the text: char indices `from..to` are dropped.
struct Cut {
    from: usize,
    to: usize,
    strength: Boundary,
    question: bool,
}

const SEPARATOR_PHRASES: &[&[&str]] = &[
    &["as", "well", "as"],
    &["along", "with"],
    &["together", "with"],
    &["and", "then"],
    &["and", "also"],
    &["and"],
    &["plus"],
];

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "approx", "inc", "ltd", "jr", "sr", "fig", "cf", "no",
    "al", "u.s", "u.k", "eg", "ie",
];

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
}

/// Marks quoted text: nothing inside quotes is split.
fn mark_quotes(chars: &[(usize, char)], blocked: &mut [bool]) {
    let mut open: Option<(usize, char)> = None;
    for index in 0..chars.len() {
        let c = chars[index].1;
        let previous = index.checked_sub(1).map(|i| chars[i].1);
        let next = chars.get(index + 1).map(|&(_, c)| c);
        match open {
            None => {
                let closer = match c {
                    '"' => Some('"'),
                    '「' => Some('」'),
                    '『' => Some('』'),
                    '\'' if !previous.is_some_and(is_word_char) && next.is_some_and(|n| !n.is_whitespace()) => {
                        Some('\'')
                    }
                    _ => None,
                };
                if let Some(closer) = closer {
                    open = Some((index, closer));
                }
            }
            Some((start, closer)) => {
                let closes = c == closer && (closer != '\'' || !next.is_some_and(is_word_char));
                if closes {
                    for flag in &mut blocked[start..=index] {
                        *flag = true;
                    }
                    open = None;
                }
            }
        }
    }
}

/// Length in chars of a list marker at a line start (`- `, `* `, `• `,
/// `1. `, `2) `, `a) `), including the spaces after it.
fn list_marker_len(chars: &[(usize, char)], index: usize) -> Option<usize> {
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let spaces_after = |i: usize| {
        let mut end = i;
        while at(end).is_some_and(|c| c.is_whitespace() && c != '\n') {
            end += 1;
        }
        (end > i || at(i).is_none()).then_some(end)
    };
    let first = at(index)?;
    if matches!(first, '-' | '*' | '•' | '·' | '+' | '‣' | '◦') {
        return spaces_after(index + 1).map(|end| end - index);
    }
    let mut end = index;
    while at(end).is_some_and(|c| c.is_ascii_digit()) && end - index < 3 {
        end += 1;
    }
    if end == index && first.is_ascii_alphabetic() && at(index + 1) == Some(')') {
        end = index + 1;
    }
    if end > index && matches!(at(end), Some('.' | ')')) {
        if at(end) == Some('.') && end == index + 1 && first.is_ascii_alphabetic() {
            return None;
        }
        return spaces_after(end + 1).map(|after| after - index);
    }
    None
}

/// Whether the `.` at `index` ends an abbreviation ("e.g.", "vs.") or an
/// initial rather than a sentence.
fn is_abbreviation(chars: &[(usize, char)], index: usize) -> bool {
    let mut start = index;
    while start > 0 && chars.get(start - 1).is_some_and(|&(_, c)| c.is_alphanumeric() || c == '.') {
        start -= 1;
    }
    let word: String = chars[start..index].iter().map(|&(_, c)| c).collect();
    ABBREVIATIONS.contains(&word.as_str()) || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
}

/// Length in chars of a separator phrase ("and", "as well as") starting at
/// `index`, which starts a word.
fn separator_len(chars: &[(usize, char)], index: usize, blocked: &[bool]) -> Option<usize> {
    'phrases: for phrase in SEPARATOR_PHRASES {
        let mut position = index;
        for (number, word) in phrase.iter().enumerate() {
            if number > 0 {
                let spaces_start = position;
                while chars.get(position).is_some_and(|&(_, c)| c.is_whitespace() && c != '\n') {
                    position += 1;
                }
                if position == spaces_start {
                    continue 'phrases;
                }
            }
            for expected in word.chars() {
                match chars.get(position) {
                    Some(&(_, c)) if c == expected && !blocked[position] => position += 1,
                    _ => continue 'phrases,
                }
            }
        }
        if chars.get(position).is_some_and(|&(_, c)| is_word_char(c) || c == '\'') {
            continue;
        }
        return Some(position - index);
    }
    None
}

/// Cuts the folded query into pieces at separators, outside quotes and
/// separator-carrying keywords. Sentence ends stay with their sentence.
fn split_pieces(folded: &str, protected: &[(usize, usize)]) -> Pieces {
    let chars: Vec<(usize, char)> = folded.char_indices().collect();
    let count = chars.len();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut blocked = vec![false; count];
    for (index, &(byte, _)) in chars.iter().enumerate() {
        if protected.iter().any(|&(start, end)| byte >= start && byte < end) {
            blocked[index] = true;
        }
    }
    mark_quotes(&chars, &mut blocked);

    let mut cuts: Vec<Cut> = Vec::new();
    let mut index = 0;
    let mut line_start = true;
    while index < count {
        let c = chars[index].1;
        if c == '\n' || c == '\r' {
            cuts.push(Cut { from: index, to: index + 1, strength: Boundary::Strong, question: false });
            line_start = true;
            index += 1;
            continue;
        }
        if line_start {
            if c.is_whitespace() {
                index += 1;
                continue;
            }
            line_start = false;
            if let Some(length) = list_marker_len(&chars, index) {
                cuts.push(Cut { from: index, to: index + length, strength: Boundary::Strong, question: false });
                index += length;
                continue;
            }
        }
        if blocked[index] {
            index += 1;
            continue;
        }
        match c {
            _ if is_sentence_end(c) => {
                let mut end = index;
                let mut question = false;
                while at(end).is_some_and(is_sentence_end) {
                    question |= matches!(at(end), Some('?' | '？'));
                    end += 1;
                }
                let unspaced_stop = matches!(c, '。' | '！' | '？');
                let ends = at(end).is_none_or(char::is_whitespace) || unspaced_stop;
                let abbreviation = c == '.' && end == index + 1 && is_abbreviation(&chars, index);
                if ends && !abbreviation {
                    cuts.push(Cut { from: end, to: end, strength: Boundary::Strong, question });
                }
                index = end;
                continue;
            }
            ';' | '；' => cuts.push(Cut { from: index, to: index + 1, strength: Boundary::Strong, question: false }),
            ',' | '，' | '、' => {
                let between_digits = index > 0
                    && at(index - 1).is_some_and(|c| c.is_ascii_digit())
                    && at(index + 1).is_some_and(|c| c.is_ascii_digit());
                if !between_digits {
                    cuts.push(Cut { from: index, to: index + 1, strength: Boundary::Weak, question: false });
                }
            }
            '&' => {
                let spaced = index > 0
                    && at(index - 1).is_some_and(char::is_whitespace)
                    && at(index + 1).is_some_and(char::is_whitespace);
                if spaced {
                    cuts.push(Cut { from: index, to: index + 1, strength: Boundary::Weak, question: false });
                }
            }
            ')' => {
                // An inline list item: "… 1) a slogan 2) a budget".
                let mut start = index;
                while start > 0 && at(start - 1).is_some_and(|c| c.is_ascii_digit()) && index - start < 2 {
                    start -= 1;
                }
                if start == index && index > 0 && at(index - 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                    start = index - 1;
                }
                let marker = start < index
                    && start > 0
                    && at(start - 1).is_some_and(char::is_whitespace)
                    && at(index + 1).is_some_and(char::is_whitespace)
                    && !blocked[start];
                if marker {
                    cuts.push(Cut { from: start, to: index + 1, strength: Boundary::Strong, question: false });
                }
            }
            _ if c.is_alphabetic() && (index == 0 || !at(index - 1).is_some_and(|c| is_word_char(c) || c == '\'')) => {
                if let Some(length) = separator_len(&chars, index, &blocked) {
                    cuts.push(Cut { from: index, to: index + length, strength: Boundary::Weak, question: false });
                    index += length;
                    continue;
                }
            }
            _ => {}
        }
        index += 1;
    }

    let mut result = Pieces::default();
    let mut position = 0;
    let mut pending: Option<Boundary> = None;
    let byte = |i: usize| chars.get(i).map_or(folded.len(), |&(byte, _)| byte);
    let emit = |from: usize, to: usize, pending: &mut Option<Boundary>, result: &mut Pieces| {
        let trim = |c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '，' | '；' | '、');
        let mut start = from;
        let mut end = to.max(from);
        while start < end && at(start).is_some_and(trim) {
            start += 1;
        }
        while end > start && at(end - 1).is_some_and(trim) {
            end -= 1;
        }
        if !(start..end).any(|i| at(i).is_some_and(is_word_char)) {
            return;
        }
        let boundary = if result.pieces.is_empty() { Boundary::Start } else { pending.unwrap_or(Boundary::Weak) };
        if result.pieces.is_empty() || boundary == Boundary::Strong {
            result.questions.push(false);
        }
        let sentence = result.questions.len() - 1;
        result.pieces.push(Piece { start: byte(start), end: byte(end), boundary, sentence });
        *pending = None;
    };
    for cut in cuts {
        let from = cut.from.max(position);
        emit(position, from, &mut pending, &mut result);
        pending = Some(pending.map_or(cut.strength, |strength| strength.max(cut.strength)));
        if cut.question
            && let Some(last) = result.questions.last_mut()
        {
            *last = true;
        }
        position = cut.to.max(from);
    }
    emit(position, count, &mut pending, &mut result);
    result
}

// ---------------------------------------------------------------------------
// Requests and context
// ---------------------------------------------------------------------------

/// Words skipped before looking at how a clause starts.
const FILLERS: &[&str] = &[
    "also",
    "then",
    "and",
    "plus",
    "please",
    "pls",
    "now",
    "next",
    "finally",
    "additionally",
    "lastly",
    "so",
    "ok",
    "okay",
    "afterwards",
    "first",
    "second",
    "third",
    "secondly",
    "thirdly",
    "hi",
    "hey",
    "hello",
    "oh",
    "kindly",
];

/// Verbs that start a request ("write …", "translate …").
const REQUEST_VERBS: &[&str] = &[
    "write",
    "draft",
    "create",
    "make",
    "build",
    "design",
    "plan",
    "translate",
    "summarise",
    "summarize",
    "explain",
    "describe",
    "give",
    "list",
    "suggest",
    "recommend",
    "calculate",
    "compute",
    "work",
    "estimate",
    "find",
    "fix",
    "review",
    "check",
    "proofread",
    "edit",
    "rewrite",
    "compare",
    "analyse",
    "analyze",
    "generate",
    "compose",
    "come",
    "prepare",
    "outline",
    "help",
    "tell",
    "show",
    "teach",
    "add",
    "include",
    "flag",
    "convert",
    "turn",
    "put",
    "draw",
    "sketch",
    "propose",
    "set",
    "choose",
    "pick",
    "brainstorm",
    "research",
    "send",
    "respond",
    "reply",
    "answer",
    "improve",
    "optimise",
    "optimize",
    "debug",
    "refactor",
    "test",
    "plot",
    "develop",
    "implement",
    "organise",
    "organize",
    "schedule",
    "book",
    "advise",
    "assess",
    "evaluate",
    "identify",
    "define",
    "clarify",
    "simplify",
    "shorten",
    "expand",
    "polish",
    "format",
    "structure",
    "map",
    "solve",
    "balance",
    "derive",
    "prove",
    "name",
    "recap",
    "quiz",
    "rate",
    "rank",
    "sort",
    "convert",
    "say",
    "spell",
    "count",
];

/// Words that start a question, even without a question mark.
const QUESTION_WORDS: &[&str] = &[
    "what", "what's", "whats", "how", "how's", "why", "when", "where", "where's", "which", "who", "who's", "whom",
    "whose", "is", "are", "am", "was", "were", "can", "could", "should", "would", "will", "do", "does", "did", "may",
    "might", "shall", "any", "have", "has",
];

/// Phrases that make a sentence a request wherever they appear.
const REQUEST_PHRASES: &[&str] = &[
    "please",
    "help me",
    "i need",
    "i want",
    "i'd like",
    "i would like",
    "we need",
    "we want",
    "we'd like",
    "can you",
    "could you",
    "would you",
    "let's",
    "i'm looking for",
    "give me",
    "show me",
    "tell me",
    "i have to",
    "remind me",
    "i wonder",
    "any tips",
    "any ideas",
    "any advice",
];

/// The first word of a clause that is not a filler.
fn leading_word(folded: &str) -> Option<&str> {
    folded
        .split(|c: char| !(is_word_char(c) || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .find(|word| !FILLERS.contains(word))
}

/// Whether a clause opens a request of its own (starts with a request verb
/// or a question word).
fn starts_request(folded: &str) -> bool {
    leading_word(folded).is_some_and(|word| REQUEST_VERBS.contains(&word) || QUESTION_WORDS.contains(&word))
}

/// Whether a sentence asks for something: a question, a request verb or
/// question word at its start, or a request phrase ("I need", "can you").
fn is_request_sentence(folded: &str, question: bool) -> bool {
    if question || starts_request(folded) {
        return true;
    }
    static PHRASES: OnceLock<Vec<Term>> = OnceLock::new();
    let phrases =
        PHRASES.get_or_init(|| REQUEST_PHRASES.iter().filter_map(|phrase| Term::keyword(phrase, 1.0)).collect());
    let text = Text::plain(folded);
    phrases.iter().any(|term| term.find(&text).is_some())
}

// ---------------------------------------------------------------------------
// Analyse
// ---------------------------------------------------------------------------

/// A piece with its routing, before parts are merged.
struct RoutedPiece {
    start: usize,
    end: usize,
    best: Option<Ranked>,
    own_request: bool,
    context: bool,
}

/// A merged part of the query: byte span in the folded query.
struct Part {
    start: usize,
    end: usize,
    /// Catalog order of the part's best specialist.
    best: Option<usize>,
    own_request: bool,
    context: bool,
}

/// Maps byte offsets of the folded query back to the original (same chars,
/// possibly different UTF-8 lengths).
struct OffsetMap {
    pairs: Vec<(usize, usize)>,
}

impl OffsetMap {
    fn new(folded: &str, original: &str) -> OffsetMap {
        let mut pairs: Vec<(usize, usize)> =
            folded.char_indices().map(|(byte, _)| byte).zip(original.char_indices().map(|(byte, _)| byte)).collect();
        pairs.push((folded.len(), original.len()));
        OffsetMap { pairs }
    }

    fn original(&self, folded_byte: usize) -> usize {
        match self.pairs.binary_search_by_key(&folded_byte, |&(folded, _)| folded) {
            Ok(index) => self.pairs[index].1,
            Err(index) => self.pairs.get(index).map_or(0, |&(_, original)| original),
        }
    }
}

/// Decides whether a query is simple or composite, and routes it.
///
/// **The rule.** The query is cut into clauses at sentence ends, question
/// marks, semicolons, line breaks and list items (strong separators) and at
/// commas, "and", "plus", "as well as", "along with" (weak separators) —
/// never inside quotes or inside a keyword such as "terms and conditions".
/// When some sentences ask for something and others only state facts, the
/// statements are *context*, not requests. Each request clause is routed on
/// its own (best specialist with score ≥ 0.9); a clause that matches
/// nothing joins its neighbour, and neighbours with the same specialist
/// merge. The query is **composite** when two request parts route to
/// different specialists that cannot stand in for each other: different
/// domains, or two translators (each is tied to one language), or — within
/// one domain — a later part that is a request of its own (after a strong
/// separator, or starting with a verb or question word: "…; also write
/// tests"). Otherwise it is **simple**, answered by the best specialist for
/// the whole request; when nothing matches, by `general.assistant`.
///
/// So "Translate 'good morning' into Spanish" and "What is 15% of 80?" are
/// simple, while "Write a marketing plan for a budgeting app, with pricing
/// maths and a Spanish tagline" is composite (marketing, finance, and the
/// Spanish translator for the tagline — a part that names a language its
/// specialist does not write brings that language's translator along).
///
/// ```
/// use chorus_core::{AllSpecialists, Catalog, QueryKind, analyse};
/// let catalog = Catalog::bundled()?;
/// let analysis = analyse(&catalog, "Translate 'good morning' into Spanish", &AllSpecialists);
/// assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "translate.es".into() });
/// let plan = analyse(
///     &catalog,
///     "Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline",
///     &AllSpecialists,
/// );
/// assert!(plan.is_composite());
/// # Ok::<(), chorus_core::CatalogError>(())
/// ```
#[must_use]
pub fn analyse<R: Reachable + ?Sized>(catalog: &Catalog, query: &str, reachable: &R) -> Analysis {
    let matcher = Matcher::new(catalog, reachable);
    let folded = fold(query);
    let offsets = OffsetMap::new(&folded, query);
    let original = |start: usize, end: usize| -> &str {
        query.get(offsets.original(start)..offsets.original(end)).unwrap_or_default().trim()
    };
    let split = split_pieces(&folded, &matcher.protected_spans(&folded));

    // Which sentences ask, and which only give context.
    let sentence_count = split.questions.len();
    let mut requests = vec![false; sentence_count];
    for (sentence, asks) in requests.iter_mut().enumerate() {
        let members: Vec<&Piece> = split.pieces.iter().filter(|piece| piece.sentence == sentence).collect();
        if let (Some(first), Some(last)) = (members.first(), members.last()) {
            let text = folded.get(first.start..last.end).unwrap_or_default();
            *asks = is_request_sentence(text, split.questions.get(sentence).copied().unwrap_or(false));
        }
    }
    let any_request = requests.iter().any(|asks| *asks);

    let routed: Vec<RoutedPiece> = split
        .pieces
        .iter()
        .map(|piece| {
            let text = Text::new(original(piece.start, piece.end));
            let best = matcher.rank(&text).into_iter().next().filter(|best| best.score >= MIN_CLAUSE_SCORE);
            let piece_folded = folded.get(piece.start..piece.end).unwrap_or_default();
            RoutedPiece {
                start: piece.start,
                end: piece.end,
                best,
                own_request: piece.boundary != Boundary::Weak || starts_request(piece_folded),
                context: any_request && !requests.get(piece.sentence).copied().unwrap_or(true),
            }
        })
        .collect();

    let parts = merge_parts(&routed);
    let clauses: Vec<Clause> = parts
        .iter()
        .map(|part| {
            let text = original(part.start, part.end).to_owned();
            let ranking = matcher.rank(&Text::new(&text));
            let best = match part.best {
                Some(order) => ranking.iter().find(|entry| entry.order == order),
                None if part.context => ranking.first().filter(|entry| entry.score >= MIN_CLAUSE_SCORE),
                None => None,
            };
            Clause { text, best: best.and_then(|entry| matcher.public(entry)), context: part.context, translator: None }
        })
        .collect();

    decide(catalog, &matcher, reachable, query, &parts, clauses)
}

/// Merges routed pieces into parts: unrouted pieces join a neighbour,
/// neighbours with the same specialist merge, context stays apart.
fn merge_parts(routed: &[RoutedPiece]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut pending: Option<(usize, usize, bool)> = None;
    for piece in routed {
        if piece.context {
            if let Some((start, end, own)) = pending.take() {
                parts.push(Part { start, end, best: None, own_request: own, context: false });
            }
            match parts.last_mut() {
                Some(last) if last.context => last.end = piece.end,
                _ => parts.push(Part {
                    start: piece.start,
                    end: piece.end,
                    best: None,
                    own_request: false,
                    context: true,
                }),
            }
            continue;
        }
        match &piece.best {
            None => match (parts.last_mut(), pending.as_mut()) {
                (_, Some(waiting)) => waiting.1 = piece.end,
                (Some(last), None) if !last.context => last.end = piece.end,
                _ => pending = Some((piece.start, piece.end, piece.own_request)),
            },
            Some(best) => {
                let (start, own) = match pending.take() {
                    Some((start, _, own)) => (start, own || piece.own_request),
                    None => (piece.start, piece.own_request),
                };
                match parts.last_mut() {
                    Some(last) if !last.context && last.best == Some(best.order) => last.end = piece.end,
                    Some(last) if !last.context && last.best.is_none() => {
                        last.end = piece.end;
                        last.best = Some(best.order);
                    }
                    _ => parts.push(Part {
                        start,
                        end: piece.end,
                        best: Some(best.order),
                        own_request: own,
                        context: false,
                    }),
                }
            }
        }
    }
    if let Some((start, end, own)) = pending {
        parts.push(Part { start, end, best: None, own_request: own, context: false });
    }
    parts
}

/// Applies the composite rule to the merged parts and writes the reason.
fn decide<R: Reachable + ?Sized>(
    catalog: &Catalog,
    matcher: &Matcher<'_>,
    reachable: &R,
    query: &str,
    parts: &[Part],
    mut clauses: Vec<Clause>,
) -> Analysis {
    let specialists = catalog.specialists();
    let routed: Vec<(usize, usize)> = parts
        .iter()
        .enumerate()
        .filter(|(_, part)| !part.context)
        .filter_map(|(index, part)| part.best.map(|order| (index, order)))
        .collect();

    let mut independent_pair: Option<(usize, usize, &'static str)> = None;
    'pairs: for (later, &(later_part, later_order)) in routed.iter().enumerate() {
        for &(earlier_part, earlier_order) in &routed[..later] {
            if earlier_order == later_order {
                continue;
            }
            let (Some(earlier), Some(current)) = (specialists.get(earlier_order), specialists.get(later_order)) else {
                continue;
            };
            let why = if earlier.domain != current.domain {
                Some("different domains")
            } else if earlier.domain == Domain::Translation {
                Some("different languages")
            } else if parts[later_part].own_request {
                Some("separate requests")
            } else {
                None
            };
            if let Some(why) = why {
                independent_pair = Some((earlier_part, later_part, why));
                break 'pairs;
            }
        }
    }

    // The request text: the query without its context sentences.
    let has_context = parts.iter().any(|part| part.context);
    let request_text: String = if has_context {
        clauses
            .iter()
            .filter(|clause| !clause.context)
            .map(|clause| clause.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        query.to_owned()
    };
    let mut ranked = matcher.rank(&Text::new(&request_text));
    let mut from_context = false;
    if ranked.is_empty() && has_context {
        ranked = matcher.rank(&Text::new(query));
        from_context = !ranked.is_empty();
    }
    let ranking = matcher.public_all(&ranked);

    if let Some((_, _, why)) = independent_pair {
        let mut ids: Vec<String> = Vec::new();
        let mut described = Vec::new();
        for &(part_index, order) in &routed {
            let Some(specialist) = specialists.get(order) else { continue };
            if !ids.contains(&specialist.id) {
                ids.push(specialist.id.clone());
            }
            let translator =
                clauses.get(part_index).and_then(|clause| needed_translator(matcher, specialist, &clause.text));
            let text = clauses.get(part_index).map_or("", |clause| clause.text.as_str());
            match &translator {
                Some(translator) => {
                    described.push(format!("'{}' → {}, then {}", shorten(text), specialist.id, translator));
                    if !ids.contains(translator) {
                        ids.push(translator.clone());
                    }
                }
                None => described.push(format!("'{}' → {}", shorten(text), specialist.id)),
            }
            if let Some(clause) = clauses.get_mut(part_index) {
                clause.translator = translator;
            }
        }
        let reason = format!(
            "composite: {} requests need specialists that cannot stand in for each other ({why}): {}",
            routed.len(),
            described.join("; ")
        );
        return Analysis { kind: QueryKind::Composite { specialist_ids: ids }, reason, ranking, clauses };
    }

    let top = ranked.first().and_then(|entry| matcher.public(entry));
    let (specialist_id, reason) = match top {
        None if query.trim().is_empty() => {
            let fallback = fallback_id(catalog, reachable);
            (fallback.clone(), format!("simple: the query is empty; {fallback} answers"))
        }
        None => {
            let fallback = fallback_id(catalog, reachable);
            (fallback.clone(), format!("simple: no specialist's keywords match; {fallback} answers"))
        }
        Some(top) => {
            let evidence = format!("{} matches {}", top.specialist_id, quote_list(&top.matched));
            let reason = if from_context {
                format!("simple: the request names no specialist, its context does: {evidence}")
            } else if routed.len() >= 2 {
                let domains: BTreeSet<&str> =
                    routed.iter().filter_map(|&(_, order)| specialists.get(order)).map(|s| s.domain.as_str()).collect();
                let domains: Vec<&str> = domains.into_iter().collect();
                format!(
                    "simple: {} parts, all within {} and joined as one request, so one specialist covers them: {evidence}",
                    routed.len(),
                    domains.join(", ")
                )
            } else {
                format!("simple: one request; {evidence}")
            };
            (top.specialist_id, reason)
        }
    };
    Analysis { kind: QueryKind::Simple { specialist_id }, reason, ranking, clauses }
}

/// The translator a part needs: it names a language (a translator matched)
/// that its own specialist does not write.
fn needed_translator(matcher: &Matcher<'_>, specialist: &Specialist, text: &str) -> Option<String> {
    if specialist.domain == Domain::Translation {
        return None;
    }
    matcher
        .rank(&Text::new(text))
        .iter()
        .filter(|entry| entry.score >= LANGUAGE_NAME_WEIGHT)
        .filter_map(|entry| matcher.specialist(entry))
        .find(|candidate| candidate.translation_language().is_some_and(|language| !specialist.speaks(language)))
        .map(|translator| translator.id.clone())
}

/// `general.assistant` if reachable, else the first reachable general
/// specialist, else the first reachable one; `general.assistant` when
/// nothing is reachable (the conductor's own model can play it).
fn fallback_id<R: Reachable + ?Sized>(catalog: &Catalog, reachable: &R) -> String {
    if reachable.is_reachable(FALLBACK_SPECIALIST) {
        return FALLBACK_SPECIALIST.to_owned();
    }
    let reachable_ones = || catalog.specialists().iter().filter(|s| reachable.is_reachable(&s.id));
    reachable_ones()
        .find(|specialist| specialist.domain == Domain::General)
        .or_else(|| reachable_ones().next())
        .map_or_else(|| FALLBACK_SPECIALIST.to_owned(), |specialist| specialist.id.clone())
}

fn quote_list(items: &[String]) -> String {
    items.iter().map(|item| format!("'{item}'")).collect::<Vec<_>>().join(", ")
}

/// At most 60 chars of a clause, for reasons.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.chars().count() <= LIMIT {
        return text.to_owned();
    }
    let cut: String = text.chars().take(LIMIT - 1).collect();
    format!("{}…", cut.trim_end())
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::bundled().expect("bundled catalog")
    }

    fn words(text: &str) -> Vec<String> {
        Text::new(text).tokens.into_iter().map(|token| token.word).collect()
    }

    fn matches(keyword: &str, text: &str) -> bool {
        Term::keyword(keyword, 1.0).and_then(|term| term.find(&Text::new(text))).is_some()
    }

    fn pieces(query: &str) -> Vec<(String, Boundary, usize)> {
        let folded = fold(query);
        split_pieces(&folded, &[])
            .pieces
            .into_iter()
            .map(|piece| (folded[piece.start..piece.end].to_owned(), piece.boundary, piece.sentence))
            .collect()
    }

    fn piece_texts(query: &str) -> Vec<String> {
        pieces(query).into_iter().map(|(text, _, _)| text).collect()
    }

    fn top(query: &str) -> String {
        rank_specialists(&catalog(), query, &AllSpecialists)
            .first()
            .map(|score| score.specialist_id.clone())
            .unwrap_or_default()
    }

    #[test]
    fn folding_lowercases_and_plains_punctuation() {
        assert_eq!(fold("Café “Quoted” – it’s ÄÖ"), "café \"quoted\" - it's äö");
        assert_eq!(fold("İstanbul").chars().count(), "İstanbul".chars().count());
    }

    #[test]
    fn tokens_are_words_with_percent_and_cues() {
        assert_eq!(words("What's 15% of 80?"), ["what's", "15", "percent", "of", "80"]);
        assert_eq!(words("'good morning'"), ["good", "morning"]);
        assert_eq!(words("Solve 3x + 7 = 22").last().map(String::as_str), Some("equation"));
        assert_eq!(words("what is 12 * 7").last().map(String::as_str), Some("calculate"));
        assert_eq!(words("I love C++ and go-to-market"), ["i", "love", "c", "and", "go", "to", "market"]);
    }

    #[test]
    fn keywords_match_whole_words_only() {
        assert!(!matches("ui", "how do I build this"));
        assert!(matches("ui", "my UI is slow"));
        assert!(matches("cell biology", "a question on cell biology"));
        assert!(!matches("cell biology", "cell phone biology"));
        assert!(matches("c++", "a C++ template"));
        assert!(matches("c#", "Is C#, or Java, faster?"));
        assert!(!matches("c#", "abc#"));
        assert!(matches("tl;dr", "give me a tl;dr"));
        assert!(matches("a/b test", "how long should A/B tests run"));
    }

    #[test]
    fn keywords_match_inflections_determiners_and_one_skipped_word() {
        assert!(matches("budget", "our budgets"));
        assert!(matches("strategy", "three strategies"));
        assert!(matches("procrastinate", "I keep procrastinating"));
        assert!(matches("translate", "translated text"));
        assert!(matches("fix my sink", "fix the sink"));
        assert!(matches("write an email", "write a short email"));
        assert!(!matches("write an email", "write a very short email"));
        assert!(!matches("bar chart", "bar, chart"));
        assert!(!matches("write an email", "write a poem and email"));
        assert!(matches("go-to-market", "our go to market plan"));
        assert!(matches("front-end", "front-end work"));
        let gapped = Term::keyword("write an email", 1.0).expect("term");
        let found = gapped.find(&Text::new("write a short email")).expect("match");
        assert!((gapped.weight_of(found, 1.0) - 1.5).abs() < 1e-9, "two content words, minus half for the gap");
    }

    #[test]
    fn unspaced_scripts_match_as_substrings() {
        assert!(matches("翻译", "请把这句话翻译成中文"));
        assert!(matches("번역", "이 문장을 번역해 주세요"));
        assert!(matches("แปล", "ช่วยแปลประโยคนี้"));
    }

    #[test]
    fn clauses_split_at_separators() {
        assert_eq!(
            piece_texts("Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline"),
            ["write a marketing plan for a budgeting app", "with pricing maths", "a spanish tagline"]
        );
        assert_eq!(piece_texts("Plan my trip. Also, find a hotel!"), ["plan my trip.", "also", "find a hotel!"]);
        assert_eq!(piece_texts("Fix this; then test it"), ["fix this", "then test it"]);
        assert_eq!(piece_texts("Budget as well as taxes"), ["budget", "taxes"]);
        assert_eq!(piece_texts("sand and brand"), ["sand", "brand"]);
        assert_eq!(piece_texts("Android Studio"), ["android studio"]);
    }

    #[test]
    fn clauses_keep_quotes_numbers_abbreviations_and_protected_phrases() {
        assert_eq!(
            piece_texts("Translate 'apples, pears and plums' into French"),
            ["translate 'apples, pears and plums' into french"]
        );
        assert_eq!(piece_texts("It costs 1,250.50 dollars"), ["it costs 1,250.50 dollars"]);
        assert_eq!(piece_texts("Use tools, e.g. grep"), ["use tools", "e.g. grep"]);
        assert_eq!(piece_texts("I don't know and can't tell"), ["i don't know", "can't tell"]);
        let folded = fold("Review the terms and conditions");
        let span = folded.find("terms and conditions").expect("present");
        let kept = split_pieces(&folded, &[(span, span + "terms and conditions".len())]);
        assert_eq!(kept.pieces.len(), 1);
    }

    #[test]
    fn clauses_follow_lists_and_sentences() {
        let listed = pieces("Three things:\n1. a slogan\n2) a budget\n- an Instagram caption");
        let texts: Vec<&str> = listed.iter().map(|(text, _, _)| text.as_str()).collect();
        assert_eq!(texts, ["three things", "a slogan", "a budget", "an instagram caption"]);
        assert!(listed.iter().skip(1).all(|(_, boundary, _)| *boundary == Boundary::Strong));
        let inline = piece_texts("Do two things: 1) a slogan 2) a budget");
        assert_eq!(inline, ["do two things", "a slogan", "a budget"]);
        let sentences = pieces("Is it safe? Tell me why, and how.");
        assert_eq!(sentences.iter().map(|(_, _, s)| *s).collect::<Vec<_>>(), [0, 1, 1]);
        let split = split_pieces(&fold("Is it safe? Tell me why."), &[]);
        assert_eq!(split.questions, [true, false]);
    }

    #[test]
    fn requests_and_context_are_told_apart() {
        assert!(starts_request("also, write a poem"));
        assert!(starts_request("how do i fix it"));
        assert!(!starts_request("a spanish tagline"));
        assert!(is_request_sentence("i need a logo", false));
        assert!(is_request_sentence("my app is slow", true));
        assert!(!is_request_sentence("we are launching a budgeting app next month.", false));
    }

    #[test]
    fn multi_word_phrases_outweigh_single_words() {
        assert_eq!(top("Write a job description for a backend engineer"), "hr.recruiting");
        assert_eq!(top("Translate 'did you sleep well?' into Spanish"), "translate.es");
        assert_eq!(top("Explain the causes of the First World War"), "education.history");
        let ranking = rank_specialists(&catalog(), "borrow checker errors in my rust code", &AllSpecialists);
        assert_eq!(ranking[0].specialist_id, "software.rust");
        assert_eq!(ranking[0].matched, ["borrow checker", "rust"]);
        assert!((ranking[0].score - 3.0).abs() < 1e-9);
    }

    #[test]
    fn ties_go_to_the_earliest_match() {
        assert_eq!(top("Plan a 5-day itinerary for Lisbon on a budget"), "lifestyle.travel");
        assert_eq!(top("pricing maths"), "finance.pricing");
        assert_eq!(top("maths for pricing"), "education.math-tutor");
    }

    #[test]
    fn only_reachable_specialists_are_candidates() {
        let catalog = catalog();
        let reachable = ["general.assistant", "finance.pricing"];
        let ranking = rank_specialists(&catalog, "write a rust function for pricing", &reachable);
        let ids: Vec<&str> = ranking.iter().map(|score| score.specialist_id.as_str()).collect();
        assert_eq!(ids, ["finance.pricing"]);
        let analysis = analyse(&catalog, "borrow checker help", &reachable);
        assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "general.assistant".into() });
        let nothing: Vec<String> = Vec::new();
        let analysis = analyse(&catalog, "borrow checker help", &nothing);
        assert_eq!(analysis.specialist_ids(), ["general.assistant"]);
        let only_multilingual = vec!["general.multilingual"];
        let analysis = analyse(&catalog, "why is the sky blue", &only_multilingual);
        assert_eq!(analysis.specialist_ids(), ["general.multilingual"]);
    }

    #[test]
    fn the_examples_of_the_issue() {
        let catalog = catalog();
        let simple = analyse(&catalog, "Translate 'good morning' into Spanish", &AllSpecialists);
        assert_eq!(simple.kind, QueryKind::Simple { specialist_id: "translate.es".into() });
        assert!(simple.reason.starts_with("simple"), "{}", simple.reason);

        let percent = analyse(&catalog, "What is 15% of 80?", &AllSpecialists);
        assert_eq!(percent.kind, QueryKind::Simple { specialist_id: "finance.pricing".into() });

        let composite = analyse(
            &catalog,
            "Write a marketing plan for a budgeting app, with pricing maths and a Spanish tagline",
            &AllSpecialists,
        );
        let QueryKind::Composite { specialist_ids } = &composite.kind else {
            panic!("expected composite: {composite:?}");
        };
        for id in ["marketing.strategy", "finance.pricing", "translate.es"] {
            assert!(specialist_ids.iter().any(|chosen| chosen == id), "{id} missing from {specialist_ids:?}");
        }
        assert_eq!(composite.clauses.len(), 3);
        let tagline = &composite.clauses[2];
        assert_eq!(tagline.text, "a Spanish tagline");
        assert_eq!(tagline.translator.as_deref(), Some("translate.es"));
        assert!(composite.reason.contains("'with pricing maths' → finance.pricing"), "{}", composite.reason);
    }

    #[test]
    fn nothing_matched_goes_to_the_general_assistant() {
        let analysis = analyse(&catalog(), "Why is the sky blue?", &AllSpecialists);
        assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: FALLBACK_SPECIALIST.into() });
        assert!(analysis.ranking.is_empty());
        assert!(analysis.reason.contains("no specialist"), "{}", analysis.reason);
        let empty = analyse(&catalog(), "   ", &AllSpecialists);
        assert_eq!(empty.specialist_ids(), [FALLBACK_SPECIALIST]);
        assert!(empty.clauses.is_empty());
    }

    #[test]
    fn context_sentences_do_not_make_a_query_composite() {
        let analysis = analyse(
            &catalog(),
            "We are launching a budgeting app next month. Write three taglines for it.",
            &AllSpecialists,
        );
        assert_eq!(analysis.kind, QueryKind::Simple { specialist_id: "marketing.copywriting".into() });
        assert!(analysis.clauses[0].context);
        assert!(!analysis.clauses[1].context);
    }

    #[test]
    fn same_domain_parts_join_unless_they_are_separate_requests() {
        let catalog = catalog();
        let joined =
            analyse(&catalog, "Suggest a colour palette and font pairing for a meditation app", &AllSpecialists);
        assert!(!joined.is_composite(), "{joined:?}");
        let separate = analyse(&catalog, "Draft a logo brief, and write the Instagram bio", &AllSpecialists);
        assert!(separate.is_composite(), "{separate:?}");
        let languages = analyse(&catalog, "Translate our return policy into German and Italian", &AllSpecialists);
        assert_eq!(
            languages.kind,
            QueryKind::Composite { specialist_ids: vec!["translate.de".into(), "translate.it".into()] }
        );
    }

    #[test]
    fn clause_texts_come_from_the_original_query() {
        let analysis = analyse(&catalog(), "Größe: Draft a CV, and translate it into GERMAN", &AllSpecialists);
        let texts: Vec<&str> = analysis.clauses.iter().map(|clause| clause.text.as_str()).collect();
        assert_eq!(texts, ["Größe: Draft a CV", "translate it into GERMAN"]);
        assert!(analysis.is_composite());
    }

    #[test]
    fn analysis_serialises_for_the_cli() {
        let analysis = analyse(&catalog(), "Translate 'hello' into French", &AllSpecialists);
        let json = serde_json::to_value(&analysis).expect("json");
        assert_eq!(json["kind"]["kind"], "simple");
        assert_eq!(json["kind"]["specialist_id"], "translate.fr");
        assert_eq!(json["ranking"][0]["domain"], "translation");
        let back: Analysis = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, analysis);
    }
}
