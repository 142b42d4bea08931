//! People's names: the names the user listed, and names the text
//! introduces ("my name is …", "I'm …", "my daughter …", "regards, …").

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::words::{is_common_word, is_famous, is_place, is_stop_word};
use super::{Found, PiiKind, char_at, char_before};

/// Relation words after "my", "meine", "ma", "mi", "minha", "meri" …
const RELATIONS: &str = concat!(
    "daughter|son|wife|husband|client|boss|mother|mom|mum|father|dad|brother|sister|friend|colleague|partner",
    "|girlfriend|boyfriend|manager|patient|student|neighbour|neighbor|grandmother|grandfather|grandma|grandpa",
    "|granny|aunt|uncle|cousin|niece|nephew|fiancée|fiancé|fiancee|fiance|teacher|tenant|landlord|employee",
    "|coworker|co-worker|doctor|lawyer|customer|assistant|roommate|flatmate|baby|kid|child|toddler|spouse",
    "|stepson|stepdaughter|mother-in-law|father-in-law|sister-in-law|brother-in-law|sweetheart",
    "|tochter|sohn|frau|mann|mutter|vater|bruder|schwester|freundin|freund|kollegin|kollege|kundin|kunde",
    "|chefin|chef|oma|opa|tante|onkel|nichte|neffe|enkelin|enkel|partnerin|mandantin|mandant",
    "|fille|fils|femme|mari|mère|père|frère|sœur|soeur|cliente|patronne|patron|collègue|amie|ami|copine|copain",
    "|grand-mère|grand-père|nièce|neveu|compagne|compagnon",
    "|hija|hijo|esposa|esposo|marido|mujer|madre|padre|hermana|hermano|jefa|jefe|amiga|amigo|novia|novio",
    "|abuela|abuelo|tía|tío|sobrina|sobrino|compañera|compañero",
    "|filha|filho|mãe|pai|irmã|irmão|chefe|namorada|namorado|avó|avô|tia|tio|sobrinha|sobrinho",
    "|beti|beta|patni|pati|behen|bhai|maa|papa|dost|saheli|bhabhi|bhaiya|didi",
);

/// Markers after which a capitalised name follows.
static INTRO: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let pattern = format!(
        concat!(
            r"(?i)(?:(?-u:\b)(?:my\s+(?:full\s+)?name\s+is|my\s+name['’]s|(?:his|her|their)\s+name\s+is|i['’]m|i\s+am",
            r"|call\s+me|ich\s+heiße|ich\s+heisse|mein\s+name\s+ist|ich\s+bin|je\s+m['’]appelle|mon\s+nom\s+est",
            r"|moi\s+c['’]est|je\s+suis|me\s+llamo|mi\s+nombre\s+es|soy|sou|meu\s+nome\s+é|eu\s+me\s+chamo|me\s+chamo",
            r"|eu\s+sou|mera\s+naam|mera\s+name|naam|(?:client|friend|guy|girl|man|woman|boy|colleague|person|customer",
            r"|student|patient|kid|child|lady|gentleman|doctor|teacher|someone|somebody|coworker|neighbour|neighbor",
            r"|tenant|employee|candidate|applicant)\s+(?:named|called)",
            r"|(?:my|our|mein(?:e[mnrs]?)?|unser(?:e[mnrs]?)?|ma|mon|mes|notre|nos|mi|mis|nuestr[oa]s?|minha|meu|meus",
            r"|minhas|nosso|nossa|meri|mera|mere|hamara|hamari|hamare)\s+",
            // One or two words that qualify the relation: "my PhD student",
            // "my 8-year-old son", "meinen kleinen Sohn".
            r"(?:(?:little|baby|older|younger|elder|eldest|oldest|youngest|big|best|new|late|ex-?|former|dear|twin",
            r"|step|teenage|adult|phd|ph\.d\.|doctoral|graduate|grad|master['’]?s|[0-9]{{1,2}}-year-old",
            r"|kleine[nmr]?|große[nmr]?|ältere[nmr]?|jüngere[nmr]?|älteste[nmr]?|jüngste[nmr]?|liebe[nmr]?",
            r"|petite|petit|cher|chère|grande?|pequeñ[oa]|querid[oa])\s+){{0,2}}",
            r"(?:{relations})(?:\s*,\s*|\s+is\s+called\s+|\s+is\s+named\s+|\s+named\s+|\s+called\s+|['’]s\s+name\s+is\s+",
            r"|\s+heißt\s+|\s+heisst\s+|\s+s['’]appelle\s+|\s+se\s+llama\s+|\s+se\s+chama\s+|\s+chama-se\s+|\s+is\s+|\s+))",
            r"\s*[:,]?\s*)"
        ),
        relations = RELATIONS
    );
    Regex::new(&pattern).ok()
});

