//! The answer composed from the parts: each part's result cleaned and
//! headed by the words of the question it answers, in the question's
//! order, failed and unplanned parts named in their place — and the
//! coverage measure that checks any answer keeps every part.
//!
//! A small conductor model drops and garbles what the specialists wrote
//! when asked to merge it; composing keeps all of it. A larger conductor
//! writes freely, and [`missing_parts`] finds the parts its answer lost so
//! they can be added back.

use std::collections::HashSet;

use crate::catalog::Catalog;
use crate::plan::{Plan, PlanStep, SubtaskStatus};

use super::events::{PartCoverage, SubtaskReport};

/// The least coverage a done part must have in a freely written answer;
/// below it, the part is added back as the specialist wrote it.
pub const MIN_PART_COVERAGE: f64 = 0.5;

/// Words too common to tell whether a text was kept.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "with", "this", "that", "these", "those", "from", "was",
    "were", "will", "would", "can", "could", "should", "has", "have", "had", "its", "it's", "our", "their", "they",
    "them", "then", "than", "there", "here", "what", "which", "who", "whom", "when", "where", "why", "how", "all",
    "any", "each", "also", "into", "onto", "about", "over", "under", "more", "most", "some", "such", "only", "own",
    "same", "very", "just", "been", "being", "did", "does", "doing", "one", "may", "might", "must", "shall", "let",
    "use", "using", "get", "make", "like", "well", "sure", "here's", "let's",
];

/// The distinct content words of `text`: lowercase words of three letters
/// or more that are not stop words, and every number.
fn content_words(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '.' || c == ','))
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|word| {
            let numeric = word.chars().any(|c| c.is_ascii_digit());
            numeric || (word.chars().count() >= 3 && !STOP_WORDS.contains(&word.as_str()))
        })
        .collect()
}

/// The share (0–1) of `part`'s distinct content words that `answer` holds;
/// 1 for a part without content words.
#[must_use]
pub fn coverage(part: &str, answer: &str) -> f64 {
    let wanted = content_words(part);
    if wanted.is_empty() {
        return 1.0;
    }
    let kept = content_words(answer);
    let found = wanted.iter().filter(|word| kept.contains(*word)).count();
    found as f64 / wanted.len() as f64
}

/// The coverage of every done part in `answer`.
pub(super) fn part_coverage(reports: &[SubtaskReport], answer: &str) -> Vec<PartCoverage> {
    reports
        .iter()
        .filter(|report| report.status == SubtaskStatus::Done)
        .map(|report| PartCoverage { index: report.index, coverage: coverage(&report.text, answer) })
        .collect()
}

/// Openers small models put before the substance ("Sure! Here is …:").
const FILLER_OPENERS: &[&str] =
    &["sure", "certainly", "of course", "absolutely", "great question", "okay", "ok", "here is", "here's", "here are"];

/// A part's result made fit to read: filler openers dropped, repeated
/// lines and sentences (small models loop) kept once, an unclosed code
/// fence closed, and a sentence cut off by the token limit removed.
#[must_use]
pub fn clean_part(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut lines: Vec<String> = Vec::new();
    let mut seen_lines: HashSet<String> = HashSet::new();
    let mut seen_sentences: HashSet<String> = HashSet::new();
    let mut in_code = false;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with("```") {
            in_code = !in_code;
            lines.push(trimmed.to_owned());
            continue;
        }
        if in_code {
            lines.push(trimmed.to_owned());
            continue;
        }
        let key = normalise(trimmed);
        if key.len() >= 12 && !seen_lines.insert(key) {
            continue;
        }
        let kept = dedupe_sentences(trimmed, &mut seen_sentences);
        if kept.trim().is_empty() && !trimmed.trim().is_empty() {
            continue;
        }
        lines.push(kept);
    }
    if in_code {
        lines.push("```".to_owned());
    }
    // Filler before the substance: a first line that is only an opener.
    if let Some(first) = lines.iter().position(|line| !line.trim().is_empty()) {
        let lower = lines[first].trim().to_lowercase();
        let is_filler = FILLER_OPENERS.iter().any(|opener| lower.starts_with(opener))
            && (lower.ends_with(':') || lower.ends_with('!') || lower.split_whitespace().count() <= 3);
        if is_filler && lines.iter().skip(first + 1).any(|line| !line.trim().is_empty()) {
            lines.remove(first);
        }
    }
    let mut cleaned = collapse_blank_lines(&lines);
    drop_cut_sentence(&mut cleaned);
    cleaned.trim().to_owned()
}

