//! People's names: the names the user listed (`listed.rs`), and names the
//! text introduces ("my name is …", "I'm …", "my daughter …", "regards, …";
//! titles, roles, fields, e-mail addresses and tables in `context.rs`).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

mod context;
mod listed;

pub(super) use listed::Listed;

use super::words::{is_common_word, is_company_word, is_famous, is_place, is_stop_word};
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
    // People who work for or with the writer, and in-laws.
    "|intern|trainee|apprentice|host|hostess|accountant|babysitter|nanny|plumber|electrician|mechanic|dentist",
    "|therapist|recruiter|mentor|supervisor|landlady|carer|caregiver|tutor|housekeeper|cleaner",
    "|vermieterin|vermieter|mitarbeiterin|mitarbeiter|praktikantin|praktikant|schwiegermutter|schwiegervater",
    "|steuerberaterin|steuerberater|nachbarin|nachbar|belle-mère|beau-père|propriétaire|comptable|stagiaire",
    "|voisine|voisin|suegra|suegro|cuñada|cuñado|contable|contadora|contador|casera|casero|vecina|vecino",
    "|sogra|sogro|cunhada|cunhado|vizinha|vizinho|síndica|síndico|bete|mummy|sasur|saas",
);

/// Markers after which a capitalised name follows.
static INTRO: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let pattern = format!(
        concat!(
            r"(?i)(?:(?-u:\b)(?:my\s+(?:full\s+)?name\s+is|my\s+name['’]s|(?:his|her|their)\s+name(?:\s+is|['’]s)|i['’]m|i\s+am",
            // "the babysitter's name is Hollie", "under the name Laurent", "au nom de Marc Dubois"
            r"|(?:{relations})['’]s\s+name(?:\s+is|['’]s)|(?:under|in)\s+the\s+name(?:\s+of)?|au\s+nom\s+de|a\s+nombre\s+de",
            r"|em\s+nome\s+de|auf\s+den\s+namen",
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
            // A brand or place before the relation: "my Airbnb host Carmen".
            r"|petite|petit|cher|chère|grande?|pequeñ[oa]|querid[oa]|(?-i:\p{{Lu}}[\p{{L}}0-9]+))\s+){{0,2}}",
            // "My colleague in São Paulo is Beatriz Lima"
            r"(?:{relations})(?:\s+(?:in|at|from)\s+(?-i:\p{{Lu}}\p{{L}}*(?:\s+\p{{Lu}}\p{{L}}*)?)\s+is\s+|\s*,\s*|\s+is\s+called\s+|\s+is\s+named\s+|\s+named\s+|\s+called\s+|['’]s\s+name\s+is\s+",
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
        r"|saludos(?:\s+cordiales)?|un\s+saludo|atentamente|gracias(?:\s+por\s+todo)?|abrazos|atenciosamente|abraços",
        r"|un\s+abrazo|un\s+beso|besos|um\s+abraço|abraço|cumprimentos|danke(?:\s+schön)?|thanks\s+for\s+everything",
        r"|merci\s+pour\s+tout|obrigad[oa]\s+por\s+tudo",
        // "Danke & LG"
        r"|obrigad[oa]|att\.?|beijos|dhanyavaad|dhanyavad|धन्यवाद|[-–—~])[ \t]*[,:!.\-–—&]?[ \t]*){1,2}(?:\r?\n[ \t]*)?",
    ))
    .ok()
});