/// "this is …", "it's …" after a greeting.
static GREETED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)(?:this\s+is|it['’]s|here\s+is|hier\s+ist|c['’]est|aquí|aqui\s+é|aqui\s+quem\s+fala\s+é)\s+",
    )
    .ok()
});

/// Greetings before "this is …".
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "hallo",
    "guten tag",
    "moin",
    "bonjour",
    "salut",
    "hola",
    "buenos días",
    "buenas",
    "olá",
    "oi",
    "bom dia",
    "boa tarde",
    "namaste",
    "namaskar",
    "नमस्ते",
];

/// A sign-off at the start of a line or sentence ("Thanks, Ngozi", "Sign
/// it: Warmly, Beatriz", "Sign it – Mateusz"): the name after it ends the
/// line or the quoted text.
static SIGN_OFF: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?im)(?:^|[.!?]\s+)\s*(?:(?:(?:best|kind|warm|warmest|many)\s+(?:regards|wishes|thanks)|regards|thanks(?:\s+again)?",
        r"|thank\s+you|cheers|sincerely|yours\s+(?:truly|sincerely|faithfully)|yours|best|love|signed|xoxo|warmly",
        r"|sign(?:ed)?\s+(?:it|off)(?:\s+(?:as|with))?",
        r"|mit\s+freundlichen\s+grüßen|(?:viele|liebe|beste|herzliche)\s+grüße|gruß|grüße|lg|vg",
        r"|(?:bien\s+)?cordialement|bien\s+à\s+vous|amicalement|bises|merci(?:\s+beaucoup)?",
        r"|saludos(?:\s+cordiales)?|un\s+saludo|atentamente|gracias|abrazos|atenciosamente|abraços",
        r"|obrigad[oa]|att\.?|beijos|dhanyavaad|dhanyavad|धन्यवाद|[-–—~])[ \t]*[,:!.\-–—]?[ \t]*){1,2}(?:\r?\n[ \t]*)?",
    ))
    .ok()
});

/// A form field or JSON key that holds a full name: "Name: Rosa Delgado",
/// `"full_name": "Leon Fischer"`, "Nome: …", "Nom : …", "Nombre: …".
static NAME_FIELD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?im)(?:^|[.:;,{(\[|])[ \t]*["']?(?:(?:full|first|last|given|family)[ _-]?name|fullname|surname|name"#,
        r#"|nome(?:\s+completo)?|nombre(?:\s+completo)?|nom(?:\s+complet)?|vorname|nachname|naam)["']?[ \t]*[:=][ \t]*["']?"#,
    ))
    .ok()
});

/// "I, Michael Brennan, authorize …": the legal form's self-introduction,
/// at the start of a sentence or quote.
static I_COMMA: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?m)(?:^|[.!?:;]\s+|["“„«'(]\s*)I,[ \t]+"#).ok());

/// A salutation at the start of a line: "Dear Priya,", "Hi Rahul!".
static SALUTATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?im)^[ \t]*(?:dear|hi|hello|hey|hallo|liebe|lieber|sehr\s+geehrte[r]?\s+(?:frau|herr)|bonjour|cher|chère",
        r"|hola|querid[oa]|estimad[oa]|olá|oi|prezad[oa]|namaste)[ \t]+",
    ))
    .ok()
});

