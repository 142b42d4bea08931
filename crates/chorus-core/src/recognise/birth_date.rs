//! Dates of birth, where the text marks them ("born on …", "date of
//! birth: …", "DOB …", "geboren am …", "né le …", "nació el …", "nasceu
//! em …", "जन्म तिथि …", "का जन्म … को हुआ"); a date of birth has a year.

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, PiiKind, has_word};

/// What announces a date of birth.
static DOB_MARKER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:(?-u:\b)born(?:\s+in\s+[\p{L} ]{2,30}?)?(?:\s+on)?(?:\s+the)?",
        r"|(?-u:\b)date\s+of\s+birth|(?-u:\b)birth\s*date|(?-u:\b)birthday|(?-u:\b)d\.?o\.?b(?-u:\b)\.?",
        r"|(?-u:\b)geboren(?:\s+am)?|(?-u:\b)geburtsdatum|(?-u:\b)geburtstag|(?-u:\b)geb\.(?:\s*am)?",
        r"|(?-u:\b)née?\s+le|(?-u:\b)date\s+de\s+naissance|(?-u:\b)naissance",
        r"|(?-u:\b)nacid[oa]\s+el|(?-u:\b)nac(?:í|ió|io|imos|ieron)\s+el|(?-u:\b)fecha\s+de\s+nacimiento|(?-u:\b)cumpleaños",
        r"|(?-u:\b)nascid[oa]\s+(?:em|no\s+dia)|(?-u:\b)nasc(?:i|eu|emos|eram)\s+(?:em|no\s+dia)",
        r"|(?-u:\b)data\s+de\s+nascimento|(?-u:\b)aniversário",
        r"|जन्म\s*तिथि|जन्मतिथि|जन्म\s*दिनांक|जन्मदिन|(?-u:\b)jana?m\s+tithi|(?-u:\b)janamdin|(?-u:\b)birthday",
        // "… का जन्म 5 जनवरी 1960 को हुआ था", "uska janm 3 May 1990 ko hua".
        r"|(?:का|की|के)\s+जन्म(?:\s*तिथि|\s*दिनांक)?|(?-u:\b)(?:ka|ki|ke)\s+jana?m(?:\s+tithi)?)",
        // `"dob": "1979-12-03"`: a key's closing quote and the value's opening one.
        r#"(?:\s*(?:is|was|ist|war|est|était|es|fue|é|foi|है|on|the|am|le|el|em|:|-|–|,|"|')\s*)*\s*"#,
    ))
    .ok()
});

const MONTHS: &str = concat!(
    "january|february|march|april|may|june|july|august|september|october|november|december",
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec",
    "|januar|jänner|februar|märz|maerz|mai|juni|juli|oktober|dezember",
    "|janvier|février|fevrier|mars|avril|juin|juillet|août|aout|septembre|octobre|novembre|décembre",
    "|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre",
    "|janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|novembro|dezembro",
    "|जनवरी|फ़रवरी|फरवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर|अक्तूबर|नवंबर|नवम्बर|दिसंबर|दिसम्बर",
);

/// Words without which no birth-date marker can be there.
static DOB_HINT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)born|birth|dob|d\.o\.b|geb|naiss|née|né|nacid|nací|naci|nacimiento|cumplea|nasc|nasci|anivers|जन्म|janam|janm",
    )
    .ok()
});

/// Words that set a second date against a date of birth.
const CONTRASTS: &[&str] = &[
    "but",
    "however",
    "whereas",
    "while",
    "lekin",
    "magar",
    "par",
    "aber",
    "jedoch",
    "mais",
    "pero",
    "mas",
    "लेकिन",
    "पर",
];

/// Documents that give a date of birth.
const DOCUMENTS: &[&str] = &[
    "certificate",
    "passport",
    "document",
    "documents",
    "record",
    "records",
    "licence",
    "license",
    "id",
    "aadhaar",
    "card",
    "urkunde",
    "ausweis",
    "pass",
    "acte",
    "passeport",
    "certificado",
    "pasaporte",
    "documento",
    "certidão",
    "passaporte",
    "प्रमाण",
    "प्रमाणपत्र",
];

