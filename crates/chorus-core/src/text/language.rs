//! Which language a question is written in, guessed from its script and
//! its most common words: enough to tell that a specialist who answers in
//! English only is the wrong one for it.

/// Common short words of each language written in Latin script; a word in
/// two lists counts for both.
const WORDS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "the", "and", "is", "what", "how", "my", "to", "of", "for", "with", "can", "do", "i", "you", "a", "in",
            "it", "why", "should", "does",
        ],
    ),
    (
        "es",
        &[
            "el", "la", "los", "las", "de", "que", "y", "en", "un", "una", "es", "para", "cómo", "qué", "mi", "por",
            "con", "puedo", "debo", "del", "sin", "lo",
        ],
    ),
    (
        "fr",
        &[
            "le", "la", "les", "de", "des", "et", "est", "un", "une", "pour", "comment", "mon", "ma", "mes", "que",
            "qui", "je", "dans", "du", "puis", "quels", "quelle",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "ist", "ich", "mein", "meine", "wie", "was", "nicht", "ein", "eine", "für",
            "mit", "kann", "zu", "den", "im", "ohne", "darf",
        ],
    ),
    (
        "pt",
        &[
            "o", "a", "os", "as", "de", "que", "e", "é", "um", "uma", "para", "como", "meu", "minha", "do", "da", "em",
            "não", "posso", "qual", "vale",
        ],
    ),
    (
        "it",
        &[
            "il", "lo", "la", "gli", "le", "di", "che", "e", "è", "un", "una", "per", "come", "mio", "mia", "del",
            "della", "sono", "posso", "quali", "senza",
        ],
    ),
    ("nl", &["de", "het", "een", "en", "is", "van", "ik", "mijn", "hoe", "wat", "niet", "voor", "met", "kan", "je"]),
];

/// The ISO 639-1 code of the language `text` seems written in, when it can
/// tell: by script for scripts of one language (Greek, Hebrew, Thai,
/// Korean, Japanese kana, Devanagari), by common words for Latin script.
/// `None` when unsure.
#[must_use]
pub(crate) fn guess_language(text: &str) -> Option<&'static str> {
    let mut scripts = [0usize; 8];
    for c in text.chars() {
        let slot = match c {
            '\u{0370}'..='\u{03FF}' => 0,
            '\u{0590}'..='\u{05FF}' => 1,
            '\u{0E00}'..='\u{0E7F}' => 2,
            '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}' => 3,
            '\u{3040}'..='\u{30FF}' => 4,
            '\u{0900}'..='\u{097F}' => 5,
            '\u{0400}'..='\u{04FF}' => 6,
            '\u{4E00}'..='\u{9FFF}' | '\u{0600}'..='\u{06FF}' => 7,
            _ => continue,
        };
        scripts[slot] += 1;
    }
    let codes = ["el", "he", "th", "ko", "ja", "hi", "ru", "zh"];
    if let Some((slot, _)) =
        scripts.iter().enumerate().filter(|(_, count)| **count >= 2).max_by_key(|(_, count)| **count)
    {
        // Cyrillic is Russian or Ukrainian, Arabic script not only Arabic:
        // only the single-language scripts and Chinese characters decide.
        return match slot {
            6 => None,
            7 if text.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)) => Some("ar"),
            _ => Some(codes[slot]),
        };
    }
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase).collect();
    let score = |list: &[&str]| words.iter().filter(|word| list.contains(&word.as_str())).count();
    let english = score(WORDS[0].1);
    let (code, best) = WORDS[1..].iter().map(|(code, list)| (*code, score(list))).max_by_key(|(_, count)| *count)?;
    (best >= 2 && best > english).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::guess_language;

    #[test]
    fn languages_are_told_apart() {
        let cases = [
            ("¿Cómo puedo leer un archivo CSV en Python sin usar pandas?", Some("es")),
            ("Comment puis-je améliorer le référencement de mon site ?", Some("fr")),
            ("Darf mein Vermieter die Miete zweimal im Jahr erhöhen?", Some("de")),
            ("Qual é a melhor forma de começar a aprender bateria sozinho em casa?", Some("pt")),
            ("Quali sono i sintomi di una carenza di vitamina D e quali cibi posso mangiare?", Some("it")),
            ("How do I make proper pad thai at home?", None),
            ("What is the best way to learn the guitar as an adult?", None),
            ("Πώς μπορώ να μάθω ελληνικά;", Some("el")),
            ("Translate 'good morning' into Spanish", None),
        ];
        for (text, expected) in cases {
            assert_eq!(guess_language(text), expected, "{text}");
        }
    }
}
