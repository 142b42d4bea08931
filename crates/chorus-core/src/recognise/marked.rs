//! Street addresses and dates of birth, where the text marks them ("I live
//! at …", "my address is …", "born on …", "date of birth: …", and the
//! same in German, French, Spanish, Portuguese and Hindi).

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, PiiKind, char_before, has_word};

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
        r"|जन्म\s*तिथि|जन्मतिथि|जन्म\s*दिनांक|जन्मदिन|(?-u:\b)janam\s+tithi|(?-u:\b)janamdin|(?-u:\b)birthday)",
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

/// Words without which no address marker can be there: a cheap first test.
static ADDRESS_HINT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        "(?i)liv|address|adress|anschrift|wohn|habit|domicil|direcci|vivo|vivimos|moro|moramos|resid|endere",
        "|पता|pata|ship|deliver",
    ))
    .ok()
});

/// Words without which no birth-date marker can be there.
static DOB_HINT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)born|birth|dob|d\.o\.b|geb|naiss|née|né|nacid|nací|naci|nacimiento|cumplea|nasc|nasci|anivers|जन्म|janam",
    )
    .ok()
});

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

/// What announces an address; `weak` markers need a number or a street
/// word in the address.
static ADDRESS_MARKER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:(?P<strong>(?-u:\b)(?:i|we|he|she|they)\s+(?:(?:now|currently|still|also|actually|presently)\s+)?",
        r"(?:live|lives|am\s+living|are\s+living)\s+at",
        r"|(?-u:\b)(?:(?:my|our|his|her|their)\s+(?:new\s+|current\s+|old\s+|full\s+|permanent\s+)?|(?:new|home|mailing|postal|billing|shipping|delivery|street|residential)\s+)address(?:\s+is|\s*:)?",
        r"|(?:^|[\n.!?]\s*)address\s*:|(?-u:\b)ship(?:ping)?\s+to\s*:|(?-u:\b)deliver\s+to\s*:|(?-u:\b)residing\s+at|(?-u:\b)resident\s+at",
        r"|(?-u:\b)(?:ich\s+wohne|wir\s+wohnen)\s+(?:(?:derzeit|jetzt|momentan|aktuell|inzwischen|nun|noch|seit\s+[\p{L}0-9]+)\s+)?",
        r"(?:in\s+der|an\s+der|am|im)",
        r"|(?-u:\b)(?:meine|unsere)\s+(?:adresse|anschrift)(?:\s+(?:ist|lautet))?\s*:?|(?-u:\b)(?:adresse|anschrift|wohnhaft)\s*:",
        r"|(?-u:\b)(?:j['’]habite|nous\s+habitons)(?:\s+(?:maintenant|actuellement|désormais|toujours))?(?:\s+au|\s+aux)?",
        r"|(?-u:\b)(?:mon|notre)\s+adresse(?:\s+est)?\s*:?|(?-u:\b)domicilié(?:e)?\s+au",
        r"|(?-u:\b)(?:mi|nuestra)\s+(?:dirección|direccion|domicilio)(?:\s+es)?\s*:?|(?-u:\b)(?:dirección|direccion|domicilio)\s*:",
        // "vivo en Calle de Alcalá 122": the street type starts the address.
        r"|(?-u:\b)(?:vivo|vivimos)\s+(?:(?:ahora|actualmente)\s+)?en\s+(?:la\s+|el\s+)?",
        r"(?P<street>calle|c/|avenida|avda\.|av\.|plaza|paseo|camino|carretera|ronda|glorieta|travesía|pasaje)",
        r"|(?-u:\b)(?:moro|moramos|resido)\s+(?:(?:agora|atualmente|hoje)\s+)?(?:na|no)",
        r"|(?-u:\b)(?:meu|nosso)\s+endereço(?:\s+é)?\s*:?|(?-u:\b)endereço\s*:",
        r"|मेरा\s+पता(?:\s+है)?\s*:?|हमारा\s+पता(?:\s+है)?\s*:?|पता\s*:|(?-u:\b)mera\s+(?:address|pata)(?:\s+hai)?\s*:?)",
        r"|(?P<weak>(?-u:\b)(?:i|we)\s+(?:(?:now|currently|still|also)\s+)?live\s+in",
        r"|(?-u:\b)(?:ich\s+wohne|wir\s+wohnen)\s+(?:(?:derzeit|jetzt|momentan|aktuell|inzwischen|nun|noch)\s+)?in",
        r"|(?-u:\b)je\s+vis\s+à|(?-u:\b)(?:vivo|vivimos)\s+(?:(?:ahora|actualmente)\s+)?en",
        r"|(?-u:\b)(?:moro|moramos)\s+(?:(?:agora|atualmente|hoje)\s+)?em|(?-u:\b)j['’]habite\s+à))",
        r"(?:\s*(?:is|ist|est|es|é|:|-)\s*)?\s*",
    ))
    .ok()
});

/// Words before "address" that make it some other address.
const OTHER_ADDRESSES: &[&str] =
    &["email", "e-mail", "mail", "ip", "mac", "web", "url", "wallet", "memory", "server", "bitcoin", "ipv4", "ipv6"];

