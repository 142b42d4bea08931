//! How much of a question a sub-task carries: the measure of "each
//! sub-task carries only its part".

use std::collections::HashMap;

/// Words of `text` (letters and digits, case folded).
#[must_use]
pub fn word_count(text: &str) -> usize {
    words(text).count()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase)
}

/// The share of `question`'s words (counted with repeats) that `sent`
/// carries: 1.0 when the whole question went along, 0.0 when none of it.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn context_share(question: &str, sent: &str) -> f64 {
    let mut available: HashMap<String, usize> = HashMap::new();
    for word in words(sent) {
        *available.entry(word).or_insert(0) += 1;
    }
    let mut total = 0_usize;
    let mut carried = 0_usize;
    for word in words(question) {
        total += 1;
        if let Some(count) = available.get_mut(&word).filter(|count| **count > 0) {
            *count -= 1;
            carried += 1;
        }
    }
    if total == 0 { 0.0 } else { carried as f64 / total as f64 }
}
