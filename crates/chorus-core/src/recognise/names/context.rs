//! More ways a text marks a word as a person's name: a title before it
//! ("Dr. Anil Patel", "Frau Wagner", "MR DAVID O. MENSAH"), a role in a
//! form or a sentence ("Tenant: …", "Kontoinhaberin Lena Vogt", "customer
//! Mohammed Irfan"), "name Tom Fairbanks", "me (Gareth Pryce)", "main Ankit
//! hoon", "Sharma ji", "me and Connor" / "Sam and I", a full name before its
//! date of birth ("Nele Krüger, geboren am …"), a name that the text's own
//! e-mail address spells (`hamid.rahimi@…` beside "Hamid Rahimi"), the name
//! column of a CSV table, and the Devanagari name after "नाम:" or a
//! sign-off.

use std::sync::LazyLock;

use regex::Regex;

use super::super::words::{is_famous, is_stop_word};
use super::super::{char_at, char_before, has_word};
use super::{DEVANAGARI_STOP, NAME_WORD, TITLES, name_at, name_in_capitals_at};

/// A title, as a whole word: the name after it is found.
static TITLE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let mut titles: Vec<&str> = TITLES.to_vec();
    titles.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let titles: Vec<String> = titles.iter().map(|t| regex::escape(t)).collect();
    Regex::new(&format!(r"(?:^|[^\p{{L}}\p{{N}}_.])(?P<title>{}) ", titles.join("|"))).ok()
});

/// A person's role, in a form ("Tenant: …", "Titulaire : …") or in a
/// sentence ("beneficiary Matteo Ricci", "Kontoinhaberin Lena Vogt").
static ROLE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:^|[^\p{L}])(?P<role>patient|patientin|paciente|tenant|mieterin|mieter|locataire|inquilin[oa]",
        r"|landlord|landlady|vermieterin|vermieter|passenger|passagier|passager|pasajer[oa]|passageir[oa]",
        r"|card\s?holder|account\s+holder|holder|kontoinhaberin|kontoinhaber|inhaberin|inhaber|titulaire|titular",
        r"|beneficiary|bénéficiaire|beneficiari[oa]|beneficiári[oa]|empfängerin|empfänger|customer|kundin|kunde",
        r"|spouse|applicant|bewerberin|bewerber|emergency\s+contact|guardian|erziehungsberechtigter?",
        r"|unterschrift|signature|signed\s+by|assinatura|borrower|co-borrower|policyholder|from)",
        r"(?:[ \t]*(?P<colon>:)[ \t]*|[ \t]+)",
    ))
    .ok()
});

/// Roles that German writes capitalised in a sentence ("Kontoinhaberin
/// Lena Vogt"); other roles without a colon are found only in lowercase
/// ("Customer Service Desk" is not a customer).
const GERMAN_ROLES: &[&str] = &[
    "mieterin",
    "mieter",
    "vermieterin",
    "vermieter",
    "passagier",
    "kontoinhaberin",
    "kontoinhaber",
    "inhaberin",
    "inhaber",
    "empfängerin",
    "empfänger",
    "kundin",
    "kunde",
    "patientin",
    "bewerberin",
    "bewerber",
    "erziehungsberechtigte",
    "erziehungsberechtigter",
];

/// ", name Tom Fairbanks", "account name Niamh & Cian Byrne".
static NAME_WITHOUT_COLON: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?im)(?:^|[,;][ \t]*|(?-u:\b)account[ \t]+)name[ \t]+").ok());

/// "me (Gareth Pryce)", "my name (Deepa Nair)".
static IN_BRACKETS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)(?:me|myself|moi|ich|my\s+name)\s*\(").ok());

/// Hinglish "main Ankit hoon".
static MAIN: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)main\s+").ok());

/// The line "-- " that starts an e-mail signature (RFC 3676): the name
/// starts the next line ("--\nR. Lindqvist, Head of Sales").
static SIGNATURE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?m)^--[ \t]*\r?\n").ok());

