//! The names the user listed: whole words, any case, and the parts of a
//! full name unless they belong to someone else's name or to a place.

use std::collections::BTreeSet;

use regex::Regex;

use super::super::words::{is_common_word, is_stop_word};
use super::super::{Found, PiiKind, char_at, char_before};
use super::{NAME_WORD, RELATIONS, TITLES};

/// The names the user listed, compiled into one pattern.
#[derive(Debug, Default)]
pub(in crate::recognise) struct Listed {
    /// Full names and uncommon parts, any case.
    pattern: Option<Regex>,
    /// Listed one-word names that are common words ("Grace"), as written.
    exact: Option<Regex>,
    /// Every word of every listed name, lowercase.
    words: BTreeSet<String>,
    /// The first words of listed names of two words or more, lowercase.
    first_parts: BTreeSet<String>,
    /// Listed names of one word, lowercase.
    single: BTreeSet<String>,
}

/// Words of address before a name that are neither titles nor relations:
/// "Professor Jordan", "Coach Jordan" are still Jordan.
const HONORIFICS: &[&str] = &[
    "professor",
    "coach",
    "captain",
    "officer",
    "judge",
    "pastor",
    "rabbi",
    "imam",
    "lord",
    "lady",
    "sir",
    "dame",
    "saint",
    "herrn",
    "monsieur",
    "madame",
    "señor",
    "señora",
    "senhor",
    "senhora",
    "don",
    "doña",
];

/// Prepositions of place before a capitalised word: "in Florence", "la
/// plaza de la Victoria", "en Málaga", "nach Florenz".
const PLACE_PREPOSITIONS: &[&str] =
    &["in", "near", "around", "across", "outside", "inside", "en", "em", "im", "nach", "de la", "del", "près de"];

/// Whether a German genitive "s" follows a name at `end` ("Anjas
/// Zahnarzttermin"): an "s", then a space and a capitalised noun.
fn german_genitive(text: &str, end: usize) -> bool {
    text[end..].strip_prefix("s ").is_some_and(|r| r.starts_with(char::is_uppercase))
        && !text[..end].ends_with(['s', 'x', 'z', 'S', 'X', 'Z'])
}

/// US state and Canadian province codes: "Victoria, BC" is a place. (Those
/// that are also words in capitals, OK, OR, IN, ME, HI, OH, are left out.)
const REGION_CODES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "ID", "IL", "IA", "KS", "KY", "LA", "MD", "MA", "MI",
    "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "DC", "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK",
    "YT",
];

impl Listed {
    /// Full names (words joined by any spaces) and their parts of three
    /// letters or more that are not common words, longest first.
    pub(in crate::recognise) fn new(names: &[String]) -> Self {
        let mut alternatives: Vec<String> = Vec::new();
        let mut exact: Vec<String> = Vec::new();
        let mut listed = Listed::default();
        for name in names {
            let parts: Vec<&str> = name.split_whitespace().collect();
            listed.words.extend(parts.iter().map(|p| p.to_lowercase()));
            match parts.as_slice() {
                [] => continue,
                [one] => {
                    listed.single.insert(one.to_lowercase());
                }
                [first, ..] => {
                    listed.first_parts.insert(first.to_lowercase());
                }
            }
            if let [one] = parts.as_slice()
                && is_common_word(one)
            {
                exact.push(regex::escape(one));
                continue;
            }
            // The full name, and each run of two words or more inside it
            // ("João Pedro" of "João Pedro Almeida"): one name, not two.
            for length in (2..=parts.len()).rev() {
                for run in parts.windows(length) {
                    alternatives.push(run.iter().map(|p| regex::escape(p)).collect::<Vec<_>>().join(r"\s+"));
                }
            }
            if let [one] = parts.as_slice() {
                alternatives.push(regex::escape(one));
            }
            if parts.len() > 1 {
                for part in &parts {
                    if part.chars().filter(|c| c.is_alphabetic()).count() >= 3 && !is_common_word(part) {
                        alternatives.push(regex::escape(part));
                    }
                }
            }
        }
        alternatives.sort_by_key(|a| std::cmp::Reverse(a.len()));
        alternatives.dedup();
        let compile = |alternatives: &[String], flags: &str| {
            if alternatives.is_empty() {
                None
            } else {
                Regex::new(&format!("{flags}(?:{})", alternatives.join("|"))).ok()
            }
        };
        listed.pattern = compile(&alternatives, "(?i)");
        listed.exact = compile(&exact, "");
        listed
    }

