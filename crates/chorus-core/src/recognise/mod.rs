//! Recognisers of personal data: pure code over a `&str` (no I/O, no
//! network, no clock) that says where e-mail addresses, phone numbers,
//! payment cards, IBANs, IP addresses, national numbers, secrets, street
//! addresses, dates of birth and people's names are in a text.
//!
//! [`Recogniser::find`] runs every recogniser and returns [`Finding`]s
//! (kind and byte span), sorted and without overlaps. What each one finds:
//!
//! - **E-mail** (`email.rs`): `local@domain.tld`, ASCII or Unicode letters;
//!   `git@…`, image names such as `icon@2x.png` and the login in a URL
//!   (`scheme://user:password@host`) are not addresses, nor placeholders
//!   on reserved domains (RFC 2606, RFC 6761): any address under `.test`,
//!   `.invalid`, `.example`, `.localhost`, and `example@`, `test@`, `foo@`,
//!   `noreply@`, … at `example.com`/`.net`/`.org` (`priya.raman@example.com`
//!   and `user@example.com` still count).
//! - **Phone** (`phone.rs`): international numbers (`+` or `00`, the
//!   national number's length checked for +1, +44, +91, +49, +33, +55 and
//!   E.164's 15 digits for the rest; `(0)` trunk digits allowed) and the
//!   national shapes of the US/Canada, the UK, India, Germany, France and
//!   Brazil, with spaces, dots, dashes, slashes or brackets (an Indian
//!   mobile after its trunk 0 as `098200 55143`, a German area code set off
//!   by a spaced slash as `089 / 4471 2290`). A number
//!   written as one run of digits, or in a shape of no listed country
//!   (Spain's `91 123 45 67`), counts only after a phone word
//!   ("call", "tel", "mobile", "WhatsApp", "Handy", "portable", "celular",
//!   "llama a", "फ़ोन", …); one after "order", "invoice", "tracking", "ISBN",
//!   "referencia", … or followed by a unit or currency is not a phone number.
//! - **Card** (`card.rs`): 13–19 digits, in one run or in groups of 4
//!   (Amex 4-6-5, Diners 4-6-4), Luhn-checked, with a card network's prefix;
//!   also a field of a CSV row (`1,4201986039547624`).
//! - **IBAN** (`iban.rs`): country code, check digits, the country's length
//!   (a table of 80 countries), mod-97; spaces every 4 or none; any case.
//! - **IP address** (`ip.rs`): IPv4 (not a version: not after or before a
//!   version word — "version", "v", "tag", "build", "release", "firmware",
//!   "kernel", "driver", "branch", a word ending in one ("Vorgängerrelease"),
//!   "vs" after a version — nor in a sentence about upgrades or versions
//!   that does not speak of networks; not part of a longer dotted run, not
//!   loopback/unspecified/broadcast/netmasks, not a private or wide network
//!   `10.0.0.0/8`; a host with its prefix `10.8.0.2/32` is one, and so is a
//!   narrow public network, `198.51.100.0/24`) and IPv6 (checked by the
//!   standard library's parser; not `::`, `::1`; a zone `%en0` is left out).
//! - **National numbers** (`national.rs`): US SSN (`AAA-GG-SSSS` without
//!   the never-issued areas and zero groups, or 9 digits after "SSN"), UK
//!   National Insurance numbers (the allowed prefix letters), Aadhaar
//!   (12 digits, first 2–9, Verhoeff-checked), Indian PAN (`AAAPA9999A`
//!   with a holder-type letter); each also as a field of a CSV row.
//! - **Secrets** (`secret/`): tokens of well-known shapes (OpenAI and
//!   Anthropic `sk-…`, Stripe, GitHub, GitLab, Slack, AWS access keys,
//!   Google `AIza…`, Hugging Face, npm, SendGrid, JWTs, private key
//!   blocks, `Bearer …`), the value after a password word ("password:",
//!   "PIN is", "El PIN de mi tarjeta es", "passcode", "mot de passe
//!   Netflix est", "Passwort", "contraseña del wifi del piso es:", "senha",
//!   "पासवर्ड", …) or after a config key that ends with one
//!   (`POSTGRES_PASSWORD=`, `SMTP_PASS=`, `aws_secret_access_key = `,
//!   `PrivateKey = `, `"client_secret":`) unless that value is code, a
//!   placeholder (`${POSTGRES_PASSWORD:?err}`) or a common word, and the
//!   password in a URL (`scheme://user:PASSWORD@host`); codes that open
//!   something ("door code is 4471", "locker code 1-8-2-4", "verification
//!   code", "OTP 739104", "le code de mon cadenas est 3719", "digicode …
//!   47B09", the list after "backup codes:"). Six digits after "pin code"
//!   next to a place are an Indian postal code, not a PIN.
//! - **Addresses** (`address.rs`): where the text marks them ("I (now) live
//!   at …", "my address is …", "Change my mailing address to …", "Permanent
//!   address: …", "Adresse (de livraison) : …", "meine neue Anschrift
//!   lautet: …", "ich wohne (derzeit) in der …", "j'habite au …", "je vis
//!   au …", "vivo en Calle …", "mi dirección es …", "moro na …", "a minha
//!   morada é …", "Endereço: …", "मेरा पता …", "mera ghar …"), and by their
//!   shape in the US, Canada and the UK: a house number, a street with its
//!   type, a town and a state and ZIP code, a province and postcode, or a UK
//!   postcode (`1420 Pine St Apt 6, Seattle, WA 98101`), unless the sentence
//!   speaks of an office, a shop, a museum, …. An address runs on over a
//!   region code ("São Paulo - SP", "Belo Horizonte - MG") and stops before
//!   contact details (", Telefon …") and "depuis", "seit", "desde", "mein".
//!   One word without a number (`address: Address;`) is no address.
//! - **Dates of birth** (`birth_date.rs`): only where the text marks them
//!   ("born on …", "date of birth: …", "DOB …", `"dob": "…"`, "geboren am
//!   …", "ist am … geboren", "né le …", "nacido el …", "nació el …",
//!   "nascido em …", "nasceu em …", "जन्म तिथि …", "janm tithi …", "का जन्म
//!   … को हुआ"; day-month and US month-day dates), with a year ("birthday is
//!   14 March" is not one); a second date later in the same sentence that a
//!   document gives instead ("… lekin certificate mein 06/03/1999") is one
//!   too. Dates in other places are not birth dates.
//! - **Names** (`names/`, word lists in `words.rs`): the names the user
//!   listed (`names/listed.rs`: whole words, any case, possessives and the
//!   German genitive "Anjas"; a run of two words of a listed name is one
//!   name, "João Pedro" of "João Pedro Almeida"; a listed full name also
//!   matches each of its parts of three letters or more that is not a
//!   common word, unless the part is inside another name, "Michael Jordan"
//!   for "Jordan Lee", a place, "Victoria, BC", "museums in Florence", "la
//!   plaza de la Victoria", or a product with its model number, "Jordan 1
//!   Retro"), and names the text introduces ("my name is …", "I'm …", "this
//!   is …" after a greeting, "Hi Tobi, hier ist …", "Hi …," starting a line
//!   or a quote, "Thanks, …" / "Sign it – …" / "Cordialement, …" / "Danke &
//!   LG" ending a line or a quote, the line after a signature's "--",
//!   "Name: …", "Legal name: …", "Surname: …" and `"name": "…"` fields,
//!   "I, …, authorize", "my (PhD) student …", "my Airbnb host …", "my
//!   colleague in São Paulo is …", "the babysitter's name is …", "meinen
//!   Sohn …", "मेरे भाई …", "je m'appelle …", "ich heiße …", "me llamo …",
//!   "meu nome é …", "मेरा नाम … है", "main … hoon", …): one to three
//!   capitalised words that are not common words, places (unless an age
//!   follows: "I'm Paris, 24"), languages, nationalities, companies ("…
//!   Ltd") or famous people and products. `names/context.rs` adds what else
//!   marks a person: a title ("Dr. Anil Patel", "Frau Wagner", "MR DAVID O.
//!   MENSAH"; not in a sentence about a book, film or quiz, nor before "by"
//!   and an author), a role in a form or a sentence ("Tenant: …",
//!   "Cardholder: …", "From: …" heading a line, "titular Rocío Navarro",
//!   "Kontoinhaberin Lena Vogt", "customer Mohammed Irfan": a full name),
//!   "under the name …", "au nom de …", ", name Tom Fairbanks", "account
//!   name Niamh & Cian Byrne", "me (Gareth Pryce)", "Sharma ji", "me and
//!   Connor", "Sam and I", a full name before its date of birth ("Nele
//!   Krüger, geboren am …"), a name the text's own e-mail address spells
//!   ("Hamid Rahimi" beside `hamid.rahimi@…`; not a department's mailbox,
//!   `sales.team@…`), the name column of a CSV table, and "नाम: …" or a
//!   Devanagari sign-off. A marker in Title Case ("I Am Sam") is a title.
//!   A name introduced once is found everywhere else in the text too (with
//!   initials before it: "R K Gupta" after "Rakesh Kumar Gupta").
//!
//! ## Overlaps
//!
//! Values checked by a checksum or a fixed shape (cards, IBANs, national
//! numbers, token secrets, e-mail, IP, phone) win over values found by a
//! marker (addresses, dates of birth, keyword secrets, names); within each
//! tier the longer wins, then the more specific kind (checksums, then
//! fixed shapes, then phone numbers). A marked value that runs into a checked one is cut where the
//! checked one starts (`I live at 12 Baker Street, 020 7946 0958`).
//!
//! ## Crates and speed
//!
//! Only `regex` (1.x, already in the lock file); the validators (Luhn,
//! mod-97 with a table of the countries' IBAN lengths, Verhoeff) are a few
//! lines each. Two crates were measured on the corpus (505 snippets, 81
//! phone numbers) and not kept:
//!
//! - `phonenumber` 0.3.10 (libphonenumber's metadata). As the only phone
//!   check over the same candidates it found 79 of 81 numbers and took 27
//!   false positives from the negatives (dates, ISBNs, order numbers,
//!   timestamps, UUID tails: any run of digits of a valid length for one of
//!   the six regions is "valid"). As a second check after `phone.rs` it
//!   removed no false positive and lost 2 true numbers (the UK's 07700 900xxx
//!   range for fiction, which libphonenumber calls invalid), for about 0.6 ms
//!   per candidate in the dev build, 16 more crates in the lock file (nom,
//!   quick-xml, postcard, strum, regex-cache, a second regex-syntax,
//!   heapless, …) and a build script that parses the XML metadata.
//! - `iban_validate` 5.0.1. The same verdict as the length table and mod-97
//!   on every IBAN of the corpus. Its per-country formats also reject about
//!   half (2,492 of 4,830) of the one-character changes that keep mod-97
//!   valid (a letter where the bank code has digits): a gain only against
//!   strings that already passed a 1-in-97 check, never seen on the corpus.
//!   Cheap (one more crate), but not needed.
//!
//! Speed: `find` on 2 KB of corpus text (dense: 45 findings) takes about
//! 0.17 ms with `regex` and this crate optimised (opt-level 3; the fastest
//! of 300 calls on the 2-core machine at load 8), and about 0.5 ms in the
//! dev build (`regex` optimised, this crate not). Names cost most (~80 µs
//! per 2 KB, ~35 µs of it the rules of `names/context.rs`), then phone
//! numbers (~25 µs), the others 2–14 µs each; the address and birth-date
//! markers first look for a key word ("live", "address", "born", "जन्म", …)
//! and skip the text without one.