/// Devanagari markers: "मेरा नाम …", "मेरी बेटी …", "मैं … हूँ".
/// ("मेरे भाई राहुल की …": the possessive in any of its forms.)
static DEVANAGARI: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<marker>(?:मेरा|मेरी|मेरे|हमारा|हमारी|हमारे)\s+(?:नाम|बेटी|बेटा|पत्नी|पति|बॉस|बहन|भाई|भैया|दीदी|माँ|मां",
        r"|पिता|पिताजी|दादा|दादी|नाना|नानी|चाचा|चाची|क्लाइंट|दोस्त|सहेली|पड़ोसी|सहकर्मी)|मैं)\s+",
        r"(?P<name>\p{Devanagari}+(?:\s+\p{Devanagari}+){0,3})",
    ))
    .ok()
});

/// One capitalised name word: "Priya", "O'Brien", "McDonald", "Jean-Luc".
static NAME_WORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:\p{Lu}['’]\p{Lu}\p{Ll}+|(?:Mc|Mac)\p{Lu}\p{Ll}+|\p{Lu}[\p{Ll}\p{M}]+)(?:-\p{Lu}[\p{Ll}\p{M}]+)*")
        .ok()
});

/// Words that join the parts of a name: "Maria da Silva", "van Dijk".
const PARTICLES: &[&str] = &[
    "da", "de", "do", "dos", "das", "van", "von", "der", "den", "del", "della", "di", "du", "bin", "binti", "al", "y",
];

/// Articles before a name in Portuguese, German, Spanish and Italian.
const ARTICLES: &[&str] = &["o", "a", "die", "der", "el", "la"];

/// Titles before a name: skipped, not part of it.
const TITLES: &[&str] = &[
    "Mr.", "Mr", "Mrs.", "Mrs", "Ms.", "Ms", "Miss", "Dr.", "Dr", "Prof.", "Prof", "Herr", "Frau", "Mme", "M.", "Mlle",
    "Sr.", "Sra.", "Dona", "Dom", "Shri", "Smt.", "Smt", "Sri",
];

/// Devanagari words that are not names.
const DEVANAGARI_STOP: &[&str] = &[
    "है",
    "हैं",
    "हूँ",
    "हूं",
    "और",
    "का",
    "की",
    "के",
    "को",
    "ने",
    "से",
    "में",
    "पर",
    "भी",
    "बहुत",
    "नहीं",
    "क्या",
    "यह",
    "वह",
    "एक",
    "तो",
    "ही",
    "था",
    "थी",
    "रहा",
    "रही",
    "रहता",
    "रहती",
    "गया",
    "गई",
    "आज",
    "कल",
    "दिल्ली",
    "मुंबई",
    "भारत",
    "थका",
    "थकी",
    "ठीक",
    "खुश",
    "परेशान",
    "अभी",
    "यहाँ",
    "वहाँ",
    "अपना",
    "अपनी",
    "हम",
    "आप",
    "जी",
];

/// The name at `at`: an optional title, then one to three capitalised words
/// (particles between them). `None` when the first word is a common word,
/// place, language or product.
fn name_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let re = NAME_WORD.as_ref()?;
    let mut pos = at;
    for title in TITLES {
        if text[pos..].starts_with(title) && text[pos + title.len()..].starts_with(' ') {
            pos += title.len() + 1;
            break;
        }
    }
    // An article before a name: "eu sou a Beatriz", "ich bin die Anna".
    for article in ARTICLES {
        if text[pos..].starts_with(article)
            && text[pos + article.len()..].starts_with(' ')
            && text[pos + article.len() + 1..].starts_with(char::is_uppercase)
        {
            pos += article.len() + 1;
            break;
        }
    }
    let start = pos;
    let mut end = pos;
    let mut words = 0;
    while words < 3 {
        let mut word_at = pos;
        if words > 0 {
            // One space, then maybe a particle and one space.
            if !text[pos..].starts_with(' ') {
                break;
            }
            word_at = pos + 1;
            if let Some(particle) =
                PARTICLES.iter().find(|p| text[word_at..].starts_with(*p) && text[word_at + p.len()..].starts_with(' '))
            {
                word_at += particle.len() + 1;
            }
        }
        let Some(m) = re.find(&text[word_at..]) else { break };
        let word = m.as_str();
        let after = char_at(text, word_at + m.end());
        if after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            break;
        }
        if is_stop_word(word) {
            break;
        }
        words += 1;
        end = word_at + m.end();
        pos = end;
        if matches!(after, Some('\'' | '’')) {
            break; // a possessive ends the name
        }
    }
    if words == 0 || is_famous(&text[start..end]) {
        return None;
    }
    Some((start, end))
}