/// A form field or JSON key that holds a full name: "Name: Rosa Delgado",
/// `"full_name": "Leon Fischer"`, "Nome: …", "Nom : …", "Nombre: …".
static NAME_FIELD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?im)(?:^|[.:;,{(\[|])[ \t]*["']?(?P<label>(?:(?:full|first|last|given|family|middle|maiden|legal|account"#,
        r#"|tenant|customer|patient|client|card[ _-]?holder|holder|beneficiary|passenger|guest|student|employee|child"#,
        // "Name des Kindes: Mila Schröder"
        r#"|spouse)[ _-]?name|fullname|surname|forename|name(?:\s+(?:des|der|of\s+the|de|del|do|da)\s+\p{L}+)?"#,
        r#"|nome(?:\s+completo)?|nombre(?:\s+completo)?|nom(?:\s+complet)?|prénom|vorname|nachname|apellidos?"#,
        r#"|sobrenome|naam))["']?[ \t]*[:=][ \t]*["']?"#,
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
        r#"(?im)(?:^|["'“„«‘])[ \t]*(?:dear|hi|hello|hey|hallo|liebe|lieber|sehr\s+geehrte[r]?\s+(?:frau|herr)|bonjour|cher|chère"#,
        r"|hola|querid[oa]|estimad[oa]|olá|oi|prezad[oa]|namaste)[ \t]+",
    ))
    .ok()
});

