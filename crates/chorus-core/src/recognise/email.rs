//! E-mail addresses.

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, PiiKind};

/// `local@domain.tld`: the local part of letters, digits and `._%+-'`, the
/// domain of labels joined by dots, a top-level domain of 2–24 letters.
static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"[\p{L}\p{N}_%+'-]+(?:\.[\p{L}\p{N}_%+'-]+)*@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+\p{L}{2,24}",
    )
    .ok()
});

/// Top-level domains that are file extensions: `icon@2x.png` is a file.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "js", "ts", "css", "html", "json", "txt", "mp4",
    "mp3", "wav", "zip", "gz", "tar", "py", "rs",
];

/// Local parts of service addresses that are not a person's (`git@github.com`).
const SERVICE_LOCAL_PARTS: &[&str] = &["git"];

/// Top-level domains reserved so that no mailbox can exist under them
/// (RFC 2606, RFC 6761): an address there is a placeholder.
const RESERVED_TLDS: &[&str] = &["test", "invalid", "example", "localhost"];

/// Second-level domains reserved for examples (RFC 2606).
const EXAMPLE_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

/// Local parts that name no one: with an example domain
/// (`example@example.com`, `test@example.org`) the address is a placeholder.
/// (`priya.raman@example.com` still looks like someone's: found.)
const PLACEHOLDER_LOCAL_PARTS: &[&str] = &[
    "example",
    "test",
    "tester",
    "sample",
    "demo",
    "dummy",
    "foo",
    "bar",
    "foobar",
    "placeholder",
    "someone",
    "somebody",
    "nobody",
    "noreply",
    "no-reply",
    "yourname",
    "your.name",
    "your-name",
    "youremail",
    "your.email",
    "email",
    "mail",
    "name",
];

/// Whether an address is a placeholder on a reserved domain: any address
/// under `.test`, `.invalid`, `.example`, `.localhost`, and a placeholder
/// local part at `example.com`, `.net` or `.org`.
fn is_reserved(local: &str, domain: &str) -> bool {
    let domain = domain.to_lowercase();
    let tld = domain.rsplit('.').next().unwrap_or("");
    RESERVED_TLDS.contains(&tld)
        || (EXAMPLE_DOMAINS.contains(&domain.as_str())
            && PLACEHOLDER_LOCAL_PARTS.contains(&local.to_lowercase().as_str()))
}

/// Whether `at` is inside the part of a URL before its host
/// (`scheme://user:password@host`): after "://" in the same run of
/// non-space characters, with no "/" since.
fn in_url_authority(text: &str, at: usize) -> bool {
    let head = &text[..at];
    let from = head.char_indices().rev().find(|(_, c)| c.is_whitespace()).map_or(0, |(i, c)| i + c.len_utf8());
    let token = &head[from..];
    token.rfind("://").is_some_and(|i| !token[i + 3..].contains('/'))
}

pub(super) fn find(text: &str, found: &mut Found) {
    if !text.contains('@') {
        return;
    }
    let Some(re) = EMAIL.as_ref() else { return };
    for m in re.find_iter(text) {
        let (mut start, end) = (m.start(), m.end());
        // A quote may open the address ('x@y.z'): not part of it.
        while text[start..].starts_with(['\'', '-', '+']) {
            start += 1;
        }
        if in_url_authority(text, start) {
            continue; // user@host or user:password@host in a URL is a login, not a mailbox
        }
        let value = &text[start..end];
        let Some((local, domain)) = value.split_once('@') else { continue };
        if local.is_empty() || SERVICE_LOCAL_PARTS.contains(&local) {
            continue;
        }
        let tld = domain.rsplit('.').next().unwrap_or("").to_lowercase();
        if FILE_EXTENSIONS.contains(&tld.as_str()) || is_reserved(local, domain) {
            continue;
        }
        if text[end..].starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        found.checked(PiiKind::Email, start, end);
    }
}