/// "Sharma ji": the Hindi honorific after a name.
static JI: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\p{Lu}\p{Ll}+ ji(?-u:\b)").ok());

/// "me and Connor", "moi et Inès".
static ME_AND: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)(?:me|ich|moi|yo|eu)\s+(?:and|&|und|et|y|e)\s+").ok());

/// "Sam and I", "Lars und ich", "João e eu".
static AND_ME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?P<name>\p{Lu}[\p{Ll}\p{M}]+)\s+(?:and\s+(?:I|me)|&\s+(?:I|me)|und\s+ich|et\s+moi|y\s+yo|e\s+eu)(?-u:\b)",
    )
    .ok()
});

/// A comma, then a date-of-birth marker ("Nele Krüger, geboren am …").
static COMMA_BORN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i), ?(?:born|dob|d\.o\.b|geb\.|geboren|née?|nacid[oa]|nascid[oa])(?-u:\b)").ok());

/// A capitalised word of ASCII letters ("Hamid"), as a whole word.
static ASCII_WORD: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?-u:\b)[A-Z][a-z]{2,}(?-u:\b)").ok());

/// An e-mail address.
static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}").ok());

/// "नाम: सुनीता देवी", and a Devanagari sign-off then the name on its own
/// line ("आपका आभारी,\nविकास श्रीवास्तव").
static DEVANAGARI_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:नाम\s*:\s*|(?:आपका|आपकी)\s+(?:आभारी|शुभचिंतक)[,।]?\s*\n\s*|भवदीय[,।]?\s*\n\s*)",
        r"(?P<name>\p{Devanagari}+(?:[ \t]+\p{Devanagari}+){0,2})",
    ))
    .ok()
});

/// Column names of a CSV header that hold people's names.
const NAME_COLUMNS: &[&str] = &[
    "name",
    "full_name",
    "fullname",
    "full name",
    "customer_name",
    "employee_name",
    "contact_name",
    "first_name",
    "last_name",
    "surname",
    "nombre",
    "nome",
    "nom",
];

/// Names a text marks in these ways, added to `spans`.
pub(super) fn find(text: &str, spans: &mut Vec<(usize, usize)>) {
    titles(text, spans);
    roles(text, spans);
    phrases(text, spans);
    before_birth_dates(text, spans);
    in_email_addresses(text, spans);
    csv_columns(text, spans);
    devanagari(text, spans);
}

/// "Dr. Anil Patel", "Mrs Ogunleye", "Bonjour Madame Lefèvre", "MR DAVID O.
/// MENSAH", "Mr J. Okonkwo".
/// A title before a character of fiction or a work's name ("Mr. Darcy's
/// first ball" in a sentence about a chapter, "Mrs Dalloway by Virginia
/// Woolf") names no one: not in a sentence about books, films or quizzes,
/// nor before "by".
fn titles(text: &str, spans: &mut Vec<(usize, usize)>) {
    let Some(re) = TITLE.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let Some(title) = caps.name("title") else { continue };
        if let Some((start, end)) = name_in_capitals_at(text, title.start())
            && start > title.start()
            && !by_author(text, end)
            && !has_word(&sentence_around(text, title.start()).to_lowercase(), FICTION_WORDS)
        {
            spans.push((start, end));
        }
    }
}

/// Whether " by " and an author's full name follow `end` ("Mrs Dalloway by
/// Virginia Woolf"; not "Mrs. Green by Friday").
fn by_author(text: &str, end: usize) -> bool {
    let Some(rest) = text[end..].strip_prefix(" by ") else { return false };
    name_at(rest, 0).is_some_and(|(s, e)| rest[s..e].contains(' '))
}

/// Words of a sentence about fiction.
const FICTION_WORDS: &[&str] = &[
    "chapter",
    "novel",
    "book",
    "film",
    "movie",
    "character",
    "characters",
    "plot",
    "story",
    "series",
    "episode",
    "quiz",
    "poem",
    "fiction",
    "roman",
    "livre",
    "película",
    "libro",
    "filme",
    "livro",
    "buch",
];

