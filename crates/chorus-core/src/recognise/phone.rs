//! Phone numbers: international (`+` or `00` and a country code) and the
//! national shapes of the US/Canada, the UK, India, Germany, France and
//! Brazil, with spaces, dots, dashes, slashes (`089 / 4471 2290`) or
//! brackets.

use std::sync::LazyLock;

use regex::Regex;

use super::{
    Found, OTHER_NUMBER_WORDS, PiiKind, context_after, context_before, is_word, two_after, two_before, word_list,
};

/// Digits, optionally after `+`, joined by single separators, brackets
/// around a group, or a `(0)` trunk digit; or a German area code with its
/// trunk 0 set off by a spaced slash (`089 / 4471 2290`).
static CANDIDATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:0[1-9][0-9]{1,3}[ \x{A0}]/[ \x{A0}]|\+?\(?)",
        r"[0-9](?:[0-9]|[ .\-/\x{A0}]\(?[0-9]|\)[ .\-\x{A0}]?[0-9]|[ .\-\x{A0}]?\(0\)[ .\-\x{A0}]?[0-9])*"
    ))
    .ok()
});

/// A date inside a candidate (`01.02.2024 10.30`, `2024-02-01`).
static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9])(?:[0-3]?[0-9][./-][01]?[0-9][./-](?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}[./-][01]?[0-9][./-][0-3]?[0-9])(?:$|[^0-9])")
        .ok()
});

/// Words that say a number is a phone number.
const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "tel.",
    "tel:",
    "telephone",
    "call",
    "calling",
    "ring",
    "mobile",
    "mob",
    "mob.",
    "cell",
    "cellphone",
    "whatsapp",
    "sms",
    "text me",
    "fax",
    "contact",
    "reach me",
    "my number",
    "his number",
    "her number",
    "ph",
    "ph.",
    "hotline",
    "landline",
    "handy",
    "telefon",
    "telefonnummer",
    "tel.-nr",
    "rufnummer",
    "anrufen",
    "ruf mich",
    "festnetz",
    "mobil",
    "mobilnummer",
    "meine nummer",
    "téléphone",
    "telephone",
    "portable",
    "tél",
    "tél.",
    "appelez",
    "appelle",
    "appeler",
    "joindre",
    "mon numéro",
    "fixe",
    "teléfono",
    "telefono",
    "móvil",
    "movil",
    "celular",
    "llámame",
    "llamar",
    "llama a",
    "llame a",
    "llámale",
    "llámala",
    "mi número",
    "whats",
    "telefone",
    "ligue",
    "ligar",
    "liga",
    "contato",
    "zap",
    "meu número",
    "फ़ोन",
    "फोन",
    "मोबाइल",
    "नंबर",
    "नम्बर",
    "कॉल",
    "mera number",
    "number hai",
    "phone no",
];

static PHONE_WORDS_RE: LazyLock<Option<Regex>> = LazyLock::new(|| word_list(PHONE_WORDS));
static OTHER_NUMBER_WORDS_RE: LazyLock<Option<Regex>> = LazyLock::new(|| word_list(OTHER_NUMBER_WORDS));

/// Words after a number that make it a quantity.
const UNIT_WORDS: &[&str] = &[
    "mm",
    "cm",
    "m",
    "km",
    "kg",
    "g",
    "mg",
    "lb",
    "lbs",
    "ml",
    "l",
    "px",
    "pt",
    "rs",
    "usd",
    "eur",
    "inr",
    "gbp",
    "brl",
    "euro",
    "euros",
    "dollars",
    "rupees",
    "reais",
    "times",
    "bytes",
    "kb",
    "mb",
    "gb",
    "tb",
    "hz",
    "khz",
    "mhz",
    "ghz",
    "rpm",
    "mah",
    "kw",
    "kwh",
    "w",
    "v",
    "pages",
    "items",
    "units",
    "people",
    "users",
    "rows",
    "records",
    "copies",
    "views",
    "steps",
    "mph",
    "km/h",
    "sq",
    "ft",
    "m²",
    "m2",
    "tonnes",
    "tons",
    "habitants",
    "einwohner",
    "habitantes",
    "लोग",
    "रुपये",
];

