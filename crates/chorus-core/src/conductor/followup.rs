//! Follow-up questions: whether a question continues the conversation
//! before it ("make it shorter", "now in French", "what about the second
//! option?"), and the one task that answers it on this device with the
//! earlier turn carried as context. Pure: no model, no I/O.
//!
//! A question is read as a follow-up when it opens like one ("now …",
//! "and …", "what about …"), asks to change something it does not name
//! ("make it shorter", "translate that"), points back ("your answer", "the
//! second option", "you said"), or is short and leans on a pronoun ("is
//! that true?"). Anything else stands on its own and is routed afresh,
//! the conversation left behind.

use serde::{Deserialize, Serialize};

use crate::text::fold;

/// One earlier question of a conversation and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// What was asked.
    pub question: String,
    /// The answer given (empty if there was none).
    pub answer: String,
    /// The specialists that wrote it, first the one that answered a
    /// simple question.
    #[serde(default)]
    pub specialists: Vec<String>,
}

impl Turn {
    /// A turn with its question and answer.
    #[must_use]
    pub fn new(question: impl Into<String>, answer: impl Into<String>) -> Self {
        Self { question: question.into(), answer: answer.into(), specialists: Vec::new() }
    }
}

/// Most characters of the last answer carried into a follow-up's task:
/// about 900 tokens, so the task fits a small model's context with room to
/// answer.
pub const MAX_CARRIED_CHARS: usize = 3_600;

/// Words that open a follow-up ("now in French", "and for a cat?").
const OPENERS: &[&str] = &[
    "now",
    "and",
    "also",
    "then",
    "but",
    "ok",
    "okay",
    "instead",
    "again",
    "same",
    "shorter",
    "longer",
    "simpler",
    "more",
    "less",
    "continue",
    "another",
    "et",
    "maintenant",
    "puis",
    "ahora",
    "und",
    "jetzt",
    "dann",
    "adesso",
    "agora",
    "también",
    "aussi",
    "auch",
];

/// Two-word openers.
const OPENER_PAIRS: &[(&str, &str)] = &[
    ("what", "about"),
    ("how", "about"),
    ("go", "on"),
    ("tell", "me more"),
    ("one", "more"),
    ("et", "en"),
    ("y", "en"),
    ("y", "ahora"),
    ("und", "auf"),
];

/// Verbs that ask to change or redo something.
const EDIT_VERBS: &[&str] = &[
    "make",
    "rewrite",
    "reword",
    "rephrase",
    "shorten",
    "expand",
    "translate",
    "simplify",
    "summarise",
    "summarize",
    "explain",
    "say",
    "put",
    "turn",
    "redo",
    "change",
    "fix",
    "improve",
    "format",
    "convert",
    "write",
    "give",
    "repeat",
    "elaborate",
    "clarify",
    "extend",
    "cut",
    "trim",
    "polish",
    "correct",
    "adapt",
    "continue",
    "finish",
];

/// What an edit verb's object is when it points back.
const BACK_OBJECTS: &[&str] =
    &["it", "that", "this", "them", "those", "these", "the above", "the answer", "your answer"];

/// Phrases that point back at the conversation.
const BACK_PHRASES: &[&str] = &[
    "your answer",
    "your last answer",
    "your reply",
    "the above",
    "above answer",
    "you said",
    "you wrote",
    "you mentioned",
    "you suggested",
    "you listed",
    "you gave",
    "the previous",
    "last answer",
    "that one",
    "this one",
    "the same",
    "the rest",
    "the last one",
    "which one",
];

/// Ordinals and the things they pick ("the second option").
const ORDINALS: &[&str] = &["first", "second", "third", "fourth", "fifth", "last", "other", "next", "previous"];
const PICKED: &[&str] = &[
    "one",
    "option",
    "point",
    "step",
    "idea",
    "part",
    "item",
    "example",
    "suggestion",
    "version",
    "paragraph",
    "line",
    "sentence",
    "choice",
    "answer",
    "recipe",
    "method",
    "approach",
    "solution",
];

/// Pronouns a short question leans on.
const PRONOUNS: &[&str] = &["it", "that", "this", "them", "those", "these", "they", "its", "their", "he", "she"];

/// Longest question (in words) read as a follow-up for a pronoun alone.
const SHORT_WORDS: usize = 6;

