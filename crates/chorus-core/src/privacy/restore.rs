//! Finding placeholders again in what a model wrote, also in the forms
//! small models bend them into, and putting the values back — at once, or
//! piece by piece as tokens stream in.

use crate::recognise::PiiKind;

use super::Redactor;

/// A placeholder found in a text: `text[start..end]` stands for (tag, number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
    tag: &'static str,
    number: u32,
}

/// The tag `word` names, in any case.
fn tag_of(word: &str) -> Option<&'static str> {
    PiiKind::ALL.iter().map(|kind| kind.tag()).find(|tag| tag.eq_ignore_ascii_case(word))
}

/// Placeholders in `text`, in order: `[TAG_N]` with any case, with a space,
/// `_` or `-` between tag and number and spaces inside the brackets; or
/// `TAG_N` without brackets (underscore only, so "Email 1:" in prose stays
/// prose), as a whole word.
fn scan(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let bracketed = bytes[i] == b'[';
        let word_start = i == 0 || !is_word_byte(bytes[i - 1]);
        if !(bracketed || (word_start && bytes[i].is_ascii_alphabetic())) {
            i += 1;
            continue;
        }
        match parse_at(bytes, i, bracketed) {
            Some(placeholder) => {
                i = placeholder.end;
                found.push(placeholder);
            }
            None => i += 1,
        }
    }
    found
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// A placeholder starting at `start`, if one does.
fn parse_at(bytes: &[u8], start: usize, bracketed: bool) -> Option<Found> {
    let mut i = start + usize::from(bracketed);
    if bracketed {
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    let tag_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    // Tags are ASCII, so the slice is on char boundaries.
    let tag = tag_of(std::str::from_utf8(&bytes[tag_start..i]).ok()?)?;
    let separator = *bytes.get(i)?;
    let allowed = if bracketed { matches!(separator, b'_' | b' ' | b'-') } else { separator == b'_' };
    if !allowed {
        return None;
    }
    i += 1;
    let digits_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) && i - digits_start < 4 {
        i += 1;
    }
    let number: u32 = std::str::from_utf8(&bytes[digits_start..i]).ok()?.parse().ok()?;
    if bracketed {
        let mut close = i;
        while bytes.get(close) == Some(&b' ') {
            close += 1;
        }
        if bytes.get(close) == Some(&b']') {
            return Some(Found { start, end: close + 1, tag, number });
        }
        // An unclosed `[EMAIL_1`: the placeholder without its closing
        // bracket, read as the bare form (underscore only), `[` included.
        if separator != b'_' {
            return None;
        }
    }
    if bytes.get(i).is_some_and(|byte| is_word_byte(*byte)) {
        return None;
    }
    Some(Found { start, end: i, tag, number })
}

/// `text` with each placeholder `value_of` knows replaced by its value.
pub(super) fn replace(text: &str, value_of: impl Fn(&'static str, u32) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for found in scan(text) {
        if let Some(value) = value_of(found.tag, found.number) {
            out.push_str(&text[at..found.start]);
            out.push_str(&value);
            at = found.end;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// Where the text that may still grow into a placeholder begins: an open
/// `[` near the end, or a last word that could be the start of `TAG_N`.
fn unsafe_tail(text: &str) -> usize {
    const LONGEST: usize = 24; // "[ AADHAAR_1234 ]" and some slack
    let window_start = text.len().saturating_sub(LONGEST);
    let window_start = (window_start..=text.len()).find(|&at| text.is_char_boundary(at)).unwrap_or(text.len());
    let window = &text[window_start..];
    if let Some(open) = window.rfind('[')
        && !window[open..].contains(']')
    {
        return window_start + open;
    }
    // A trailing word of letters, `_` and digits that a tag begins with.
    let word_start = window
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(at, c)| at + c.len_utf8());
    let word = &window[word_start..];
    let letters: &str = word.split('_').next().unwrap_or("");
    let could_be = !word.is_empty()
        && PiiKind::ALL.iter().any(|kind| {
            let tag = kind.tag();
            if word.len() <= tag.len() {
                tag.len() >= letters.len() && tag[..letters.len()].eq_ignore_ascii_case(letters) && letters == word
            } else {
                letters.eq_ignore_ascii_case(tag)
            }
        });
    if could_be { window_start + word_start } else { text.len() }
}

/// Restores a stream of pieces: each [`Restorer::push`] returns the text
/// that can no longer be part of a placeholder, restored; the rest waits
/// for the next piece or [`Restorer::finish`].
#[derive(Debug)]
pub struct Restorer {
    redactor: Redactor,
    pending: String,
}

impl Restorer {
    pub(super) fn new(redactor: Redactor) -> Self {
        Self { redactor, pending: String::new() }
    }

    /// Adds a piece; returns what is safe to show now (may be empty).
    pub fn push(&mut self, piece: &str) -> String {
        self.pending.push_str(piece);
        let cut = unsafe_tail(&self.pending);
        let ready: String = self.pending.drain(..cut).collect();
        self.redactor.restore(&ready)
    }

    /// The rest, restored.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.redactor.restore(&rest)
    }
}

#[cfg(test)]
pub(super) fn scan_for_tests(text: &str) -> Vec<(usize, usize, &'static str, u32)> {
    scan(text).into_iter().map(|found| (found.start, found.end, found.tag, found.number)).collect()
}

#[cfg(test)]
pub(super) fn unsafe_tail_for_tests(text: &str) -> usize {
    unsafe_tail(text)
}