    pub(in crate::recognise) fn find(&self, text: &str, found: &mut Found) {
        for re in self.pattern.iter().chain(self.exact.iter()) {
            let mut from = 0;
            while let Some(m) = re.find_at(text, from) {
                let alone = !char_before(text, m.start()).is_some_and(char::is_alphanumeric)
                    && (!char_at(text, m.end()).is_some_and(char::is_alphanumeric) || german_genitive(text, m.end()));
                if alone {
                    if !self.part_of_other_name(text, m.start(), m.end()) {
                        found.marked(PiiKind::Name, m.start(), m.end());
                    }
                    from = m.end();
                } else {
                    from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
    }

    /// Whether a listed name's part found alone belongs to someone else's
    /// name, to a place or to a product: "Michael Jordan" for "Jordan Lee"
    /// (a capitalised word before it that does not start the sentence and is
    /// no title, relation or other word of address), "Jordan Peele" (a
    /// capitalised word after a first name), "Victoria, BC" for "Victoria
    /// Hughes", "museums in Florence", "la plaza de la Victoria" (a
    /// preposition of place before it), "Jordan 1 Retro" (a model number
    /// after it).
    fn part_of_other_name(&self, text: &str, start: usize, end: usize) -> bool {
        let found = text[start..end].to_lowercase();
        if found.contains(char::is_whitespace) || self.single.contains(&found) {
            return false; // a whole listed name
        }
        let other = |word: &str| !is_stop_word(word) && !self.words.contains(&word.to_lowercase());
        let head = text[..start].to_lowercase();
        if PLACE_PREPOSITIONS.iter().any(|p| {
            head.strip_suffix(' ')
                .and_then(|h| h.strip_suffix(p))
                .is_some_and(|h| !h.chars().next_back().is_some_and(char::is_alphabetic))
        }) {
            return true;
        }
        let model: String =
            text[end..].strip_prefix(' ').unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
        if (1..=4).contains(&model.len())
            && text[end + 1 + model.len()..].strip_prefix(' ').is_some_and(|r| r.starts_with(char::is_uppercase))
        {
            return true;
        }
        if let Some(before) = text[..start].strip_suffix(' ') {
            let word_start = before
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'))
                .last()
                .map_or(before.len(), |(i, _)| i);
            let word = &before[word_start..];
            let whole = NAME_WORD.as_ref().and_then(|re| re.find(word)).is_some_and(|m| m.end() == word.len());
            let lower = word.to_lowercase();
            let title = TITLES.iter().any(|t| t.trim_end_matches('.') == word)
                || HONORIFICS.contains(&lower.as_str())
                || RELATIONS.split('|').any(|r| r == lower);
            let head = before[..word_start].trim_end_matches([' ', '\t']);
            let sentence_start =
                head.is_empty() || head.ends_with(['.', '!', '?', ':', ';', '\n', '"', '“', '„', '«', '(']);
            if whole && !title && !sentence_start && other(word) {
                return true;
            }
        }
        let rest = &text[end..];
        if self.first_parts.contains(&found)
            && let Some(after) = rest.strip_prefix(' ')
            && let Some(m) = NAME_WORD.as_ref().and_then(|re| re.find(after))
            && !char_at(after, m.end()).is_some_and(|c| c.is_alphanumeric() || c == '_')
            && other(m.as_str())
        {
            return true;
        }
        rest.strip_prefix(", ").is_some_and(|r| {
            REGION_CODES.iter().any(|code| {
                r.starts_with(code) && !char_at(r, code.len()).is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
    }
}