mod address;
mod birth_date;
mod card;
mod email;
mod iban;
mod ip;
mod names;
mod national;
mod phone;
mod secret;
mod words;

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests;
#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests_more;

use std::sync::Arc;

/// The kinds of personal data the recognisers find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A payment card number.
    Card,
    /// An International Bank Account Number.
    Iban,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A US Social Security number.
    Ssn,
    /// A UK National Insurance number.
    UkNino,
    /// An Indian Aadhaar number.
    Aadhaar,
    /// An Indian Permanent Account Number.
    Pan,
    /// An API key, token, password or PIN.
    Secret,
    /// A street address (where the text marks it).
    Address,
    /// A date of birth (where the text marks it).
    BirthDate,
    /// A person's name (listed by the user or introduced by the text).
    Name,
}

impl PiiKind {
    /// Every kind, in order.
    pub const ALL: [PiiKind; 13] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::IpAddress,
        PiiKind::Ssn,
        PiiKind::UkNino,
        PiiKind::Aadhaar,
        PiiKind::Pan,
        PiiKind::Secret,
        PiiKind::Address,
        PiiKind::BirthDate,
        PiiKind::Name,
    ];

    /// The placeholder tag: EMAIL, PHONE, CARD, IBAN, IP, SSN, NINO,
    /// AADHAAR, PAN, SECRET, ADDRESS, DOB, NAME.
    pub fn tag(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::Card => "CARD",
            PiiKind::Iban => "IBAN",
            PiiKind::IpAddress => "IP",
            PiiKind::Ssn => "SSN",
            PiiKind::UkNino => "NINO",
            PiiKind::Aadhaar => "AADHAAR",
            PiiKind::Pan => "PAN",
            PiiKind::Secret => "SECRET",
            PiiKind::Address => "ADDRESS",
            PiiKind::BirthDate => "DOB",
            PiiKind::Name => "NAME",
        }
    }

    /// The snake_case name (as in serde): `email`, `ip_address`, …
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
            PiiKind::IpAddress => "ip_address",
            PiiKind::Ssn => "ssn",
            PiiKind::UkNino => "uk_nino",
            PiiKind::Aadhaar => "aadhaar",
            PiiKind::Pan => "pan",
            PiiKind::Secret => "secret",
            PiiKind::Address => "address",
            PiiKind::BirthDate => "birth_date",
            PiiKind::Name => "name",
        }
    }

    /// How specific a finding of this kind is, when two of the same length
    /// overlap: checksums first, then fixed shapes, then phone numbers, then
    /// marked values.
    fn specificity(self) -> u8 {
        match self {
            PiiKind::Card => 0,
            PiiKind::Iban => 1,
            PiiKind::Aadhaar => 2,
            PiiKind::Ssn => 3,
            PiiKind::UkNino => 4,
            PiiKind::Pan => 5,
            PiiKind::Secret => 6,
            PiiKind::Email => 7,
            PiiKind::IpAddress => 8,
            PiiKind::Phone => 9,
            PiiKind::BirthDate => 10,
            PiiKind::Address => 11,
            PiiKind::Name => 12,
        }
    }

    /// Values found by a marker in the text rather than by their own shape:
    /// they give way to checked values on overlap.
    fn is_marked(self) -> bool {
        matches!(self, PiiKind::Address | PiiKind::BirthDate | PiiKind::Name)
    }
}

