//! Personal data the recognisers cannot delimit: an identifier the text
//! marks as personal ("passport number …", "account no. …", "patient ID …")
//! that no recogniser replaced. Such a text is not sent to a peer when the
//! owner keeps sensitive parts on this device.

/// Words that mark the identifier after them as a person's.
const MARKERS: &[&str] = &[
    "passport",
    "account",
    "acct",
    "licence",
    "license",
    "policy",
    "patient",
    "member",
    "membership",
    "customer",
    "employee",
    "student",
    "tax",
    "insurance",
    "medical",
    "mrn",
    "routing",
    "sort",
    "pin",
    "reisepass",
    "konto",
    "kontonummer",
    "steuernummer",
    "passeport",
    "compte",
    "pasaporte",
    "cuenta",
    "passaporte",
    "conta",
    "cpf",
    "nhs",
];

/// Words allowed between a marker and its identifier.
const FILLERS: &[&str] =
    &["number", "no", "nr", "num", "id", "code", "is", "my", "of", ":", "#", "nummer", "numéro", "número"];

/// The marked identifier left in `text`, if any: a marker word followed,
/// within three words, by a token of five or more digits (placeholders
/// are not identifiers).
#[must_use]
pub fn residual_personal_data(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')'))
        .filter(|word| !word.is_empty())
        .collect();
    for (index, word) in words.iter().enumerate() {
        let folded = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        if !MARKERS.contains(&folded.as_str()) {
            continue;
        }
        for next in words.iter().skip(index + 1).take(4) {
            let bare = next.trim_matches(|c: char| matches!(c, '.' | ':' | '#' | '"' | '\''));
            let lower = bare.to_lowercase();
            if FILLERS.contains(&lower.as_str()) || bare.is_empty() {
                continue;
            }
            if bare.starts_with('[') {
                break; // already a placeholder
            }
            let digits = bare.chars().filter(char::is_ascii_digit).count();
            if digits >= 5 {
                return Some(format!("a {folded} identifier"));
            }
            break;
        }
    }
    None
}