/// Whether the text before `at` on its line ends with a greeting (or is
/// empty).
fn after_greeting(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..at].to_lowercase();
    let before = before.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '!' | '.' | '-' | '—'));
    before.is_empty() || GREETINGS.iter().any(|g| before.ends_with(g))
}

/// Closing quotation marks: `"` `'` `”` `“` (German) `’` `»` `«` (reversed).
fn is_closing_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '“' | '’' | '»' | '«')
}

/// Whether only punctuation and spaces follow `at` on its line, or a
/// closing quote ends the quoted text there ("… Thanks, Ngozi\" she said").
fn ends_line(text: &str, at: usize) -> bool {
    let rest = &text[at..];
    let line = rest.split('\n').next().unwrap_or("");
    if line.chars().all(|c| c.is_whitespace() || matches!(c, '.' | '!' | ',' | ')') || is_closing_quote(c)) {
        return true;
    }
    // A closing quote after the name (and sentence punctuation), not a
    // possessive "'s".
    let mut chars = line.trim_start_matches(['.', '!', ',', ' ']).chars();
    chars.next().is_some_and(is_closing_quote) && !chars.next().is_some_and(char::is_alphanumeric)
}

/// Whether a marker is written in Title Case ("I Am Sam", "My Name Is
/// Khan"): a title, not an introduction. Relation nouns do not count (German
/// writes them capitalised: "Meine Tochter Emma").
fn title_case(marker: &str) -> bool {
    let words: Vec<&str> = marker
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect();
    let relation = |w: &&str| RELATIONS.split('|').any(|r| r == w.to_lowercase());
    words.len() >= 2
        && !words.iter().any(relation)
        && words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

/// A place name introduced as a person and followed by an age: "I'm Paris,
/// 24, from Leeds" (but not "I'm from Paris", "I'm going to Paris").
fn place_name_with_age(text: &str, at: usize) -> Option<(usize, usize)> {
    let m = NAME_WORD.as_ref()?.find(&text[at..])?;
    let end = at + m.end();
    if !is_place(m.as_str()) || char_at(text, end).is_some_and(char::is_alphanumeric) {
        return None;
    }
    let rest = &text[end..];
    let age = rest
        .strip_prefix(',')
        .or_else(|| rest.strip_prefix(" ("))
        .map(str::trim_start)
        .map(|r| r.chars().take_while(char::is_ascii_digit).count())
        .is_some_and(|digits| (1..=3).contains(&digits));
    let after_age = rest.trim_start_matches([',', ' ', '(']).trim_start_matches(|c: char| c.is_ascii_digit());
    (age && !after_age.starts_with(|c: char| c.is_alphanumeric() || c == '.')).then_some((at, end))
}

/// Names the text introduces, and every other place they occur.
pub(super) fn find_introduced(text: &str, found: &mut Found) {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    if let Some(re) = INTRO.as_ref() {
        for m in re.find_iter(text) {
            // "I'm" inside a word ("Hi'm") or a sentence like "Im Sommer" is not a marker.
            if char_before(text, m.start()).is_some_and(|c| c.is_alphanumeric()) || title_case(m.as_str()) {
                continue;
            }
            if let Some(span) = name_at(text, m.end()).or_else(|| place_name_with_age(text, m.end())) {
                spans.push(span);
            }
        }
    }
    // "Name: Rosa Delgado": a first and a last name that end the field.
    if let Some(re) = NAME_FIELD.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end())
                && text[start..end].contains(' ')
                && text[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| matches!(c, ',' | ';' | '|' | '}' | ')' | '\n' | '\r') || is_closing_quote(c))
            {
                spans.push((start, end));
            }
        }
    }
    if let Some(re) = I_COMMA.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end())
                && text[end..].starts_with(',')
            {
                spans.push((start, end));
            }
        }
    }
    if let Some(re) = GREETED.as_ref() {
        for m in re.find_iter(text) {
            if after_greeting(text, m.start()) {
                spans.extend(name_at(text, m.end()));
            }
        }
    }
    if let Some(re) = SIGN_OFF.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end())
                && ends_line(text, end)
            {
                spans.push((start, end));
            }
        }
    }
    if let Some(re) = SALUTATION.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end())
                && (text[end..].starts_with([',', '!', ':', '\n']) || text[end..].trim().is_empty())
            {
                spans.push((start, end));
            }
        }
    }
    if let Some(re) = DEVANAGARI.as_ref() {
        for caps in re.captures_iter(text) {
            let (Some(marker), Some(name)) = (caps.name("marker"), caps.name("name")) else { continue };
            let mut end = name.start();
            for word in name.as_str().split_whitespace() {
                if DEVANAGARI_STOP.contains(&word) {
                    break;
                }
                let at = text[end..].find(word).map_or(end, |i| end + i);
                end = at + word.len();
            }
            if end == name.start() {
                continue;
            }
            // "मैं … हूँ": only a name right before "हूँ".
            if marker.as_str() == "मैं" {
                let rest = text[end..].trim_start();
                if !(rest.starts_with("हूँ") || rest.starts_with("हूं")) {
                    continue;
                }
            }
            spans.push((name.start(), end));
        }
    }
    // Every other occurrence of an introduced name, and of its parts.
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for &(start, end) in &spans {
        let name = &text[start..end];
        names.insert(name);
        for part in name.split(' ') {
            if part.chars().count() >= 3 && !is_common_word(part) && !PARTICLES.contains(&part) {
                names.insert(part);
            }
        }
    }
    for name in names {
        for (at, _) in text.match_indices(name) {
            let mut end = at + name.len();
            let alone = !char_before(text, at).is_some_and(char::is_alphanumeric)
                && !char_at(text, end).is_some_and(char::is_alphanumeric);
            if !alone {
                continue;
            }
            // "Meera Pillai" after "this is Meera": the surname goes with it.
            if !name.contains(' ')
                && text[end..].starts_with(' ')
                && let Some(m) = NAME_WORD.as_ref().and_then(|re| re.find(&text[end + 1..]))
            {
                let after = char_at(text, end + 1 + m.end());
                if !is_stop_word(m.as_str()) && !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    end = end + 1 + m.end();
                }
            }
            found.marked(PiiKind::Name, at, end);
        }
    }
}

