//! Secrets: API keys and tokens of well-known shapes, the value after a
//! password, PIN or code word ("door code is 4471", "OTP 739104"), and the
//! codes listed after "backup codes:". (Words that are no value after a
//! password word: `values.rs`.)

use std::sync::LazyLock;

use regex::Regex;

mod values;

use values::NOT_A_VALUE;

use super::{Found, PiiKind, char_at, has_word, is_word, two_before, word_before};

/// Tokens whose shape gives them away.
static TOKEN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"sk-ant-[A-Za-z0-9_\-]{20,}",
        r"|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
        r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}",
        r"|gh[pousr]_[A-Za-z0-9]{30,}",
        r"|github_pat_[A-Za-z0-9_]{22,}",
        r"|glpat-[A-Za-z0-9_\-]{20,}",
        r"|xox[abposr]-[A-Za-z0-9\-]{10,}",
        r"|(?:AKIA|ASIA)[A-Z0-9]{16}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|hf_[A-Za-z0-9]{30,}",
        r"|npm_[A-Za-z0-9]{36}",
        r"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",
        r"|eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"|(?i:bearer)\s+[A-Za-z0-9\-._~+/]{16,}=*",
    ))
    .ok()
});

/// A password or PIN word, then how the value is introduced.
static KEYWORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?P<word>passwords?|passwd|pwd|pass ?phrase|passcode|pass code|(?:code )?pin(?: code| number|-code)?",
        r"|api[ _-]?key|access[ _-]?token|auth[ _-]?token|client[ _-]?secret|secret[ _-]?key|token|secret",
        r"|mot de passe|mdp|code secret|passwort|kennwort|geheimzahl|contraseña|contrasena|clave|senha",
        r"|पासवर्ड|पिन",
        // Codes that open something: "door code is 4471", "OTP 739104".
        r"|(?:door|gate|locker|lock|unlock|alarm|safe|garage|building|entry|access|security|verification",
        r"|confirmation|one[ -]time|login|bike|padlock)[ -]code|digicode|otp|code)",
        // "Mon mot de passe Netflix est …": the service it opens.
        r"(?P<service>(?-i:\s+\p{Lu}[\p{L}0-9]+))?",
        // "password for the wifi:", "clave del wifi del piso:", "Passwort für das WLAN:"
        r"(?P<of>\s+(?:for|of|to|on|del|de|de la|do|da|für|vom|zum|du|की|का)(?:\s+(?:the|my|our|la|el|das|die|den|le|o|a|mi|mon|ma|meu|minha|mein|meine))?(?:\s+[\p{L}\-'’]+){1,3})?",
        r#"["']?(?P<sep>\s*(?::=|=>|[:=]|->)\s*|\s+(?:ist|is|was|est|c['’]est|lautet|es|era|é|eh|हैं|है)(?:\s*:\s*|\s+)|\s+)"#,
    ))
    .ok()
});

