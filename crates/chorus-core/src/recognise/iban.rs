//! IBANs: a country code, two check digits and the country's number of
//! characters, mod-97-checked; written in groups of four or in one run.

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, PiiKind, is_word, two_before};

/// Two letters, two digits, then letters and digits, optionally in groups
/// separated by single spaces or dashes.
static CANDIDATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i-u)[a-z]{2}[0-9]{2}(?:[ \-]?[a-z0-9]){8,34}").ok());

/// The length of an IBAN in each country that has them (the SWIFT registry).
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn country_length(code: &str) -> Option<usize> {
    LENGTHS.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|&(_, n)| n)
}

/// Whether `iban` (letters and digits only, any case) has its country's
/// length and passes the mod-97 check.
pub(crate) fn iban_valid(iban: &str) -> bool {
    let Some(code) = iban.get(..2) else { return false };
    if country_length(code) != Some(iban.len()) || !iban.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    if !iban[2..4].bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let rearranged = iban[4..].chars().chain(iban[..4].chars());
    let mut rest = 0u32;
    for c in rearranged {
        let Some(value) = c.to_digit(36) else { return false };
        rest = if value >= 10 { (rest * 100 + value) % 97 } else { (rest * 10 + value) % 97 };
    }
    rest == 1
}

pub(super) fn find(text: &str, found: &mut Found) {
    let Some(re) = CANDIDATE.as_ref() else { return };
    let mut from = 0;
    while let Some(m) = re.find_at(text, from) {
        let start = m.start();
        if two_before(text, start).0.is_some_and(is_word) {
            // Inside a word: try again from the next char.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let Some(length) = country_length(&m.as_str()[..2]) else {
            from = start + 1;
            continue;
        };
        // Take the country's number of characters; the value must end at
        // the end of a group.
        let mut compact = String::with_capacity(length);
        let mut end = start;
        let mut group_ok = true;
        for (i, c) in m.as_str().char_indices() {
            if compact.len() == length {
                break;
            }
            if c.is_ascii_alphanumeric() {
                compact.push(c.to_ascii_uppercase());
                end = start + i + 1;
            } else {
                group_ok &= compact.len().is_multiple_of(4);
            }
        }
        let ends_cleanly = !text[end..].starts_with(is_word);
        if compact.len() == length && group_ok && ends_cleanly && iban_valid(&compact) {
            found.checked(PiiKind::Iban, start, end);
            from = end;
        } else {
            from = start + 1;
        }
    }
}