/// The names the user listed, compiled into one pattern.
#[derive(Debug, Default)]
pub(super) struct Listed {
    /// Full names and uncommon parts, any case.
    pattern: Option<Regex>,
    /// Listed one-word names that are common words ("Grace"), as written.
    exact: Option<Regex>,
    /// Every word of every listed name, lowercase.
    words: BTreeSet<String>,
    /// The first words of listed names of two words or more, lowercase.
    first_parts: BTreeSet<String>,
    /// Listed names of one word, lowercase.
    single: BTreeSet<String>,
}

/// Words of address before a name that are neither titles nor relations:
/// "Professor Jordan", "Coach Jordan" are still Jordan.
const HONORIFICS: &[&str] = &[
    "professor",
    "coach",
    "captain",
    "officer",
    "judge",
    "pastor",
    "rabbi",
    "imam",
    "lord",
    "lady",
    "sir",
    "dame",
    "saint",
    "herrn",
    "monsieur",
    "madame",
    "señor",
    "señora",
    "senhor",
    "senhora",
    "don",
    "doña",
];

/// US state and Canadian province codes: "Victoria, BC" is a place. (Those
/// that are also words in capitals, OK, OR, IN, ME, HI, OH, are left out.)
const REGION_CODES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "ID", "IL", "IA", "KS", "KY", "LA", "MD", "MA", "MI",
    "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "DC", "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK",
    "YT",
];

