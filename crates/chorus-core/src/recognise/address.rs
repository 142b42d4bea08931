//! Street addresses, where the text marks them ("I live at …", "my
//! address is …", "Adresse : …", "j'habite au …", "vivo en Calle …", "moro
//! na …", "मेरा पता …"), and postal addresses of the US, Canada and the UK
//! whose shape gives them away (a house number, a street, a town and a ZIP
//! code or postcode).

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, PiiKind, char_before, has_word};

/// Words without which no address marker can be there: a cheap first test.
static ADDRESS_HINT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        "(?i)liv|address|adress|anschrift|wohn|habit|domicil|direcci|vivo|vivimos|moro|moramos|resid|endere",
        "|पता|pata|ship|deliver|vis|morada|ghar",
    ))
    .ok()
});

/// What announces an address; `weak` markers need a number or a street
/// word in the address.
static ADDRESS_MARKER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:(?P<strong>(?-u:\b)(?:i|we|he|she|they)\s+(?:(?:now|currently|still|also|actually|presently)\s+)?",
        r"(?:live|lives|am\s+living|are\s+living)\s+at",
        r"|(?-u:\b)(?:(?:my|our|his|her|their)\s+(?:new\s+|current\s+|old\s+|full\s+|permanent\s+)?|(?:new|home|mailing|postal|billing",
        r"|shipping|delivery|street|residential|permanent|current|present|correspondence|registered)\s+)",
        // "Change my mailing address to …"
        r"address(?:\s+is|\s*:|\s+to)?",
        r"|(?:^|[\n.!?]\s*)address\s*:|(?-u:\b)ship(?:ping)?\s+to\s*:|(?-u:\b)deliver\s+to\s*:|(?-u:\b)residing\s+at|(?-u:\b)resident\s+at",
        r"|(?-u:\b)(?:ich\s+wohne|wir\s+wohnen)\s+(?:(?:derzeit|jetzt|momentan|aktuell|inzwischen|nun|noch|seit\s+[\p{L}0-9]+)\s+)?",
        r"(?:in\s+der|an\s+der|am|im)",
        r"|(?-u:\b)(?:meine|unsere)\s+(?:(?:neue|jetzige|aktuelle|alte)\s+)?(?:adresse|anschrift)(?:\s+(?:ist|lautet))?\s*:?",
        // "Adresse de livraison : …", "Anschrift: …"
        r"|(?-u:\b)(?:adresse|anschrift|wohnhaft)(?:\s+(?:de\s+livraison|de\s+facturation|postale|de\s+domicile|complète))?\s*:",
        r"|(?-u:\b)je\s+vis\s+(?:au|aux|à\s+la|à\s+l['’])",
        r"|(?-u:\b)(?:j['’]habite|nous\s+habitons)(?:\s+(?:maintenant|actuellement|désormais|toujours))?(?:\s+au|\s+aux)?",
        r"|(?-u:\b)(?:mon|notre)\s+adresse(?:\s+est)?\s*:?|(?-u:\b)domicilié(?:e)?\s+au",
        r"|(?-u:\b)(?:mi|nuestra)\s+(?:dirección|direccion|domicilio)(?:\s+es)?\s*:?|(?-u:\b)(?:dirección|direccion|domicilio)\s*:",
        // "vivo en Calle de Alcalá 122": the street type starts the address.
        r"|(?-u:\b)(?:vivo|vivimos)\s+(?:(?:ahora|actualmente)\s+)?en\s+(?:la\s+|el\s+)?",
        r"(?P<street>calle|c/|avenida|avda\.|av\.|plaza|paseo|camino|carretera|ronda|glorieta|travesía|pasaje)",
        r"|(?-u:\b)(?:moro|moramos|resido)\s+(?:(?:agora|atualmente|hoje)\s+)?(?:na|no)",
        r"|(?-u:\b)(?:meu|nosso)\s+endereço(?:\s+é)?\s*:?|(?-u:\b)endereço\s*:",
        r"|(?-u:\b)(?:minha|nossa)\s+morada(?:\s+é)?\s*:?|(?-u:\b)morada\s*:",
        r"|मेरा\s+पता(?:\s+है)?\s*:?|हमारा\s+पता(?:\s+है)?\s*:?|पता\s*:|(?-u:\b)mera\s+(?:address|pata)(?:\s+hai)?\s*:?)",
        r"|(?P<weak>(?-u:\b)(?:i|we)\s+(?:(?:now|currently|still|also)\s+)?live\s+in",
        r"|(?-u:\b)(?:ich\s+wohne|wir\s+wohnen)\s+(?:(?:derzeit|jetzt|momentan|aktuell|inzwischen|nun|noch)\s+)?in",
        r"|(?-u:\b)je\s+vis\s+à|(?-u:\b)(?:vivo|vivimos)\s+(?:(?:ahora|actualmente)\s+)?en",
        r"|(?-u:\b)(?:moro|moramos)\s+(?:(?:agora|atualmente|hoje)\s+)?em|(?-u:\b)j['’]habite\s+à",
        // "mera ghar Flat 302, … mein hai"
        r"|(?-u:\b)(?:mera|hamara)\s+ghar))",
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
        None | Some(',' | '.' | ';' | ')' | '\n' | '\r') => true,
        Some(' ') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Abbreviations whose dot does not end an address.
const ABBREVIATIONS: &[&str] = &[
    "st", "str", "rd", "ave", "av", "apt", "no", "nr", "dr", "blvd", "ln", "bldg", "fl", "hno", "sec", "mt", "ft", "n",
    "s", "e", "w", "co", "bd", "pl", "sq", "cres", "hwy", "esq", "नं",
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
    " depuis ",
    " seit ",
    " desde ",
    " mein ",
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

/// A letter, or a vowel sign of Devanagari (the "ं" of "नं").
fn is_letter(c: char) -> bool {
    c.is_alphabetic() || ('\u{0900}'..='\u{097F}').contains(&c)
}

/// Whether a ". " at `at` in an address is an abbreviation's dot with the
/// address going on (also a German street name ending in "str.":
/// "Bergmannstr. 7a").
fn dot_continues(window: &str, at: usize) -> bool {
    let before = &window[..at];
    let word: String =
        before.chars().rev().take_while(|&c| is_letter(c)).collect::<Vec<_>>().into_iter().rev().collect();
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
        // Capitalised, a digit or a script without case ("मकान नं. 45").
        let starts_upper = value.chars().next().is_some_and(|c| !c.is_lowercase());
        if value.contains("://") || value.contains('@') || lower.starts_with("0x") {
            continue;
        }
        // "mon adresse IP …", "my address book": another kind of address.
        let first: String = lower.chars().take_while(|c| c.is_alphanumeric() || *c == '-').collect();
        if ["ip", "mac", "e-mail", "email", "mail", "book", "bar", "line", "space", "field"].contains(&first.as_str()) {
            continue;
        }
        // One word without a number is a name or a type (`address: Address;`).
        let one_word = !value.contains(char::is_whitespace);
        let ok = if weak { has_digit || street } else { has_digit || street || (starts_upper && !one_word) };
        if ok && value.chars().count() >= 4 {
            found.marked(PiiKind::Address, start, end);
        }
    }
}

/// A postal address of the US, Canada or the UK, by its shape: a house
/// number, a capitalised street name with its type, maybe a unit, a town,
/// then a state and ZIP code, a province and postcode, or a UK postcode
/// ("1187 Larkspur Lane, Apt 4B, Boulder, CO 80302", "14 Dalry Road,
/// Edinburgh EH11 2BQ").
static POSTAL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:^|[\s,:;(])(?P<address>[0-9]{1,5}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:\p{Lu}[\p{L}'’\-]*\s+){1,4}",
        r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|Close",
        r"|Crescent|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Park|Gardens|Grove|Row|Square|Sq|Hill|View|Walk|Mews|Rise)\.?",
        r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|Flat|Floor|Fl|\#)\.?\s*[A-Za-z0-9\-]+)?",
        r",\s+(?:\p{Lu}[\p{L}'’.\-]*\s+){0,2}\p{Lu}[\p{L}'’.\-]*",
        r"(?:,\s+[A-Z]{2}\s+(?:[0-9]{5}(?:-[0-9]{4})?|[A-Z][0-9][A-Z]\s[0-9][A-Z][0-9])",
        r"|\s+[A-Z]{1,2}[0-9][A-Z0-9]?\s[0-9][A-Z]{2}))",
    ))
    .ok()
});

/// Words before a postal address that make it a business's, not a person's.
const BUSINESS_WORDS: &[&str] = &[
    "office",
    "offices",
    "headquarters",
    "hq",
    "store",
    "shop",
    "museum",
    "campus",
    "company",
    "restaurant",
    "hotel",
    "embassy",
    "consulate",
    "factory",
    "warehouse",
    "clinic",
    "hospital",
    "university",
    "school",
];

/// Postal addresses by their shape (see [`POSTAL`]), unless the sentence
/// speaks of a business ("Our office moved to …").
fn find_postal_addresses(text: &str, found: &mut Found) {
    let Some(re) = POSTAL.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let Some(address) = caps.name("address") else { continue };
        if text[address.end()..].starts_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        let head = &text[..address.start()];
        let sentence = head.rfind(['.', '!', '?', '\n']).map_or(head, |i| &head[i + 1..]);
        if !has_word(&sentence.to_lowercase(), BUSINESS_WORDS) {
            found.marked(PiiKind::Address, address.start(), address.end());
        }
    }
}

pub(super) fn find(text: &str, found: &mut Found) {
    find_addresses(text, found);
    find_postal_addresses(text, found);
}