impl std::fmt::Display for PiiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value found: `text[start..end]` (byte offsets on char boundaries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: PiiKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
}

impl Finding {
    /// The found text.
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// One candidate before overlaps are resolved: a finding and whether it
/// was found by a marker (keyword secrets are marked though their kind is
/// not).
#[derive(Debug, Clone)]
struct Candidate {
    finding: Finding,
    marked: bool,
}

/// Where the recognisers put what they find.
#[derive(Debug, Default)]
struct Found {
    candidates: Vec<Candidate>,
}

impl Found {
    /// A value checked by its shape or checksum.
    fn checked(&mut self, kind: PiiKind, start: usize, end: usize) {
        if start < end {
            self.candidates.push(Candidate { finding: Finding { kind, start, end }, marked: kind.is_marked() });
        }
    }

    /// A value found because the text marks it.
    fn marked(&mut self, kind: PiiKind, start: usize, end: usize) {
        if start < end {
            self.candidates.push(Candidate { finding: Finding { kind, start, end }, marked: true });
        }
    }
}

/// The recognisers, compiled once (regexes in statics, the listed names in
/// the struct), configured with the names the user listed in Settings.
/// Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone, Default)]
pub struct Recogniser {
    listed: Arc<names::Listed>,
}

impl Recogniser {
    /// Recognisers that also find the given names (full names, and each part
    /// of three letters or more that is not a common word).
    pub fn new(listed_names: &[String]) -> Self {
        Recogniser { listed: Arc::new(names::Listed::new(listed_names)) }
    }