impl Listed {
    /// Full names (words joined by any spaces) and their parts of three
    /// letters or more that are not common words, longest first.
    pub(super) fn new(names: &[String]) -> Self {
        let mut alternatives: Vec<String> = Vec::new();
        let mut exact: Vec<String> = Vec::new();
        let mut listed = Listed::default();
        for name in names {
            let parts: Vec<&str> = name.split_whitespace().collect();
            listed.words.extend(parts.iter().map(|p| p.to_lowercase()));
            match parts.as_slice() {
                [] => continue,
                [one] => {
                    listed.single.insert(one.to_lowercase());
                }
                [first, ..] => {
                    listed.first_parts.insert(first.to_lowercase());
                }
            }
            if let [one] = parts.as_slice()
                && is_common_word(one)
            {
                exact.push(regex::escape(one));
                continue;
            }
            alternatives.push(parts.iter().map(|p| regex::escape(p)).collect::<Vec<_>>().join(r"\s+"));
            if parts.len() > 1 {
                for part in &parts {
                    if part.chars().filter(|c| c.is_alphabetic()).count() >= 3 && !is_common_word(part) {
                        alternatives.push(regex::escape(part));
                    }
                }
            }
        }
        alternatives.sort_by_key(|a| std::cmp::Reverse(a.len()));
        alternatives.dedup();
        let compile = |alternatives: &[String], flags: &str| {
            if alternatives.is_empty() {
                None
            } else {
                Regex::new(&format!("{flags}(?:{})", alternatives.join("|"))).ok()
            }
        };
        listed.pattern = compile(&alternatives, "(?i)");
        listed.exact = compile(&exact, "");
        listed
    }

    pub(super) fn find(&self, text: &str, found: &mut Found) {
        for re in self.pattern.iter().chain(self.exact.iter()) {
            let mut from = 0;
            while let Some(m) = re.find_at(text, from) {
                let alone = !char_before(text, m.start()).is_some_and(char::is_alphanumeric)
                    && !char_at(text, m.end()).is_some_and(char::is_alphanumeric);
                if alone {
                    if !self.part_of_other_name(text, m.start(), m.end()) {
                        found.marked(PiiKind::Name, m.start(), m.end());
                    }
                    from = m.end();
                } else {
                    from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
    }

    /// Whether a listed name's part found alone belongs to someone else's
    /// name or to a place: "Michael Jordan" for "Jordan Lee" (a capitalised
    /// word before it that does not start the sentence and is no title,
    /// relation or other word of address),
    /// "Jordan Peele" (a capitalised word after a first name), "Victoria,
    /// BC" for "Victoria Hughes".
    fn part_of_other_name(&self, text: &str, start: usize, end: usize) -> bool {
        let found = text[start..end].to_lowercase();
        if found.contains(char::is_whitespace) || self.single.contains(&found) {
            return false; // a whole listed name
        }
        let other = |word: &str| !is_stop_word(word) && !self.words.contains(&word.to_lowercase());
        if let Some(before) = text[..start].strip_suffix(' ') {
            let word_start = before
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'))
                .last()
                .map_or(before.len(), |(i, _)| i);
            let word = &before[word_start..];
            let whole = NAME_WORD.as_ref().and_then(|re| re.find(word)).is_some_and(|m| m.end() == word.len());
            let lower = word.to_lowercase();
            let title = TITLES.iter().any(|t| t.trim_end_matches('.') == word)
                || HONORIFICS.contains(&lower.as_str())
                || RELATIONS.split('|').any(|r| r == lower);
            let head = before[..word_start].trim_end_matches([' ', '\t']);
            let sentence_start =
                head.is_empty() || head.ends_with(['.', '!', '?', ':', ';', '\n', '"', '“', '„', '«', '(']);
            if whole && !title && !sentence_start && other(word) {
                return true;
            }
        }
        let rest = &text[end..];
        if self.first_parts.contains(&found)
            && let Some(after) = rest.strip_prefix(' ')
            && let Some(m) = NAME_WORD.as_ref().and_then(|re| re.find(after))
            && !char_at(after, m.end()).is_some_and(|c| c.is_alphanumeric() || c == '_')
            && other(m.as_str())
        {
            return true;
        }
        rest.strip_prefix(", ").is_some_and(|r| {
            REGION_CODES.iter().any(|code| {
                r.starts_with(code) && !char_at(r, code.len()).is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
    }
}