/// Whether the national significant number after a country code has a
/// plausible length.
fn international_ok(digits: &str) -> bool {
    let total = digits.len();
    if !(8..=15).contains(&total) || digits.starts_with('0') {
        return false;
    }
    let after = |cc: usize| -> &str {
        let nsn = &digits[cc..];
        nsn.strip_prefix('0').unwrap_or(nsn) // "+44 07911 …" written with the trunk 0
    };
    let b = digits.as_bytes();
    match b[0] {
        b'1' => {
            let nsn = &digits[1..];
            nsn.len() == 10 && matches!(b[1], b'2'..=b'9') && matches!(b[4], b'2'..=b'9')
        }
        b'4' if b[1] == b'4' => (9..=10).contains(&after(2).len()),
        b'9' if b[1] == b'1' => after(2).len() == 10,
        b'4' if b[1] == b'9' => (6..=13).contains(&after(2).len()),
        b'3' if b[1] == b'3' => after(2).len() == 9,
        b'5' if b[1] == b'5' => (10..=11).contains(&after(2).len()),
        _ => true,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    /// Not a phone number.
    No,
    /// A phone number after a phone word.
    Weak,
    /// A phone number unless the context says otherwise.
    Strong,
}

/// How much a national number (no country code) looks like a phone number.
fn national_strength(digits: &str, groups: &[usize], bracketed_first: bool) -> Strength {
    let total = digits.len();
    let b = digits.as_bytes();
    if groups.len() == 1 {
        // One run of digits: a phone number only after a phone word.
        let national = match b[0] {
            b'0' => (10..=12).contains(&total) && b[1] != b'0',
            b'1' => total == 11,
            _ => (9..=11).contains(&total),
        };
        return if national { Strength::Weak } else { Strength::No };
    }
    if b[0] == b'0' {
        // A trunk 0: the UK, Germany, France, India, Brazil. An Indian
        // mobile after its trunk 0 is grouped 6 + 5: 098200 55143.
        if total == 11 && matches!(b[1], b'6'..=b'9') && groups == [6, 5] {
            return Strength::Strong;
        }
        return if (10..=12).contains(&total) && b[1] != b'0' && (2..=5).contains(&groups[0]) && groups[1] >= 2 {
            Strength::Strong
        } else if (9..=12).contains(&total) {
            Strength::Weak
        } else {
            Strength::No
        };
    }
    let nanp = |d: &[u8]| matches!(d[0], b'2'..=b'9') && matches!(d[3], b'2'..=b'9');
    match groups {
        [3, 3, 4] if nanp(b) => return Strength::Strong,
        [1, 3, 3, 4] if b[0] == b'1' && nanp(&b[1..]) => return Strength::Strong,
        // India: 98765 43210, 9876 543 210, 98 7654 3210.
        [5, 5] | [4, 3, 3] | [2, 4, 4] if matches!(b[0], b'6'..=b'9') => return Strength::Strong,
        _ => {}
    }
    // Brazil: (11) 91234-5678, (21) 2345-6789.
    if matches!(groups, [2, 4, 4] | [2, 5, 4]) && b[1] != b'0' && (groups[1] == 4 || b[2] == b'9') {
        return if bracketed_first { Strength::Strong } else { Strength::Weak };
    }
    if (9..=12).contains(&total) { Strength::Weak } else { Strength::No }
}

/// How much a candidate looks like a phone number, on its own.
fn strength(value: &str) -> Strength {
    if value.bytes().filter(u8::is_ascii_digit).count() < 8 {
        return Strength::No;
    }
    let international = value.starts_with('+') || value.starts_with("00");
    // Drop a "(0)" trunk digit after a country code.
    let cleaned = if international { value.replacen("(0)", "", 1) } else { value.to_owned() };
    let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return Strength::No;
    }
    if international {
        let digits = digits.strip_prefix("00").unwrap_or(&digits);
        return if international_ok(digits) { Strength::Strong } else { Strength::No };
    }
    if DATE.as_ref().is_some_and(|re| re.is_match(value)) {
        return Strength::No;
    }
    let groups: Vec<usize> =
        value.split(|c: char| !c.is_ascii_digit()).map(str::len).filter(|&n| n > 0).collect::<Vec<_>>();
    national_strength(&digits, &groups, value.starts_with('('))
}

/// Whether the text around a candidate makes it something else.
fn context_refuses(text: &str, start: usize, end: usize) -> bool {
    match two_before(text, start) {
        (Some(c), _) if is_word(c) => return true,
        (Some('.' | ',' | '-' | '/' | '#' | '_' | '$' | '€' | '£' | '¥' | '₹' | '=' | ':' | '@'), Some(d))
            if d.is_ascii_digit() || (d.is_alphanumeric() && !d.is_alphabetic()) =>
        {
            return true;
        }
        (Some('#' | '$' | '€' | '£' | '¥' | '₹' | '@' | '/' | '\\'), _) => return true,
        _ => {}
    }
    match two_after(text, end) {
        (Some(c), _) if is_word(c) || c == '%' => return true,
        (Some('.' | ',' | '-' | '/' | ':' | '_'), Some(d)) if d.is_ascii_digit() => return true,
        _ => {}
    }
    let after = context_after(text, end, 12);
    let next_word: String = after.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '²').collect();
    if UNIT_WORDS.contains(&next_word.as_str()) || after.trim_start().starts_with(['€', '$', '£', '₹', '%']) {
        return true;
    }
    let before = context_before(text, start, 12);
    ["rs.", "rs ", "r$", "inr", "usd", "eur", "₹"].iter().any(|c| before.trim_end().ends_with(c.trim_end()))
}

pub(super) fn find(text: &str, found: &mut Found) {
    let Some(re) = CANDIDATE.as_ref() else { return };
    for m in re.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        let value = m.as_str();
        let strength = strength(value);
        if strength == Strength::No || context_refuses(text, start, end) {
            continue;
        }
        let near = context_before(text, start, 40);
        let phone_word = PHONE_WORDS_RE.as_ref().is_some_and(|re| re.is_match(&near));
        let other_word = OTHER_NUMBER_WORDS_RE.as_ref().is_some_and(|re| re.is_match(&context_before(text, start, 24)));
        let ok = match strength {
            Strength::Strong => phone_word || !other_word,
            Strength::Weak => phone_word && !other_word,
            Strength::No => false,
        };
        if ok {
            found.checked(PiiKind::Phone, start, end);
        }
    }
}