/// Words that make a text a street address.
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "st.",
    "road",
    "rd",
    "rd.",
    "avenue",
    "ave",
    "ave.",
    "lane",
    "ln",
    "drive",
    "dr",
    "boulevard",
    "blvd",
    "way",
    "court",
    "place",
    "square",
    "terrace",
    "close",
    "crescent",
    "highway",
    "apt",
    "apartment",
    "flat",
    "floor",
    "suite",
    "house",
    "building",
    "straße",
    "strasse",
    "str.",
    "weg",
    "platz",
    "allee",
    "gasse",
    "damm",
    "ufer",
    "rue",
    "bd",
    "chemin",
    "allée",
    "impasse",
    "quai",
    "calle",
    "avenida",
    "av.",
    "plaza",
    "paseo",
    "carrera",
    "rua",
    "travessa",
    "praça",
    "alameda",
    "estrada",
    "marg",
    "nagar",
    "colony",
    "sector",
    "gali",
    "chowk",
    "layout",
    "cross",
    "block",
    "phase",
    "रोड",
    "मार्ग",
    "नगर",
    "गली",
    "कॉलोनी",
    "सेक्टर",
];

/// Lowercase words after a comma that go on with an address ("apto 45").
const UNIT_WORDS: &[&str] = &[
    "apt",
    "apto",
    "flat",
    "floor",
    "piso",
    "étage",
    "bloco",
    "casa",
    "no",
    "nº",
    "nr",
    "c",
    "bis",
    "ter",
    "app",
    "appartement",
    "wohnung",
    "stock",
    "andar",
    "sala",
    "unit",
    "suite",
    "ste",
    "bl",
    "dpto",
    "depto",
    "puerta",
];

/// Words after a comma that start contact details, not more of an address.
const CONTACT_WORDS: &[&str] = &[
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "email",
    "e-mail",
    "mail",
    "fax",
    "telefon",
    "handy",
    "mobil",
    "téléphone",
    "tél",
    "portable",
    "teléfono",
    "telefono",
    "móvil",
    "correo",
    "telefone",
    "celular",
    "whatsapp",
];

/// Whether a text starts with a region code in capitals ("SP", "BA") that
/// ends the text, a clause (",", ".", ";", ")") or comes before a postcode.
fn region_code_at(rest: &str) -> bool {
    let mut chars = rest.chars();
    let code =
        chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.next().is_some_and(|c| c.is_ascii_uppercase());
    code && match chars.next() {
        None | Some(',' | '.' | ';' | ')') => true,
        Some(' ') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Abbreviations whose dot does not end an address.
const ABBREVIATIONS: &[&str] = &[
    "st", "str", "rd", "ave", "av", "apt", "no", "nr", "dr", "blvd", "ln", "bldg", "fl", "hno", "sec", "mt", "ft", "n",
    "s", "e", "w", "co", "bd", "pl", "sq", "cres", "hwy", "esq",
];

/// Words that start a new sentence after an abbreviation's dot.
const SENTENCE_STARTS: &[&str] = &[
    "my", "i", "please", "can", "could", "call", "the", "it", "we", "you", "phone", "email", "thanks", "is", "what",
    "how", "send", "also", "and", "but", "meine", "ich", "bitte", "mon", "je", "merci", "mi", "gracias", "meu",
    "obrigado", "obrigada", "por",
];

/// Words and punctuation that end an address.
const ENDINGS: &[&str] = &[
    "\n",
    ";",
    "?",
    "!",
    "|",
    "(",
    "\"",
    " - ",
    " – ",
    " — ",
    ", and ",
    " and ",
    " but ",
    ", but",
    " so ",
    ", so ",
    " because ",
    ", which",
    " which ",
    " where ",
    ", where",
    " with ",
    " since ",
    " for ",
    " if ",
    " when ",
    " und ",
    " aber ",
    " et ",
    " mais ",
    " y ",
    " pero ",
    " e ",
    " mas ",
    " और ",
    " लेकिन ",
    " है",
    " hai",
    " hoon",
    " में ",
    ", i ",
    ". ",
    " but",
    " – ",
    ", what",
    ", how",
    ", can",
    ", could",
    ", please",
];

/// The end of an address starting at `start`.
fn address_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let mut limit = rest.len().min(140);
    while !rest.is_char_boundary(limit) {
        limit -= 1;
    }
    let window = &rest[..limit];
    let lower = window.to_lowercase();
    let mut end = window.len();
    if lower.len() == window.len() {
        for ending in ENDINGS {
            let mut from = 0;
            while let Some(at) = lower[from..].find(ending).map(|i| i + from) {
                from = at + ending.len();
                if *ending == ". " && dot_continues(window, at) {
                    continue;
                }
                if (*ending == " - " || *ending == " – ") && region_code_at(&window[at + ending.len()..]) {
                    continue; // "São Paulo - SP, 01310-100"
                }
                end = end.min(at);
                break;
            }
        }
    } else if let Some(at) = window.find(['\n', ';', '?', '!', '|']) {
        end = at;
    }
    // ", bitte schick …", ", merci": a comma then a lowercase word that is
    // not part of an address.
    let mut from = 0;
    while let Some(at) = window[from..end].find(", ").map(|i| i + from) {
        from = at + 2;
        let next: String = window[at + 2..].chars().take_while(|c| c.is_alphanumeric() || *c == '.').collect();
        let lowercase = next.chars().next().is_some_and(char::is_lowercase);
        let word = next.trim_end_matches('.').to_lowercase();
        let digit_follows =
            window[at + 2 + next.len()..].trim_start().chars().next().is_some_and(|c| c.is_ascii_digit());
        let other = lowercase && !UNIT_WORDS.contains(&word.as_str()) && !STREET_WORDS.contains(&word.as_str());
        let contact: String =
            window[at + 2..].chars().take_while(|c| c.is_alphabetic() || *c == '-').collect::<String>().to_lowercase();
        if (other && !digit_follows) || CONTACT_WORDS.contains(&contact.as_str()) {
            end = at;
            break;
        }
    }
    if end == window.len() && limit < rest.len() {
        // No ending in the window: stop at its last word.
        end = window.rfind(' ').unwrap_or(end);
    }
    let value = window[..end].trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | ':' | '-'));
    start + value.len()
}

