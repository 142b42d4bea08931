//! Text folding and term matching, shared by query routing and profile
//! matching.
//!
//! A [`Text`] is a folded text (lowercase, typographic quotes and dashes
//! made plain, `%` read as "percent") cut into words; a [`Term`] is a
//! keyword or tag compiled for matching against it: whole words or phrases
//! with plural and verb endings, determiners standing for each other, one
//! skipped word in phrases of three words or more, symbols matched as
//! written and scripts without spaces matched as substrings. The rules are
//! described in the routing module's docs.

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
pub(crate) fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

pub(crate) fn is_word_char(c: char) -> bool {
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
pub(crate) const DETERMINERS: &[&str] =
    &["a", "an", "the", "my", "our", "your", "this", "that", "these", "those", "his", "her", "their", "its", "some"];

pub(crate) fn is_determiner(word: &str) -> bool {
    DETERMINERS.contains(&word)
}

/// One word of a text, with its byte span in the folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    start: usize,
    end: usize,
    pub(crate) word: String,
    /// Added by a cue (`%`, arithmetic), not written as such.
    synthetic: bool,
}

/// A folded text and its words: what terms are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    folded: String,
    pub(crate) tokens: Vec<Token>,
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
    pub(crate) start: usize,
    pub(crate) end: usize,
    gapped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TermKind {
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
    pub(crate) label: String,
    pub(crate) kind: TermKind,
    pub(crate) weight: f64,
    pub(crate) content_words: usize,
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
    pub(crate) fn weight_of(&self, found: TermMatch, scale: f64) -> f64 {
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
pub(crate) fn find_words_at(words: &[Vec<String>], text: &Text, start: usize) -> Option<TermMatch> {
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

mod language;
pub(crate) use language::guess_language;

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests;