/// German puts "geboren" after the date: "ist am 2. Mai 1998 geboren",
/// "wurde am 3.5.1990 in Köln geboren". The date is checked with [`DATE`].
static GEBOREN_AFTER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)(?:bin|bist|ist|sind|seid|wurde|wurden|wurdest|war)\s+am\s+").ok());

/// What may come between the date and "geboren": "in Köln".
static GEBOREN_TAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\s+(?:in\s+[\p{L}\-]+\s+)?geboren(?-u:\b)").ok());

/// The month names as one alternation, longest first ("mars" before "mar").
fn months_longest_first() -> String {
    let mut months: Vec<&str> = MONTHS.split('|').collect();
    months.sort_by_key(|m| std::cmp::Reverse(m.chars().count()));
    months.join("|")
}

/// A date, at the start of the text after a marker.
static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let day = r"(?:[0-3]?[0-9])(?:st|nd|rd|th|er|º|°|\.)?";
    let pattern = format!(
        concat!(
            r"(?i)^(?:[0-3]?[0-9][./-][01]?[0-9][./-](?:[0-9]{{4}}|[0-9]{{2}})",
            // The US order, month first: 07/22/1985.
            r"|[01]?[0-9][./-][0-3]?[0-9][./-](?:[0-9]{{4}}|[0-9]{{2}})",
            r"|[0-9]{{4}}[./-][01]?[0-9][./-][0-3]?[0-9]",
            r"|{day}\s*(?:of\s+|de\s+)?(?:{months})\.?,?(?:\s*(?:de\s+)?[0-9]{{4}})?",
            r"|(?:{months})\.?\s+{day},?(?:\s*[0-9]{{4}})?)",
        ),
        day = day,
        months = months_longest_first()
    );
    Regex::new(&pattern).ok()
});

fn find_birth_dates(text: &str, found: &mut Found) {
    if !DOB_HINT.as_ref().is_some_and(|hint| hint.is_match(text)) {
        return;
    }
    let (Some(marker), Some(date)) = (DOB_MARKER.as_ref(), DATE.as_ref()) else { return };
    let date_at = |at: usize| -> Option<(usize, usize)> {
        let d = date.find(&text[at..])?;
        let (start, end) = (at + d.start(), at + d.end());
        let end = start + text[start..end].trim_end_matches([',', '.', ' ']).len();
        // Not the start of a longer number; a date of birth has a year
        // ("birthday is 14 March" is a birthday, not a date of birth).
        let digit_runs = text[start..end].split(|c: char| !c.is_ascii_digit()).filter(|r| !r.is_empty()).count();
        (!text[end..].starts_with(|c: char| c.is_ascii_digit()) && digit_runs >= 2).then_some((start, end))
    };
    for m in marker.find_iter(text) {
        if let Some((start, end)) = date_at(m.end()) {
            found.marked(PiiKind::BirthDate, start, end);
            // "meri janm tithi 03/06/1999 hai lekin certificate mein
            // 06/03/1999 likha hai": the same date of birth, as a document
            // gives it, later in the sentence.
            let rest = &text[end..];
            let sentence = &rest[..rest.find(['.', '!', '?', '\n']).unwrap_or(rest.len())];
            let lower = sentence.to_lowercase();
            if has_word(&lower, CONTRASTS) && has_word(&lower, DOCUMENTS) {
                let second = sentence
                    .char_indices()
                    .filter(|&(i, _)| i > 0 && sentence[..i].ends_with(char::is_whitespace))
                    .find_map(|(i, _)| date_at(end + i));
                if let Some((start, end)) = second {
                    found.marked(PiiKind::BirthDate, start, end);
                }
            }
        }
    }
    let (Some(before), Some(tail)) = (GEBOREN_AFTER.as_ref(), GEBOREN_TAIL.as_ref()) else { return };
    for m in before.find_iter(text) {
        if let Some((start, end)) = date_at(m.end()) {
            // The date may keep its dot ("2. Mai 1998."): "geboren" follows.
            let after = text[end..].trim_start_matches('.');
            // "Ich bin am 5. Mai 1990 geboren?" asks, it does not state.
            let stated = tail.find(after).is_some_and(|g| !after[g.end()..].trim_start().starts_with('?'));
            if stated {
                found.marked(PiiKind::BirthDate, start, end);
            }
        }
    }
}

pub(super) fn find(text: &str, found: &mut Found) {
    find_birth_dates(text, found);
}