/// Whether a value after a password word is code or a placeholder rather
/// than a password.
fn looks_like_code(value: &str) -> bool {
    let placeholder = value.chars().all(|c| matches!(c, '*' | 'x' | 'X' | '•' | '.' | '…' | '?' | '#'))
        || value.starts_with(['<', '{', '$', '%', '[', '('])
        || value.to_lowercase().contains("your")
        || value.to_lowercase().starts_with("example");
    // A type in code: `Option<Instant>`, `&str`, `token::LlamaToken`.
    let type_like = value.starts_with(['&', ':'])
        || value.contains("::")
        || (value.ends_with('>') && value.split_once('<').is_some_and(|(name, _)| name.chars().all(is_word)));
    let code = type_like
        || value.contains(['(', ')', '[', ']', '{', '}', ';'])
        || value.ends_with(',')
        || is_code_path(value)
        || (value.contains('_') && value.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        // A constant's name: `API_KEY_FROM_ENV`.
        || (value.contains('_')
            && value.starts_with(|c: char| c.is_ascii_uppercase())
            && value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
    placeholder || code
}

/// Whether a capital letter follows a lowercase one ("CasaAzul").
fn has_inner_upper(value: &str) -> bool {
    value.chars().skip(1).any(char::is_uppercase) && value.chars().any(char::is_lowercase)
}

/// `os.environ`, `self.password`, `config.db.pass`.
fn is_code_path(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The value after a password word, from `at`: a quoted string or the next
/// run of non-space characters without trailing punctuation.
fn value_at(text: &str, at: usize) -> Option<(usize, usize, bool)> {
    let open = char_at(text, at)?;
    let close = match open {
        '"' => Some('"'),
        '\'' => Some('\''),
        '`' => Some('`'),
        '“' => Some('”'),
        '«' => Some('»'),
        _ => None,
    };
    if let Some(close) = close {
        let start = at + open.len_utf8();
        let rest = &text[start..];
        let len = rest.find(close)?;
        let value = &rest[..len];
        if value.trim().is_empty() || value.contains('\n') || value.chars().count() > 100 {
            return None;
        }
        // « Cerisier#77 »: the spaces inside the quotes are not part of it.
        let start = start + (value.len() - value.trim_start().len());
        return Some((start, start + value.trim().len(), true));
    }
    let rest = &text[at..];
    let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let token = rest[..len].trim_end_matches(['.', ',', ';', ':', ')', ']', '}', '"', '\'', '”', '»', '`']);
    if token.is_empty() { None } else { Some((at, at + token.len(), false)) }
}

/// Articles right before a plain "code" of a lock or a door ("the code of
/// my lock", "le code de mon cadenas").
const CODE_ARTICLES: &[&str] = &["the", "le", "el", "o", "der", "das", "la", "", "mein", "my", "mon", "mi", "meu"];

/// Possessives in "le code de mon cadenas", "the code of my lock".
const POSSESSIVES: &[&str] =
    &["my", "our", "mon", "ma", "notre", "mi", "nuestro", "nuestra", "meu", "minha", "mein", "meine"];

/// Whether a value after a code word looks like a code: 4 to 12 letters,
/// digits and single dashes, at least 3 digits (`4471`, `1-8-2-4`, `47B09`).
fn is_code_value(value: &str) -> bool {
    let length = value.chars().count();
    (4..=12).contains(&length)
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--")
        && value.chars().filter(char::is_ascii_digit).count() >= 3
}

/// Words of a sentence about a place, before a "pin code".
const POSTAL_WORDS: &[&str] = &[
    "deliver",
    "delivery",
    "address",
    "area",
    "city",
    "town",
    "village",
    "district",
    "post",
    "postal",
    "courier",
    "ship",
    "shipping",
    "located",
    "location",
    "pata",
    "पता",
    "pincode",
];

/// Whether six digits after "pin code" at `at` are an Indian postal code:
/// first digit 1–8, and a place word in the sentence before or a place
/// name and a comma right before ("Bangalore, pin code 560034").
fn is_postal_pin(text: &str, at: usize, value: &str) -> bool {
    if value.len() != 6 || !value.starts_with(['1', '2', '3', '4', '5', '6', '7', '8']) {
        return false;
    }
    let head = &text[..at];
    let sentence = head.rfind(['.', '!', '?', '\n']).map_or(head, |i| &head[i + 1..]);
    let after_place = head.trim_end().strip_suffix(',').is_some_and(|h| {
        h.rsplit(|c: char| !c.is_alphabetic()).next().is_some_and(|w| w.starts_with(char::is_uppercase))
    });
    after_place || has_word(&sentence.to_lowercase(), POSTAL_WORDS)
}

/// Verbs that end a "password for the wifi is" phrase ("El PIN de mi
/// tarjeta es 7710").
const COPULAS: &[&str] = &["is", "was", "es", "era", "est", "ist", "war", "lautet", "é", "eh", "है"];

fn find_keyword_values(text: &str, found: &mut Found) {
    let Some(re) = KEYWORD.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let (Some(word), Some(sep)) = (caps.name("word"), caps.name("sep")) else { continue };
        if two_before(text, word.start()).0.is_some_and(is_word) {
            continue;
        }
        if char_at(text, word.end()).is_some_and(is_word) {
            continue;
        }
        // `"API_KEY"\n android:value=…`: a quoted key needs ":" or "=".
        let key_end = caps.name("of").map_or(word.end(), |of| of.end());
        if key_end < sep.start() && sep.as_str().trim().is_empty() {
            continue;
        }
        let Some((start, end, quoted)) = value_at(text, sep.end()) else { continue };
        let value = &text[start..end];
        // Sentence punctuation is kept in the value but says nothing about it.
        let bare = value.trim_end_matches(['!', '?']);
        let lower = bare.to_lowercase();
        let word = word.as_str().to_lowercase();
        // The phrase after the word may end with the verb ("PIN de mi
        // tarjeta es 7710"): then the verb introduces the value.
        let of = caps.name("of").map(|of| of.as_str().to_lowercase());
        let of_copula =
            of.as_deref().and_then(|of| of.split_whitespace().next_back()).is_some_and(|w| COPULAS.contains(&w));
        let sep = if of_copula && sep.as_str().trim().is_empty() { "is" } else { sep.as_str().trim() };
        let explicit = matches!(sep, ":" | "=" | ":=" | "=>" | "->");
        let pin_word = word.contains("pin") || word == "पिन" || word == "geheimzahl";
        let code_word = !pin_word && (word.ends_with("code") || word == "otp");
        // "code" alone is any code; "le code de mon cadenas" is a lock's, "the
        // error code of my app" an error's.
        if word == "code"
            && (!of.as_deref().is_some_and(|of| of.split_whitespace().any(|w| POSSESSIVES.contains(&w)))
                || !CODE_ARTICLES.contains(&word_before(text, caps.get(0).map_or(0, |m| m.start())).as_str()))
        {
            continue;
        }
        if (of.is_some() || caps.name("service").is_some()) && sep.is_empty() && !(pin_word || code_word) {
            continue; // "password for the wifi works": a value needs ":" or "is"
        }
        let has_digit = value.chars().any(|c| c.is_numeric());
        let has_symbol = bare.chars().any(|c| !c.is_alphanumeric());
        let refused = if pin_word {
            // A PIN is 4 to 8 digits; six after "pin code" near a place are
            // an Indian postal code ("Deliver to Bangalore, pin code 560034").
            let digits = value.chars().all(|c| c.is_ascii_digit()) && (4..=8).contains(&value.len());
            !digits
                || sep.is_empty() && word == "pin"
                || is_postal_pin(text, caps.get(0).map_or(0, |m| m.start()), value)
        } else if code_word {
            !is_code_value(value)
        } else {
            let length = value.chars().count();
            !(4..=128).contains(&length)
                || (!quoted && (NOT_A_VALUE.contains(&lower.as_str()) || looks_like_code(value)))
                || (quoted && looks_like_code(value) && !has_digit)
                // "password reset", "mot de passe est trop faible": without
                // ":" a value needs a digit, a symbol or a capital inside.
                || (!explicit && !quoted && !has_digit && !has_symbol && !has_inner_upper(value))
                || ((word == "token" || word == "secret") && !explicit && !quoted)
        };
        if !refused {
            found.marked(PiiKind::Secret, start, end);
        }
    }
}

/// A config key, then `=`, `:`, `:=` or `=>` (`POSTGRES_PASSWORD=…`,
/// `aws_secret_access_key = …`, `"client_secret": "…"`, `PrivateKey = …`).
static CONFIG_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?m)(?:^|[\s"'{,;(?&])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*(?P<sep>:=|=>|=|:)[ \t]*"#).ok()
});

/// The password in a URL: `scheme://user:PASSWORD@host`.
static URL_PASSWORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)[a-z][a-z0-9+.\-]*://[^\s:/@]*:(?P<password>[^\s/@]+)@[\p{L}0-9\[]").ok()
});