/// Why a question reads as a follow-up, in words; `None` when it stands on
/// its own.
#[must_use]
pub fn follow_up_cue(question: &str) -> Option<String> {
    let folded = fold(question);
    let words: Vec<&str> =
        folded.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|word| !word.is_empty()).collect();
    let first = *words.first()?;
    let joined = format!(" {} ", words.join(" "));
    if OPENERS.contains(&first) {
        return Some(format!("it opens with \"{first}\""));
    }
    if let Some((a, b)) = OPENER_PAIRS.iter().find(|(a, b)| joined.starts_with(&format!(" {a} {b} "))) {
        return Some(format!("it opens with \"{a} {b}\""));
    }
    for (at, word) in words.iter().enumerate() {
        if !EDIT_VERBS.contains(word) {
            continue;
        }
        let after = format!(" {} ", words[at + 1..words.len().min(at + 4)].join(" "));
        if let Some(object) = BACK_OBJECTS.iter().find(|object| after.starts_with(&format!(" {object} "))) {
            return Some(format!("\"{word} {object}\" points back"));
        }
    }
    if let Some(phrase) = BACK_PHRASES.iter().find(|phrase| joined.contains(&format!(" {phrase} "))) {
        return Some(format!("\"{phrase}\" points back"));
    }
    for pair in words.windows(2) {
        if ORDINALS.contains(&pair[0]) && PICKED.contains(&pair[1]) {
            return Some(format!("\"the {} {}\" points back", pair[0], pair[1]));
        }
    }
    if words.len() <= SHORT_WORDS
        && let Some(pronoun) = words.iter().find(|word| PRONOUNS.contains(word))
    {
        return Some(format!("a short question leaning on \"{pronoun}\""));
    }
    None
}

/// The text of the task that answers a follow-up on this device: the last
/// turn (its answer cut to [`MAX_CARRIED_CHARS`]) and the new question.
#[must_use]
pub(crate) fn follow_up_task(question: &str, last: &Turn) -> String {
    let answer = carried_answer(&last.answer);
    format!(
        "Earlier in this conversation I asked:\n{}\n\nYou answered:\n{answer}\n\nNow: {}",
        last.question.trim(),
        question.trim()
    )
}

/// The last answer as a follow-up carries it: whole, or cut at a line or
/// sentence end before [`MAX_CARRIED_CHARS`] with "[…]" after it.
#[must_use]
pub(crate) fn carried_answer(answer: &str) -> String {
    let answer = answer.trim();
    if answer.chars().count() <= MAX_CARRIED_CHARS {
        return answer.to_owned();
    }
    let cut: String = answer.chars().take(MAX_CARRIED_CHARS).collect();
    let end = cut.rfind(['\n', '.', '!', '?']).filter(|&at| at > cut.len() / 2).map_or(cut.len(), |at| at + 1);
    format!("{} […]", cut[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_recognised() {
        for question in [
            "Make it shorter",
            "now in French",
            "What about the second option?",
            "And for a cat?",
            "Can you translate that into Spanish?",
            "Is that true?",
            "Explain it like I'm five",
            "Tell me more",
            "Why did you suggest the third one?",
            "Please rewrite your answer as a poem",
            "et en français ?",
            "Continue",
        ] {
            assert!(follow_up_cue(question).is_some(), "{question:?} should read as a follow-up");
        }
    }

    #[test]
    fn questions_that_stand_alone_are_not_follow_ups() {
        for question in [
            "What is photosynthesis?",
            "Write a Python function that checks whether a string is a palindrome",
            "How do I fix a leaking tap in my kitchen?",
            "Translate 'good morning' into German",
            "Explain how vaccines train the immune system",
            "What is the capital of Australia?",
            "",
        ] {
            assert_eq!(follow_up_cue(question), None, "{question:?} should stand alone");
        }
    }

    #[test]
    fn the_task_carries_the_last_turn() {
        let last = Turn::new("Give me three names for a bakery", "1. Crumb & Co\n2. Rise\n3. The Daily Loaf");
        let task = follow_up_task("What about the second option?", &last);
        assert!(task.contains("three names for a bakery"), "{task}");
        assert!(task.contains("2. Rise"), "{task}");
        assert!(task.ends_with("Now: What about the second option?"), "{task}");
    }

    #[test]
    fn a_long_answer_is_cut_at_a_sentence() {
        let answer = "This is one sentence of the answer. ".repeat(200);
        let carried = carried_answer(&answer);
        assert!(carried.chars().count() <= MAX_CARRIED_CHARS + 4, "{}", carried.len());
        assert!(carried.ends_with("answer. […]"), "{}", &carried[carried.len() - 30..]);
        assert_eq!(carried_answer("short"), "short");
    }
}
