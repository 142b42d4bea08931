//! National numbers with a checksum or a fixed shape: US Social Security
//! numbers, UK National Insurance numbers, Indian Aadhaar and PAN.

use std::sync::LazyLock;

use regex::Regex;

use super::{
    Found, OTHER_NUMBER_WORDS, PiiKind, context_before, has_word, stands_alone, two_after, two_before, word_before,
};

/// `AAA-GG-SSSS` (dashes or spaces) or nine digits in one run.
static SSN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{9}").ok());

/// Two prefix letters, three pairs of digits, a suffix letter A–D; spaces
/// optional.
static NINO: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i-u)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]").ok()
});

/// Twelve digits, in groups of four (spaces or dashes) or one run.
static AADHAAR: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[2-9][0-9]{3}([ -]?)[0-9]{4}[ -]?[0-9]{4}").ok());

/// Five letters (the fourth the holder's type), four digits, a letter.
static PAN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i-u)[A-Z]{3}[ABCFGHJLPT][A-Z][0-9]{4}[A-Z]").ok());

/// Words that say a number is a Social Security number.
const SSN_WORDS: &[&str] = &["ssn", "social security", "ss#", "ss no", "ssn#", "tin", "itin"];

/// Words that say a number is an Aadhaar number.
const AADHAAR_WORDS: &[&str] = &["aadhaar", "aadhar", "adhaar", "uid", "uidai", "आधार"];

/// Words that say a value is a PAN.
const PAN_WORDS: &[&str] = &["pan", "permanent account", "पैन", "income tax", "itr"];

// The Verhoeff check (dihedral group D5).
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Whether `digits` (its last digit the check digit) passes the Verhoeff
/// check.
pub(crate) fn verhoeff_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut c = 0u8;
    for (i, b) in digits.bytes().rev().enumerate() {
        let d = usize::from(b - b'0');
        c = VERHOEFF_D[usize::from(c)][usize::from(VERHOEFF_P[i % 8][d])];
    }
    c == 0
}

/// Whether a US SSN is of an issued shape: area not 000, 666 or 9xx, group
/// not 00, serial not 0000.
fn ssn_shape_ok(digits: &str) -> bool {
    let (area, group, serial) = (&digits[..3], &digits[3..5], &digits[5..]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

fn find_ssn(text: &str, found: &mut Found) {
    let Some(re) = SSN.as_ref() else { return };
    for m in re.find_iter(text) {
        let value = m.as_str();
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        if !ssn_shape_ok(&digits) || !stands_alone(text, m.start(), m.end()) {
            continue;
        }
        // The dashed shape stands on its own; the others need an SSN word.
        let dashed = value.contains('-');
        if dashed || has_word(&context_before(text, m.start(), 40), SSN_WORDS) {
            found.checked(PiiKind::Ssn, m.start(), m.end());
        }
    }
}

fn find_nino(text: &str, found: &mut Found) {
    let Some(re) = NINO.as_ref() else { return };
    for m in re.find_iter(text) {
        let value = m.as_str();
        let prefix = value[..2].to_ascii_uppercase();
        if matches!(prefix.as_str(), "BG" | "GB" | "NK" | "KN" | "TN" | "NT" | "ZZ") {
            continue;
        }
        // Either all spaces between the parts or none.
        let spaces = value.matches(' ').count();
        if spaces != 0 && spaces != 4 {
            continue;
        }
        // Lowercase only after an NI word.
        let upper = value == value.to_ascii_uppercase();
        let context = context_before(text, m.start(), 40);
        if !upper && !has_word(&context, &["ni", "nino", "national insurance"]) {
            continue;
        }
        if stands_alone(text, m.start(), m.end()) {
            found.checked(PiiKind::UkNino, m.start(), m.end());
        }
    }
}

fn find_aadhaar(text: &str, found: &mut Found) {
    let Some(re) = AADHAAR.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        let value = m.as_str();
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        // The same separator between the groups (or none).
        let first_sep = caps.get(1).map_or("", |s| s.as_str());
        let second_sep = &value[value.len() - 5..value.len() - 4];
        let second_sep = if second_sep.chars().all(|c| c.is_ascii_digit()) { "" } else { second_sep };
        if first_sep != second_sep || !verhoeff_valid(&digits) || !stands_alone(text, m.start(), m.end()) {
            continue;
        }
        // Not three groups of a longer grouped number (a card).
        let glued_after = matches!(two_after(text, m.end()), (Some(' ' | '-'), Some(d)) if d.is_ascii_digit());
        let glued_before = matches!(two_before(text, m.start()), (Some(' ' | '-'), Some(d)) if d.is_ascii_digit());
        if !first_sep.is_empty() && (glued_after || glued_before) {
            continue;
        }
        if first_sep.is_empty() {
            // One run of twelve digits: not after a word that makes it
            // another number, unless an Aadhaar word is near.
            let context = context_before(text, m.start(), 40);
            if OTHER_NUMBER_WORDS.contains(&word_before(text, m.start()).as_str()) && !has_word(&context, AADHAAR_WORDS)
            {
                continue;
            }
        }
        found.checked(PiiKind::Aadhaar, m.start(), m.end());
    }
}

fn find_pan(text: &str, found: &mut Found) {
    let Some(re) = PAN.as_ref() else { return };
    for m in re.find_iter(text) {
        let value = m.as_str();
        let upper = value == value.to_ascii_uppercase();
        if !upper && !has_word(&context_before(text, m.start(), 40), PAN_WORDS) {
            continue;
        }
        if stands_alone(text, m.start(), m.end()) {
            found.checked(PiiKind::Pan, m.start(), m.end());
        }
    }
}

pub(super) fn find(text: &str, found: &mut Found) {
    find_ssn(text, found);
    find_nino(text, found);
    find_aadhaar(text, found);
    find_pan(text, found);
}