/// Last words of a config key that name a secret (`POSTGRES_PASSWORD`,
/// `SMTP_PASS`, `GITHUB_TOKEN`, `client_secret`).
const SECRET_KEY_WORDS: &[&str] = &["password", "passwd", "pwd", "pass", "passphrase", "passcode", "secret", "token"];

/// Last two words of a config key that name a secret (`PrivateKey`,
/// `stripe.api_key`).
const SECRET_KEY_PAIRS: &[(&str, &str)] = &[
    ("private", "key"),
    ("api", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("auth", "key"),
];

/// The lowercase words of a config key: split at `_`, `-`, `.` and where a
/// capital follows a small letter (`PrivateKey` → private, key).
fn key_words(key: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        let separator = matches!(c, '_' | '-' | '.');
        if (separator || (c.is_uppercase() && previous_lower)) && !current.is_empty() {
            words.push(std::mem::take(&mut current).to_lowercase());
        }
        previous_lower = c.is_lowercase();
        if !separator {
            current.push(c);
        }
    }
    if !current.is_empty() {
        words.push(current.to_lowercase());
    }
    words
}

/// Whether a config key of two words or more names a secret: it ends with
/// a secret word or pair, or with "key" after "secret"
/// (`aws_secret_access_key`). Keys about a secret (`PASSWORD_MIN_LENGTH`,
/// `token_url`, `max_tokens`) do not; one word ("password:") is the
/// keyword rule's.
fn is_secret_key(key: &str) -> bool {
    let words = key_words(key);
    let (Some(last), true) = (words.last(), words.len() >= 2) else { return false };
    let before_last = &words[words.len() - 2];
    SECRET_KEY_WORDS.contains(&last.as_str())
        || SECRET_KEY_PAIRS.contains(&(before_last.as_str(), last.as_str()))
        || (last == "key" && words.iter().any(|w| w == "secret"))
}