/// Devanagari markers: "मेरा नाम …", "मेरी बेटी …", "मैं … हूँ".
/// ("मेरे भाई राहुल की …": the possessive in any of its forms.)
static DEVANAGARI: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<marker>(?:मेरा|मेरी|मेरे|हमारा|हमारी|हमारे)\s+(?:नाम|बेटी|बेटा|पत्नी|पति|बॉस|बहन|भाई|भैया|दीदी|माँ|मां",
        r"|पिता|पिताजी|दादा|दादी|नाना|नानी|चाचा|चाची|क्लाइंट|दोस्त|सहेली|पड़ोसी|सहकर्मी|मम्मी|पापा|बेटे|ससुर|सास",
        r"|भाभी|मौसी|बुआ)|मैं)\s+",
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

/// Form fields that hold one word of a name ("Surname: Kowalczyk").
const ONE_WORD_FIELDS: &[&str] = &[
    "surname",
    "forename",
    "first",
    "last",
    "given",
    "family",
    "middle",
    "maiden",
    "vorname",
    "nachname",
    "prénom",
    "apellido",
    "sobrenome",
];

/// Titles before a name: skipped, not part of it.
const TITLES: &[&str] = &[
    "Mr.", "Mr", "Mrs.", "Mrs", "Ms.", "Ms", "Mx.", "Mx", "Miss", "Dr.", "Dr", "Prof.", "Prof", "Herrn", "Herr",
    "Frau", "Mme", "M.", "Mlle", "Madame", "Monsieur", "Sr.", "Sra.", "Sra", "Srta.", "Dra.", "Dra", "Dona", "dona",
    "Dom", "Shri", "Smt.", "Smt", "Sri", "MR", "MRS", "MS", "DR",
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

/// The name at `at`: an optional opening quote, title and article, then one
/// to three capitalised words (particles between them; an initial, "J.",
/// before another word). `None` when the first word is a common word,
/// place, language or product.
fn name_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let re = NAME_WORD.as_ref()?;
    let mut pos = at;
    // "naam 'Rakesh Kumar Gupta' hai"
    if let Some(quote) = text[pos..].chars().next().filter(|c| matches!(c, '\'' | '"' | '“' | '‘' | '«' | '„')) {
        pos += quote.len_utf8();
    }
    pos = after_title(text, pos);
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
        // An initial counts when a name word follows: "J. Okonkwo".
        if let Some(initial) = initial_at(text, word_at)
            && words < 2
            && text[word_at + initial..].starts_with(' ')
            && re.find(&text[word_at + initial + 1..]).is_some_and(|m| !is_stop_word(m.as_str()))
        {
            words += 1;
            end = word_at + initial;
            pos = end;
            continue;
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
    let company = text[start..end].split(' ').any(is_company_word);
    if words == 0 || is_famous(&text[start..end]) || text[start..end].ends_with('.') || company {
        return None;
    }
    Some((start, end))
}

/// `at` moved past a title and its space ("Dr. ", "Frau ", "MR ").
fn after_title(text: &str, at: usize) -> usize {
    TITLES
        .iter()
        .find(|title| text[at..].starts_with(*title) && text[at + title.len()..].starts_with(' '))
        .map_or(at, |title| at + title.len() + 1)
}

/// The length of an initial at `at` ("J.", 2 bytes), if there is one.
fn initial_at(text: &str, at: usize) -> Option<usize> {
    let mut chars = text[at..].chars();
    let letter = chars.next().filter(|c| c.is_uppercase())?;
    (chars.next() == Some('.')).then_some(letter.len_utf8() + 1)
}

/// A name in capitals after a title or a form's label ("MR DAVID O. MENSAH",
/// "Cardholder: PRIYA N SHAH"): two to four words of capitals, initials
/// (with or without a dot) between them, or else a name as [`name_at`]
/// finds it.
fn name_in_capitals_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let start = after_title(text, at);
    let (mut pos, mut end, mut words, mut last_full) = (start, start, 0, false);
    while words < 4 {
        let word_at = match words {
            0 => pos,
            _ if text[pos..].starts_with(' ') => pos + 1,
            _ => break,
        };
        let rest = &text[word_at..];
        let len =
            rest.find(|c: char| !(c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.'))).unwrap_or(rest.len());
        let word = &rest[..len];
        let letters = word.strip_suffix('.').unwrap_or(word);
        let upper = letters.chars().any(char::is_uppercase) && !letters.chars().any(char::is_lowercase);
        let count = letters.chars().count();
        let full = upper && count >= 2 && !letters.contains('.') && word == letters && !is_stop_word(letters);
        let initial = upper && count == 1;
        if !(full || initial) {
            break;
        }
        words += 1;
        last_full = full;
        end = word_at + len;
        pos = end;
    }
    if words >= 2 && last_full && !text[start..end].split(' ').any(is_company_word) {
        Some((start, end))
    } else {
        name_at(text, at)
    }
}

/// Whether the text before `at` on its line ends with a greeting (or is
/// empty), maybe with the reader's name after it ("Hi Tobi, hier ist
/// Mareike").
fn after_greeting(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let trim = |s: &str| {
        s.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '!' | '.' | '-' | '—')).to_owned()
    };
    let before = trim(&text[line_start..at]);
    let greeting = |s: &str| {
        let s = s.to_lowercase();
        s.is_empty() || GREETINGS.iter().any(|g| s.ends_with(g))
    };
    greeting(&before)
        || before.rsplit_once(' ').is_some_and(|(head, reader)| {
            reader.starts_with(char::is_uppercase) && !is_stop_word(reader) && !head.is_empty() && greeting(head)
        })
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
    // "Name: Rosa Delgado": a first and a last name that end the field
    // ("Surname: Kowalczyk": one word, when the field holds one).
    if let Some(re) = NAME_FIELD.as_ref() {
        for caps in re.captures_iter(text) {
            let (Some(m), Some(label)) = (caps.get(0), caps.name("label")) else { continue };
            let label = label.as_str().to_lowercase();
            let one_word = ONE_WORD_FIELDS.iter().any(|f| label.starts_with(f));
            if let Some((start, end)) = name_in_capitals_at(text, m.end())
                && (one_word || text[start..end].contains(' '))
                && text[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| matches!(c, ',' | ';' | '|' | '}' | ')' | '\n' | '\r') || is_closing_quote(c))
            {
                spans.push((start, end));
            }
        }
    }
    context::find(text, &mut spans);
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
            // "R K Gupta" after "Rakesh Kumar Gupta": the initials go with it.
            let mut at = at;
            while let Some(head) = text[..at].strip_suffix(' ')
                && let Some(initial) = head.strip_suffix('.').unwrap_or(head).chars().next_back()
                && initial.is_uppercase()
            {
                let bare = head.strip_suffix('.').unwrap_or(head);
                let letter_at = bare.len() - initial.len_utf8();
                if char_before(text, letter_at).is_some_and(char::is_alphanumeric)
                    || TITLES.contains(&&text[letter_at..head.len()])
                {
                    break; // inside a word, or a title ("M. Karim Haddad")
                }
                at = letter_at;
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