/// Whether a ". " at `at` in an address is an abbreviation's dot with the
/// address going on (also a German street name ending in "str.":
/// "Bergmannstr. 7a").
fn dot_continues(window: &str, at: usize) -> bool {
    let before = &window[..at];
    let word: String =
        before.chars().rev().take_while(|c| c.is_alphabetic()).collect::<Vec<_>>().into_iter().rev().collect();
    let word = word.to_lowercase();
    let german_street = word.len() > 4 && word.ends_with("str");
    if !(ABBREVIATIONS.contains(&word.as_str()) || german_street) {
        return false;
    }
    let next: String = window[at + 2..].chars().take_while(|c| c.is_alphabetic()).collect();
    !SENTENCE_STARTS.contains(&next.to_lowercase().as_str())
}

fn find_addresses(text: &str, found: &mut Found) {
    if !ADDRESS_HINT.as_ref().is_some_and(|hint| hint.is_match(text)) {
        return;
    }
    let Some(re) = ADDRESS_MARKER.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let Some(all) = caps.get(0) else { continue };
        let marker = caps.name("strong").or(caps.name("weak"));
        let Some(marker) = marker else { continue };
        let weak = caps.name("weak").is_some();
        // "e-mail address is …", "IP address: …" are other addresses.
        let head = &text[..marker.start()];
        let word_before: String = head
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '-')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let marker_text = marker.as_str().to_lowercase();
        if OTHER_ADDRESSES.contains(&word_before.to_lowercase().as_str())
            || (marker_text.starts_with("address") && head.trim_end().ends_with('-'))
            || char_before(text, marker.start()).is_some_and(|c| c == '-')
        {
            continue;
        }
        // A street type the marker needs ("vivo en Calle …") is part of it.
        let start = caps.name("street").map_or(all.end(), |street| street.start());
        let end = address_end(text, start);
        if end <= start {
            continue;
        }
        let value = &text[start..end];
        let lower = value.to_lowercase();
        let has_digit = value.chars().any(|c| c.is_numeric());
        let street = has_word(&lower, STREET_WORDS);
        let starts_upper = value.chars().next().is_some_and(|c| c.is_uppercase() || !c.is_alphabetic());
        if value.contains("://") || value.contains('@') || lower.starts_with("0x") {
            continue;
        }
        // "mon adresse IP …", "my address book": another kind of address.
        let first: String = lower.chars().take_while(|c| c.is_alphanumeric() || *c == '-').collect();
        if ["ip", "mac", "e-mail", "email", "mail", "book", "bar", "line", "space", "field"].contains(&first.as_str()) {
            continue;
        }
        let ok = if weak { has_digit || street } else { has_digit || street || starts_upper };
        if ok && value.chars().count() >= 4 {
            found.marked(PiiKind::Address, start, end);
        }
    }
}

fn find_birth_dates(text: &str, found: &mut Found) {
    if !DOB_HINT.as_ref().is_some_and(|hint| hint.is_match(text)) {
        return;
    }
    let (Some(marker), Some(date)) = (DOB_MARKER.as_ref(), DATE.as_ref()) else { return };
    let date_at = |at: usize| -> Option<(usize, usize)> {
        let d = date.find(&text[at..])?;
        let (start, end) = (at + d.start(), at + d.end());
        let end = start + text[start..end].trim_end_matches([',', '.', ' ']).len();
        // Not the start of a longer number.
        (!text[end..].starts_with(|c: char| c.is_ascii_digit())).then_some((start, end))
    };
    for m in marker.find_iter(text) {
        if let Some((start, end)) = date_at(m.end()) {
            found.marked(PiiKind::BirthDate, start, end);
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
    find_addresses(text, found);
    find_birth_dates(text, found);
}