/// The sentence (or line) around `at`.
fn sentence_around(text: &str, at: usize) -> &str {
    let start = text[..at].rfind(['.', '!', '?', '\n']).map_or(0, |i| i + 1);
    let end = text[at..].find(['!', '?', '\n']).map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// A full name after a role: "Tenant: Fatima Zahra Benali", "Cardholder:
/// PRIYA N SHAH", "titular Rocío Navarro", "Kontoinhaberin Lena Vogt".
fn roles(text: &str, spans: &mut Vec<(usize, usize)>) {
    let Some(re) = ROLE.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let (Some(role), Some(all)) = (caps.name("role"), caps.get(0)) else { continue };
        let colon = caps.name("colon").is_some();
        let word = role.as_str();
        let lowercase = !word.starts_with(char::is_uppercase);
        if !colon && !lowercase && !GERMAN_ROLES.contains(&word.to_lowercase().as_str()) {
            continue;
        }
        // "From: Arjun Nambiar" heads a letter or an invoice; "a note from
        // Olga" is the text's own sentence.
        if word.eq_ignore_ascii_case("from")
            && !(colon && text[..role.start()].trim_end_matches([' ', '\t']).ends_with('\n'))
        {
            continue;
        }
        let name = if colon { name_in_capitals_at(text, all.end()) } else { name_at(text, all.end()) };
        if let Some((start, end)) = name
            && text[start..end].contains(' ')
        {
            spans.push((start, end));
        }
    }
}

/// The name after `at`, and a second one joined to it by "&" or "and"
/// ("Niamh & Cian Byrne"); the first alone only if it has two words or a
/// second follows.
fn names_joined(text: &str, at: usize, spans: &mut Vec<(usize, usize)>) {
    let Some((start, end)) = name_at(text, at) else { return };
    let rest = &text[end..];
    let joined =
        [" & ", " and ", " und ", " et ", " y ", " e "].iter().find_map(|j| rest.strip_prefix(j).map(|_| j.len()));
    let second = joined.and_then(|len| name_at(text, end + len));
    if let Some(second) = second {
        spans.push((start, end));
        spans.push(second);
    } else if text[start..end].contains(' ') {
        spans.push((start, end));
    }
}

/// "name Tom Fairbanks", "me (Gareth Pryce)", "main Ankit hoon", "Sharma
/// ji", "me and Connor", "Sam and I".
fn phrases(text: &str, spans: &mut Vec<(usize, usize)>) {
    if let Some(re) = NAME_WITHOUT_COLON.as_ref() {
        for m in re.find_iter(text) {
            names_joined(text, m.end(), spans);
        }
    }
    if let Some(re) = SIGNATURE.as_ref() {
        for m in re.find_iter(text) {
            spans.extend(name_at(text, m.end()));
        }
    }
    if let Some(re) = IN_BRACKETS.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end())
                && text[end..].starts_with(')')
            {
                spans.push((start, end));
            }
        }
    }
    if let Some(re) = MAIN.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end()) {
                let next: String = text[end..].trim_start().chars().take_while(|c| c.is_alphabetic()).collect();
                if ["hoon", "hun", "hu", "hoo"].contains(&next.to_lowercase().as_str()) {
                    spans.push((start, end));
                }
            }
        }
    }
    if let Some(re) = JI.as_ref() {
        for m in re.find_iter(text) {
            let end = m.end() - " ji".len();
            let name = &text[m.start()..end];
            if !char_before(text, m.start()).is_some_and(char::is_alphabetic) && !is_stop_word(name) && !is_famous(name)
            {
                spans.push((m.start(), end));
            }
        }
    }
    if let Some(re) = ME_AND.as_ref() {
        for m in re.find_iter(text) {
            if let Some((start, end)) = name_at(text, m.end()) {
                spans.push((start, end));
            }
        }
    }
    if let Some(re) = AND_ME.as_ref() {
        for caps in re.captures_iter(text) {
            let Some(name) = caps.name("name") else { continue };
            if !char_before(text, name.start()).is_some_and(char::is_alphabetic)
                && !is_stop_word(name.as_str())
                && !is_famous(name.as_str())
            {
                spans.push((name.start(), name.end()));
            }
        }
    }
}

