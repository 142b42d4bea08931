//! Payment card numbers: 13–19 digits, Luhn-checked, with a card network's
//! prefix.

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, OTHER_NUMBER_WORDS, PiiKind, stands_alone, word_before};

/// A run of 13–19 digits, or groups of digits joined by single spaces or
/// dashes.
static CANDIDATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[0-9]{4,6}(?:[ -][0-9]{1,6}){1,5}|[0-9]{13,19}").ok());

/// Whether `digits` passes the Luhn check.
pub(crate) fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Whether the number starts like a card of a known network (Visa,
/// Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro, RuPay).
fn has_network_prefix(digits: &str) -> bool {
    let two: u32 = digits.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let four: u32 = digits.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    match two / 10 {
        2 => (2221..=2720).contains(&four),
        3 => matches!(two, 30 | 34..=39),
        4..=6 => true,
        _ => false,
    }
}

/// Whether the lengths of the groups are a way cards are written.
fn grouping_ok(groups: &[usize]) -> bool {
    match groups {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [4, 4, 4, rest @ ..] => matches!(rest, [1..=4] | [4, 3]),
        _ => false,
    }
}

/// Whether the digits follow a country code and check digits ("DE89 …"):
/// then they are an IBAN's (valid or not), not a card.
fn after_iban_head(text: &str, start: usize) -> bool {
    let head = text[..start].trim_end_matches([' ', '-']);
    let tail: Vec<char> = head.chars().rev().take(5).collect();
    matches!(tail.as_slice(), [d1, d2, l1, l2, ..] if d1.is_ascii_digit() && d2.is_ascii_digit()
        && l1.is_ascii_alphabetic() && l2.is_ascii_alphabetic()
        && tail.get(4).is_none_or(|c| !c.is_alphanumeric()))
}

pub(super) fn find(text: &str, found: &mut Found) {
    let Some(re) = CANDIDATE.as_ref() else { return };
    for m in re.find_iter(text) {
        let value = m.as_str();
        // The groups and where each ends; a long match may end with a
        // number that is not part of the card ("4111 1111 1111 1111 2025").
        let mut groups: Vec<(usize, usize)> = Vec::new(); // (length, end offset)
        let mut run = 0;
        for (i, c) in value.char_indices() {
            if c.is_ascii_digit() {
                run += 1;
            } else {
                groups.push((run, i));
                run = 0;
            }
        }
        groups.push((run, value.len()));
        let separators: Vec<char> = value.chars().filter(|c| !c.is_ascii_digit()).collect();
        if separators.windows(2).any(|w| w[0] != w[1]) {
            continue;
        }
        while !groups.is_empty() {
            let lengths: Vec<usize> = groups.iter().map(|g| g.0).collect();
            let end = m.start() + groups.last().map_or(0, |g| g.1);
            let digits: String = text[m.start()..end].chars().filter(char::is_ascii_digit).collect();
            if (13..=19).contains(&digits.len())
                && grouping_ok(&lengths)
                && has_network_prefix(&digits)
                && luhn_valid(&digits)
                && stands_alone(text, m.start(), end)
                && !after_iban_head(text, m.start())
                && (lengths.len() > 1 || !OTHER_NUMBER_WORDS.contains(&word_before(text, m.start()).as_str()))
            {
                found.checked(PiiKind::Card, m.start(), end);
                break;
            }
            if digits.len() <= 13 {
                break;
            }
            groups.pop();
        }
    }
}