/// Lowercase letters and digits only: how two lines are compared.
fn normalise(line: &str) -> String {
    line.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A line with each sentence kept once ("It is good. It is good." → "It is
/// good."), `seen` holding the sentences of the lines before.
fn dedupe_sentences(line: &str, seen: &mut HashSet<String>) -> String {
    let mut kept = String::new();
    let mut start = 0;
    let bytes: Vec<(usize, char)> = line.char_indices().collect();
    for (position, &(at, c)) in bytes.iter().enumerate() {
        let next_is_space = bytes.get(position + 1).is_none_or(|(_, next)| next.is_whitespace());
        if matches!(c, '.' | '!' | '?') && next_is_space {
            let end = at + c.len_utf8();
            push_sentence(&mut kept, &line[start..end], seen);
            start = end;
        }
    }
    push_sentence(&mut kept, &line[start..], seen);
    kept
}

fn push_sentence(kept: &mut String, sentence: &str, seen: &mut HashSet<String>) {
    let key = normalise(sentence);
    if key.len() >= 8 && !seen.insert(key) {
        return;
    }
    kept.push_str(sentence);
}

fn collapse_blank_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in lines {
        if line.trim().is_empty() {
            blank = true;
            continue;
        }
        if blank && !out.is_empty() {
            out.push('\n');
        }
        blank = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Removes a last sentence that stops mid-way (no closing punctuation),
/// when an earlier sentence of the text ends properly.
fn drop_cut_sentence(text: &mut String) {
    let trimmed = text.trim_end();
    let ends_well = trimmed.ends_with(['.', '!', '?', ':', ')', '"', '\'', '`', '*', '|', '…', '。', '！', '？']);
    if ends_well || trimmed.is_empty() {
        return;
    }
    let last_line_start = trimmed.rfind('\n').map_or(0, |at| at + 1);
    let last_line = &trimmed[last_line_start..];
    // A list item or a short line is whole as it is.
    if last_line.trim_start().starts_with(['-', '*', '•']) || last_line.split_whitespace().count() < 6 {
        return;
    }
    let cut = last_line
        .char_indices()
        .filter(|(at, c)| {
            matches!(c, '.' | '!' | '?') && last_line[at + c.len_utf8()..].starts_with(char::is_whitespace)
        })
        .map(|(at, c)| at + c.len_utf8())
        .next_back();
    let keep = match cut {
        Some(at) => last_line_start + at,
        None if last_line_start > 0 => last_line_start,
        None => {
            text.truncate(trimmed.len());
            text.push('…');
            return;
        }
    };
    text.truncate(keep);
}

/// The heading of a step: the words of the question it answers, else its
/// task, first letter capitalised.
fn heading(step: &PlanStep) -> String {
    let words = step.part.as_deref().unwrap_or(&step.task).trim().trim_end_matches([',', ';', '.']);
    let mut chars = words.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Whether `step` translates the result of the step it depends on (its
/// text joins that step's section rather than opening its own).
fn translates_previous(step: &PlanStep, plan: &Plan, catalog: &Catalog) -> Option<usize> {
    let [dependency] = step.depends_on.as_slice() else { return None };
    let translator = catalog.specialist(&step.specialist)?.translation_language().is_some();
    let same_part = plan.subtasks.get(*dependency).is_some_and(|earlier| earlier.part == step.part);
    (translator && same_part).then_some(*dependency)
}

/// The composed answer: one section per part in the plan's order, each
/// headed by what it answers (no headings when there is one section); a
/// translation of a part follows it in its section; a part that failed is
/// said in its place; parts the plan could not do are named at the end.
#[must_use]
pub fn compose(plan: &Plan, reports: &[SubtaskReport], catalog: &Catalog) -> String {
    struct Section {
        heading: String,
        bodies: Vec<String>,
    }
    let mut sections: Vec<(usize, Section)> = Vec::new();
    let mut seen_lines: HashSet<String> = HashSet::new();
    for (step, report) in plan.subtasks.iter().zip(reports) {
        let body = match report.status {
            SubtaskStatus::Done => {
                // A line another part already said is not said again.
                let cleaned = clean_part(&report.text);
                let kept: Vec<&str> = cleaned
                    .lines()
                    .filter(|line| {
                        let key = normalise(line);
                        key.len() < 24 || seen_lines.insert(key)
                    })
                    .collect();
                kept.join("\n").trim().to_owned()
            }
            _ => format!(
                "(This part could not be answered: {}.)",
                report.error.as_deref().unwrap_or("no result").trim_end_matches('.')
            ),
        };
        if let Some(dependency) = translates_previous(step, plan, catalog) {
            let language = catalog
                .specialist(&step.specialist)
                .map_or_else(|| step.specialist.clone(), |specialist| specialist.name.clone());
            if let Some((_, section)) = sections.iter_mut().find(|(index, _)| *index == dependency) {
                section.bodies.push(format!("{language}:\n{body}"));
                continue;
            }
        }
        sections.push((step.index, Section { heading: heading(step), bodies: vec![body] }));
    }
    let mut answer = String::new();
    let headed = sections.len() > 1;
    for (_, section) in &sections {
        if !answer.is_empty() {
            answer.push_str("\n\n");
        }
        if headed {
            answer.push_str(&format!("## {}\n\n", section.heading));
        }
        answer.push_str(&section.bodies.join("\n\n"));
    }
    answer.push_str(&not_done_note(plan));
    answer
}

/// "Not done: …" for the parts the plan left out, empty when there are
/// none.
pub(super) fn not_done_note(plan: &Plan) -> String {
    if plan.not_planned.is_empty() {
        return String::new();
    }
    let mut note = String::from("\n\nNot done:");
    for part in &plan.not_planned {
        note.push_str(&format!("\n- {} ({})", part.part.trim(), part.reason));
    }
    note
}

/// The done parts whose substance `answer` lost (coverage under
/// [`MIN_PART_COVERAGE`]), in plan order.
pub(super) fn missing_parts<'a>(
    plan: &'a Plan,
    reports: &'a [SubtaskReport],
    answer: &str,
) -> Vec<(&'a PlanStep, &'a SubtaskReport)> {
    plan.subtasks
        .iter()
        .zip(reports)
        .filter(|(_, report)| report.status == SubtaskStatus::Done)
        .filter(|(_, report)| coverage(&report.text, answer) < MIN_PART_COVERAGE)
        .collect()
}

/// The text that adds the lost parts back under their headings.
pub(super) fn added_back(missing: &[(&PlanStep, &SubtaskReport)]) -> String {
    let mut text = String::new();
    for (step, report) in missing {
        text.push_str(&format!("\n\n## {}\n\n{}", heading(step), clean_part(&report.text)));
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "compose_tests.rs"]
mod tests;