/// A full name that starts its clause and is followed by its date of
/// birth: "Patient : Jean-Luc Moreau, né le …", "Certidão: Beatriz Gomes,
/// nascida em …".
fn before_birth_dates(text: &str, spans: &mut Vec<(usize, usize)>) {
    let Some(re) = COMMA_BORN.as_ref() else { return };
    for m in re.find_iter(text) {
        let head = &text[..m.start()];
        let clause = head.rfind([':', '\n', '.', '!', '?', '(', ';']).map_or(0, |i| i + 1);
        let at = clause + (head[clause..].len() - head[clause..].trim_start().len());
        if let Some((start, end)) = name_at(text, at)
            && end == m.start()
            && text[start..end].contains(' ')
        {
            spans.push((start, end));
        }
    }
}

/// A letter without its accent, lowercase ('Ñ' → 'n').
fn folded_char(c: char) -> char {
    match c.to_lowercase().next().unwrap_or(c) {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// A word without its accents, lowercase ("Peña" → "pena").
fn folded(word: &str) -> String {
    word.chars().map(folded_char).collect()
}

/// Names the text's e-mail addresses spell: a local part of two words or
/// more (`hamid.rahimi`, `p.caron`, `noor.h`) makes a capitalised word that
/// spells one of its words a name, with the capitalised words next to it
/// that spell another or start with one of its initials ("Hamid Rahimi",
/// "Philippe Caron", "Noor Haddad", "— Jules" beside `jules.ferreira@…`).
fn in_email_addresses(text: &str, spans: &mut Vec<(usize, usize)>) {
    if !text.contains('@') {
        return;
    }
    let Some(email) = EMAIL.as_ref() else { return };
    let emails: Vec<(usize, usize)> = email.find_iter(text).map(|m| (m.start(), m.end())).collect();
    let in_email = |at: usize| emails.iter().any(|&(s, e)| at >= s && at < e);
    // Capitalised words of ASCII letters, lowercase: the seeds.
    let Some(ascii_word) = ASCII_WORD.as_ref() else { return };
    let seeds: Vec<(usize, usize, String)> = ascii_word
        .find_iter(text)
        .filter(|m| {
            !text[..m.start()].ends_with(|c: char| !c.is_ascii())
                && !text[m.end()..].starts_with(|c: char| !c.is_ascii())
                && !in_email(m.start())
        })
        .map(|m| (m.start(), m.end(), m.as_str().to_ascii_lowercase()))
        .collect();
    for &(start, end) in &emails {
        let local = text[start..end].split('@').next().unwrap_or("");
        let parts: Vec<String> =
            local.split(|c: char| !c.is_alphabetic()).filter(|p| !p.is_empty()).map(folded).collect();
        // `sales.team@…`, `info.berlin@…`: a department's mailbox, no one's.
        if parts.len() < 2 || parts.iter().any(|p| ROLE_MAILBOX_WORDS.contains(&p.as_str())) {
            continue;
        }
        let belongs = |word: &str| {
            let word = folded(word);
            parts.iter().any(|p| {
                (p.chars().count() >= 3 && *p == word) || (p.chars().count() == 1 && word.starts_with(p.as_str()))
            })
        };
        for (at, seed_end, _) in seeds.iter().filter(|(_, _, w)| parts.contains(w)) {
            let (at, seed_end) = (*at, *seed_end);
            if is_stop_word(&text[at..seed_end]) {
                continue;
            }
            // The words next to it that belong too: three at most.
            let (mut first, mut last, mut words) = (at, seed_end, 1);
            while words < 3
                && let Some(before) = capitalised_before(text, first)
                && belongs(&text[before..first - 1])
                && !is_stop_word(&text[before..first - 1])
            {
                first = before;
                words += 1;
            }
            while words < 3
                && let Some(after) = capitalised_after(text, last)
                && belongs(&text[last + 1..after])
                && !is_stop_word(&text[last + 1..after])
            {
                last = after;
                words += 1;
            }
            spans.push((first, last));
        }
    }
}

/// Words of a mailbox that belongs to a role or a department.
const ROLE_MAILBOX_WORDS: &[&str] = &[
    "sales",
    "team",
    "info",
    "support",
    "admin",
    "contact",
    "office",
    "billing",
    "accounts",
    "account",
    "hr",
    "jobs",
    "careers",
    "press",
    "media",
    "marketing",
    "hello",
    "help",
    "service",
    "services",
    "orders",
    "order",
    "shop",
    "store",
    "booking",
    "bookings",
    "reservations",
    "invoice",
    "invoices",
    "finance",
    "legal",
    "privacy",
    "security",
    "webmaster",
    "postmaster",
    "newsletter",
    "news",
    "mail",
    "noreply",
    "reply",
    "kontakt",
    "contacto",
    "contato",
    "bewerbung",
    "urlaub",
    "rechnung",
    "recrutement",
    "ventas",
    "vendas",
];

/// The start of the capitalised word before `at`, when one space sets it off.
fn capitalised_before(text: &str, at: usize) -> Option<usize> {
    let head = text[..at].strip_suffix(' ')?;
    let start = head
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'))
        .last()
        .map(|(i, _)| i)?;
    let whole = NAME_WORD.as_ref()?.find(&head[start..]).is_some_and(|m| m.end() == head.len() - start);
    whole.then_some(start)
}

/// The end of the capitalised word after `end`, when one space sets it off.
fn capitalised_after(text: &str, end: usize) -> Option<usize> {
    let rest = text[end..].strip_prefix(' ')?;
    let m = NAME_WORD.as_ref()?.find(rest)?;
    (!char_at(rest, m.end()).is_some_and(char::is_alphanumeric)).then_some(end + 1 + m.end())
}

/// The values of a CSV table's name column ("name,email,phone" then
/// "Liam Carter,liam.carter@outlook.com,…").
fn csv_columns(text: &str, spans: &mut Vec<(usize, usize)>) {
    let mut column: Option<(usize, usize)> = None; // (index, number of columns)
    let mut offset = 0;
    for line in text.split('\n') {
        let fields: Vec<&str> = line.split(',').collect();
        let header = fields.len() >= 3
            && fields.iter().all(|f| {
                let f = f.trim();
                !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == ' ')
            });
        if header {
            column = fields.iter().position(|f| NAME_COLUMNS.contains(&f.trim())).map(|index| (index, fields.len()));
        } else if let Some((index, count)) = column {
            if fields.len() != count {
                column = None;
            } else {
                let at = offset + fields[..index].iter().map(|f| f.len() + 1).sum::<usize>();
                let field = fields[index];
                let lead = field.len() - field.trim_start().len();
                if let Some((start, end)) = name_at(text, at + lead)
                    && end == at + field.trim_end().len()
                {
                    spans.push((start, end));
                }
            }
        }
        offset += line.len() + 1;
    }
}

/// "नाम: सुनीता देवी", "आपका आभारी,\nविकास श्रीवास्तव".
fn devanagari(text: &str, spans: &mut Vec<(usize, usize)>) {
    let Some(re) = DEVANAGARI_NAME.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let Some(name) = caps.name("name") else { continue };
        let mut end = name.start();
        for word in name.as_str().split_whitespace() {
            if DEVANAGARI_STOP.contains(&word) {
                break;
            }
            end = text[end..].find(word).map_or(end, |i| end + i + word.len());
        }
        if end > name.start() {
            spans.push((name.start(), end));
        }
    }
}