    /// Every value found, sorted by start, not overlapping (on overlap the
    /// checked value wins over the marked one, then the longer, then the
    /// more specific kind).
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut found = Found::default();
        email::find(text, &mut found);
        card::find(text, &mut found);
        iban::find(text, &mut found);
        ip::find(text, &mut found);
        national::find(text, &mut found);
        phone::find(text, &mut found);
        secret::find(text, &mut found);
        address::find(text, &mut found);
        birth_date::find(text, &mut found);
        names::find_introduced(text, &mut found);
        self.listed.find(text, &mut found);
        resolve(text, found.candidates)
    }
}

/// Sorts the candidates and drops overlaps (see the module docs).
fn resolve(text: &str, mut candidates: Vec<Candidate>) -> Vec<Finding> {
    candidates.sort_by(|a, b| {
        let (fa, fb) = (&a.finding, &b.finding);
        a.marked
            .cmp(&b.marked)
            .then((fb.end - fb.start).cmp(&(fa.end - fa.start)))
            .then(fa.kind.specificity().cmp(&fb.kind.specificity()))
            .then(fa.start.cmp(&fb.start))
    });
    let mut kept: Vec<Finding> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let mut finding = candidate.finding;
        if candidate.marked {
            // Cut a marked value where a checked value inside it starts.
            if let Some(first) =
                kept.iter().filter(|k| k.start > finding.start && k.start < finding.end).map(|k| k.start).min()
            {
                finding.end = trim_end(text, finding.start, first);
            }
        }
        if finding.start >= finding.end {
            continue;
        }
        if kept.iter().any(|k| k.start < finding.end && finding.start < k.end) {
            continue;
        }
        kept.push(finding);
    }
    kept.sort_by_key(|f| (f.start, f.end));
    kept
}