/// Values of config keys that name a secret.
fn find_config_values(text: &str, found: &mut Found) {
    let Some(re) = CONFIG_KEY.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let (Some(key), Some(sep), Some(all)) = (caps.name("key"), caps.name("sep"), caps.get(0)) else { continue };
        if !is_secret_key(key.as_str()) || text[sep.end()..].starts_with(['=', '>']) {
            continue; // "if password == stored"
        }
        if text[..key.start()].ends_with("${") {
            continue; // `${POSTGRES_PASSWORD:?err}`, `${DB_PASS:-secret}`: a shell default, a placeholder
        }
        let Some((start, end, quoted)) = value_at(text, all.end()) else { continue };
        // In a query string the value ends at the next parameter.
        let end = if text[..key.start()].ends_with(['?', '&']) && !quoted {
            text[start..end].find('&').map_or(end, |i| start + i)
        } else {
            end
        };
        let value = &text[start..end];
        let lower = value.to_lowercase();
        // Unquoted, a word of letters only is a type or a name in code
        // (`first_token: Distribution`, `first_pass: done`), not a secret.
        let plain = value.chars().all(char::is_alphabetic);
        let refused = !(4..=256).contains(&value.chars().count())
            || NOT_A_VALUE.contains(&lower.as_str())
            || lower == key.as_str().to_lowercase()
            || looks_like_code(value)
            || (plain && !quoted);
        if !refused {
            found.marked(PiiKind::Secret, start, end);
        }
    }
}

/// Passwords in URLs, unless a placeholder (`postgres://user:password@…`,
/// `${DB_PASS}`).
fn find_url_passwords(text: &str, found: &mut Found) {
    if !text.contains("://") {
        return;
    }
    let Some(re) = URL_PASSWORD.as_ref() else { return };
    for caps in re.captures_iter(text) {
        let Some(password) = caps.name("password") else { continue };
        let value = password.as_str();
        let lower = value.to_lowercase();
        let placeholder =
            ["password", "pass", "passwd", "pwd", "pw", "secret", "token", "changeme", "user", "username"]
                .contains(&lower.as_str())
                || looks_like_code(value);
        if !placeholder {
            found.checked(PiiKind::Secret, password.start(), password.end());
        }
    }
}

/// "backup codes …: 7hq2-9xkd, p4m1-8zvn": the list of one-time codes after
/// a colon in the same sentence.
static CODE_LIST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)(?:backup|recovery|2fa|one[ -]time|scratch)\s+codes(?-u:\b)[^.!?\n:]{0,60}:[ \t]*").ok()
});

/// Each code of a list after "backup codes …:", while the list goes on.
fn find_code_lists(text: &str, found: &mut Found) {
    let Some(re) = CODE_LIST.as_ref() else { return };
    for m in re.find_iter(text) {
        let mut at = m.end();
        loop {
            let rest = &text[at..];
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
            let code = &rest[..len];
            let letters_and_digits =
                code.chars().any(|c| c.is_ascii_digit()) && code.chars().any(|c| c.is_ascii_alphabetic());
            if !(6..=24).contains(&len)
                || !(letters_and_digits || code.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
            {
                break;
            }
            found.marked(PiiKind::Secret, at, at + len);
            let next = &rest[len..];
            let skip = next.len() - next.trim_start_matches([',', ';', ' ', '\t']).len();
            if skip == 0 {
                break;
            }
            at += len + skip;
        }
    }
}

pub(super) fn find(text: &str, found: &mut Found) {
    if let Some(re) = TOKEN.as_ref() {
        for m in re.find_iter(text) {
            let mut start = m.start();
            if two_before(text, start).0.is_some_and(|c| is_word(c) || c == '-') && !m.as_str().starts_with('-') {
                continue;
            }
            if m.as_str().get(..6).is_some_and(|p| p.eq_ignore_ascii_case("bearer")) {
                start += m.as_str()[6..].len() - m.as_str()[6..].trim_start().len() + 6;
            }
            found.checked(PiiKind::Secret, start, m.end());
        }
    }
    find_keyword_values(text, found);
    find_config_values(text, found);
    find_url_passwords(text, found);
    find_code_lists(text, found);
}
