//! Redaction and restoration: what leaves this device carries typed
//! placeholders (`[EMAIL_1]`, `[NAME_2]`, …) instead of the personal data the
//! recognisers ([`crate::Recogniser`]) find, and what comes back has the real
//! values put back.
//!
//! One [`Redactor`] serves one question: the same value gets the same
//! placeholder in every sub-task of it, and the mapping lives only in this
//! process's memory — it is never serialised, logged (its `Debug` shows a
//! count) or written to the journal. The conductor applies it at its one
//! gate, where a sub-task goes to an executor that leaves the device
//! (`conductor/outbound.rs`); work on this device sees the original text.
//!
//! Restoration accepts the forms small models bend placeholders into:
//! `[EMAIL 1]`, `[Email_1]`, `[ email-1 ]`, and `EMAIL_1` without brackets.
//! A placeholder this question never issued is left as it is.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::recognise::{PiiKind, Recogniser};

mod residual;
mod restore;
mod share;
#[cfg(test)]
mod tests;

pub use residual::residual_personal_data;
pub use restore::Restorer;
pub use share::{context_share, word_count};

/// One value replaced in a redacted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactedItem {
    /// What it was.
    pub kind: PiiKind,
    /// The placeholder that replaced it (`[EMAIL_1]`).
    pub placeholder: String,
}

/// A text with its personal data replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// The text as it may leave the device.
    pub text: String,
    /// What was replaced, in order of appearance.
    pub items: Vec<RedactedItem>,
}

impl Redaction {
    /// Items replaced, per kind.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<PiiKind, u32> {
        let mut counts = BTreeMap::new();
        for item in &self.items {
            *counts.entry(item.kind).or_insert(0) += 1;
        }
        counts
    }
}

/// The placeholders of one question: value ↔ placeholder, both ways.
#[derive(Default)]
struct Mapping {
    /// (kind, normalised value) → placeholder.
    by_value: HashMap<(PiiKind, String), String>,
    /// (tag, number) → the original value (as first seen).
    by_placeholder: HashMap<(&'static str, u32), String>,
    /// Placeholders issued per kind.
    issued: BTreeMap<PiiKind, u32>,
}

/// Redacts and restores the text of one question. Cheap to clone (clones
/// share the mapping).
#[derive(Clone, Default)]
pub struct Redactor {
    recogniser: Recogniser,
    mapping: Arc<Mutex<Mapping>>,
}

impl fmt::Debug for Redactor {
    /// Never the values: only how many placeholders were issued.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").field("placeholders", &self.len()).finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for one question, with these recognisers.
    #[must_use]
    pub fn new(recogniser: Recogniser) -> Self {
        Self { recogniser, mapping: Arc::default() }
    }

    /// Placeholders issued so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().by_placeholder.len()
    }

    /// Whether no placeholder was issued yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mapping> {
        // The mapping stays consistent under a panic elsewhere: every
        // change is one insert of both directions.
        self.mapping.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `text` with every value the recognisers find replaced by its
    /// placeholder (the same value always by the same one).
    #[must_use]
    pub fn redact(&self, text: &str) -> Redaction {
        let findings = self.recogniser.find(text);
        if findings.is_empty() {
            return Redaction { text: text.to_owned(), items: Vec::new() };
        }
        let mut mapping = self.lock();
        let mut out = String::with_capacity(text.len());
        let mut items = Vec::with_capacity(findings.len());
        let mut at = 0;
        for finding in findings {
            // Findings are sorted and disjoint; a broken one is skipped
            // rather than trusted.
            let Some(value) = text.get(finding.start..finding.end).filter(|_| finding.start >= at) else {
                continue;
            };
            out.push_str(&text[at..finding.start]);
            let key = (finding.kind, normalise(finding.kind, value));
            let placeholder = match mapping.by_value.get(&key) {
                Some(placeholder) => placeholder.clone(),
                None => {
                    let number = mapping.issued.entry(finding.kind).or_insert(0);
                    *number += 1;
                    let number = *number;
                    let placeholder = format!("[{}_{number}]", finding.kind.tag());
                    mapping.by_placeholder.insert((finding.kind.tag(), number), value.to_owned());
                    mapping.by_value.insert(key, placeholder.clone());
                    placeholder
                }
            };
            out.push_str(&placeholder);
            items.push(RedactedItem { kind: finding.kind, placeholder });
            at = finding.end;
        }
        out.push_str(&text[at..]);
        Redaction { text: out, items }
    }

    /// `text` with every placeholder of this question (also bent ones)
    /// replaced by its value.
    #[must_use]
    pub fn restore(&self, text: &str) -> String {
        let mapping = self.lock();
        if mapping.by_placeholder.is_empty() {
            return text.to_owned();
        }
        restore::replace(text, |tag, number| mapping.by_placeholder.get(&(tag, number)).cloned())
    }

    /// A restorer for a stream of text pieces (tokens).
    #[must_use]
    pub fn restorer(&self) -> Restorer {
        Restorer::new(self.clone())
    }
}

/// The form of a value that decides "the same value": separators and case
/// do not make a phone number, card or e-mail address another one.
fn normalise(kind: PiiKind, value: &str) -> String {
    match kind {
        PiiKind::Phone
        | PiiKind::Card
        | PiiKind::Iban
        | PiiKind::Ssn
        | PiiKind::UkNino
        | PiiKind::Aadhaar
        | PiiKind::Pan => {
            value.chars().filter(|c| c.is_alphanumeric() || *c == '+').flat_map(char::to_uppercase).collect()
        }
        PiiKind::Email | PiiKind::Name | PiiKind::IpAddress => {
            value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
        }
        PiiKind::Secret | PiiKind::Address | PiiKind::BirthDate => value.trim().to_owned(),
    }
}