/// `end` moved back over whitespace and punctuation, not before `start`.
fn trim_end(text: &str, start: usize, end: usize) -> usize {
    let slice = text.get(start..end).unwrap_or("");
    let trimmed = slice.trim_end_matches(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != ')'));
    start + trimmed.len()
}

// ---------------------------------------------------------------------------
// Helpers shared by the recognisers
// ---------------------------------------------------------------------------

/// Words before a run of digits that make it some other number.
const OTHER_NUMBER_WORDS: &[&str] = &[
    "order",
    "invoice",
    "tracking",
    "track",
    "ref",
    "reference",
    "ticket",
    "isbn",
    "sku",
    "serial",
    "part",
    "model",
    "version",
    "build",
    "case",
    "claim",
    "policy",
    "booking",
    "pnr",
    "awb",
    "shipment",
    "parcel",
    "consignment",
    "transaction",
    "txn",
    "id",
    "bestellung",
    "bestellnummer",
    "rechnung",
    "rechnungsnummer",
    "sendungsnummer",
    "kundennummer",
    "commande",
    "facture",
    "colis",
    "pedido",
    "factura",
    "fatura",
    "referencia",
    "referência",
    "référence",
    "referenz",
    "envío",
    "seguimiento",
    "rastreio",
    "protocolo",
    "ean",
    "upc",
    "gtin",
    "imei",
    "account",
    "acct",
    "konto",
    "compte",
    "cuenta",
    "conta",
];

/// The char just before byte offset `at`.
fn char_before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|s| s.chars().next_back())
}

/// The char at byte offset `at`.
fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|s| s.chars().next())
}

/// The two chars just before `at` (nearest first).
fn two_before(text: &str, at: usize) -> (Option<char>, Option<char>) {
    let mut chars = text.get(..at).unwrap_or("").chars().rev();
    (chars.next(), chars.next())
}

/// The two chars from `at` on.
fn two_after(text: &str, at: usize) -> (Option<char>, Option<char>) {
    let mut chars = text.get(at..).unwrap_or("").chars();
    (chars.next(), chars.next())
}

/// Whether `c` is a letter, digit or underscore (part of a word or code
/// identifier).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a value at `start..end` stands on its own: not glued to a word
/// or to a longer run of digits joined by `.`, `-`, `/`, `_`. A comma next
/// to it separates it from the next field of a row (`1,4201986039547624`,
/// `Kevin Osei,371-52-8846,2021-03-15`): the values checked this way (cards,
/// national numbers) hold no comma, so they are never a part of `1,234,567`.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    match two_before(text, start) {
        (Some(c), _) if is_word(c) => return false,
        (Some('.' | '-' | '/' | '_' | '#' | '@' | '$' | '€' | '£' | '¥' | '₹' | '\\' | '&' | '='), Some(d))
            if is_word(d) =>
        {
            return false;
        }
        _ => {}
    }
    match two_after(text, end) {
        (Some(c), _) if is_word(c) => false,
        (Some('.' | '-' | '/' | '_' | ':' | '@' | '\\' | '='), Some(d)) if is_word(d) => false,
        _ => true,
    }
}

/// The text of the `max` bytes before `at` (on a char boundary), lowercase.
fn context_before(text: &str, at: usize, max: usize) -> String {
    let mut from = at.saturating_sub(max);
    while from > 0 && !text.is_char_boundary(from) {
        from -= 1;
    }
    text.get(from..at).unwrap_or("").to_lowercase()
}

/// The text of the `max` bytes after `at` (on a char boundary), lowercase.
fn context_after(text: &str, at: usize, max: usize) -> String {
    let mut to = (at + max).min(text.len());
    while to < text.len() && !text.is_char_boundary(to) {
        to += 1;
    }
    text.get(at..to).unwrap_or("").to_lowercase()
}

/// Whether one of `words` occurs in `context` as a whole word (letters on
/// neither side; a word ending in a non-letter, such as "tel.", only needs
/// the left side).
fn has_word(context: &str, words: &[&str]) -> bool {
    words.iter().any(|word| {
        context.match_indices(word).any(|(at, _)| {
            let before_ok = context[..at].chars().next_back().is_none_or(|c| !c.is_alphabetic());
            let after = context[at + word.len()..].chars().next();
            let after_ok = after.is_none_or(|c| !c.is_alphabetic())
                || word.chars().next_back().is_some_and(|c| !c.is_alphabetic());
            before_ok && after_ok
        })
    })
}

/// One regex that says whether a text has one of `words` as a whole word
/// (as [`has_word`], compiled once: faster on hot paths).
fn word_list(words: &[&str]) -> Option<regex::Regex> {
    let mut words: Vec<&str> = words.to_vec();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let (letter_end, other_end): (Vec<&str>, Vec<&str>) =
        words.into_iter().partition(|w| w.chars().next_back().is_some_and(char::is_alphabetic));
    let join = |list: Vec<&str>| list.iter().map(|w| regex::escape(w)).collect::<Vec<_>>().join("|");
    let mut pattern = format!(r"(?i)(?:^|[^\p{{L}}])(?:(?:{})(?:$|[^\p{{L}}])", join(letter_end));
    if !other_end.is_empty() {
        pattern.push_str(&format!("|{}", join(other_end)));
    }
    pattern.push(')');
    regex::Regex::new(&pattern).ok()
}

/// The last word (letters only) before `at`, lowercase, skipping spaces and
/// the punctuation `: # . - ( "`.
fn word_before(text: &str, at: usize) -> String {
    let head = text.get(..at).unwrap_or("");
    let head = head.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '#' | '.' | '-' | '(' | '"'));
    let start = head.char_indices().rev().take_while(|(_, c)| c.is_alphabetic()).last().map_or(head.len(), |(i, _)| i);
    head[start..].to_lowercase()
}
