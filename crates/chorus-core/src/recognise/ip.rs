//! IPv4 and IPv6 addresses.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use super::{Found, PiiKind, context_before, has_word, two_after, two_before, word_before};

/// Four numbers of 1–3 digits joined by dots.
static V4: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}").ok());

/// Hex groups joined by colons (at least two colons), possibly ending in an
/// IPv4 address.
static V6: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i-u)(?:[0-9a-f]{1,4}|:)?(?::[0-9a-f]{0,4}){2,8}(?:\.[0-9]{1,3}){0,3}(?:%[a-z0-9]+)?").ok()
});

/// Words that make a dotted number a version: right before it ("kernel
/// 5.15.0.105", "driver 2.1.0.3"), or ending a word right before it
/// ("Vorgängerrelease 3.2.0.9").
const VERSION_WORDS: &[&str] = &[
    "version", "versión", "versão", "ver", "v", "release", "build", "firmware", "update", "patch", "oid", "sdk", "api",
    "tag", "kernel", "driver", "branch", "upgrade",
];

/// Words right after a dotted number that make it a version ("the 3.0.0.6
/// branch").
const VERSION_AFTER: &[&str] =
    &["branch", "release", "build", "version", "kernel", "driver", "firmware", "update", "patch", "beta", "rc"];

/// Words of a sentence about versions.
const VERSION_TALK: &[&str] = &[
    "version",
    "versions",
    "release",
    "build",
    "firmware",
    "rollback",
    "roll back",
    "downgrade",
    "upgrade",
    "upgrading",
    "upgraded",
    "update",
    "updated",
    "updating",
    "aktualisiert",
    "driver",
    "kernel",
    "branch",
    "tag",
    "tagged",
    "image tag",
];

/// Words of a sentence about networks.
const NETWORK_TALK: &[&str] = &[
    "ip",
    "ipv4",
    "server",
    "host",
    "address",
    "ping",
    "ssh",
    "router",
    "subnet",
    "dns",
    "gateway",
    "from",
    "connect",
    "firewall",
    "vpn",
    "proxy",
    "allow",
    "deny",
    "block",
    "ban",
    "allowlist",
    "whitelist",
    "blocklist",
    "blacklist",
];

/// Addresses that say nothing about a person: unspecified, loopback,
/// broadcast and netmasks.
fn is_impersonal_v4(ip: Ipv4Addr) -> bool {
    let [a, ..] = ip.octets();
    ip.is_unspecified() || ip.is_loopback() || ip.is_broadcast() || a == 255
}

fn v4_at(text: &str, start: usize, end: usize) -> bool {
    let Ok(ip) = text[start..end].parse::<Ipv4Addr>() else { return false };
    if is_impersonal_v4(ip) {
        return false;
    }
    // Not part of a longer dotted run (1.2.3.4.5) or a word (v1.2.3.4).
    match two_before(text, start) {
        (Some(c), _) if c.is_alphanumeric() || c == '_' => return false,
        (Some('.' | '-'), Some(d)) if d.is_ascii_digit() => return false,
        _ => {}
    }
    if let (Some('.'), Some(d)) = two_after(text, end)
        && d.is_ascii_digit()
    {
        return false;
    }
    // "1.2.3.4-beta" is a version, "10.0.0.0/8" a network; "10.8.0.2/32"
    // and "192.168.1.20/24" are a host's address with its prefix length.
    match two_after(text, end) {
        (Some(c), _) if c.is_alphanumeric() || c == '_' => return false,
        (Some('/'), Some(d))
            if d.is_ascii_digit()
                && !is_host_with_prefix(ip, &text[end + 1..])
                && !is_public_narrow_network(ip, &text[end + 1..]) =>
        {
            return false;
        }
        (Some('-' | '/' | '+'), Some(d)) if d.is_alphanumeric() && !d.is_ascii_digit() => return false,
        (Some('-' | '+'), Some(d)) if d.is_ascii_digit() => return false,
        _ => {}
    }
    !is_version(text, start, end)
}

/// Whether the dotted number at `start..end` is a version by the words
/// around it: a version word right before it (or ending the word before
/// it), one right after it, a sentence about versions that does not speak
/// of networks, or "vs" after a version ("Kernel 5.15.0.105 vs 6.8.0.31").
fn is_version(text: &str, start: usize, end: usize) -> bool {
    let before = word_before(text, start);
    let compound = ["version", "release", "firmware", "update", "kernel"]
        .iter()
        .any(|w| before.len() > w.len() + 3 && before.ends_with(w));
    if VERSION_WORDS.contains(&before.as_str())
        || compound
        || has_word(&context_before(text, start, 12), &["version", "v"])
    {
        return true;
    }
    let after: String =
        text[end..].trim_start().chars().take_while(|c| c.is_alphabetic()).collect::<String>().to_lowercase();
    if VERSION_AFTER.contains(&after.as_str()) {
        return true;
    }
    if before == "vs" || before == "versus" {
        // The dotted number before "vs" decides.
        let head = text[..start].trim_end_matches(|c: char| c.is_whitespace() || c == '.');
        let head = head[..head.len().saturating_sub(before.len())].trim_end();
        let from = head
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        if head[from..].matches('.').count() >= 2 && is_version(text, from, head.len()) {
            return true;
        }
    }
    // "Version 3.4.5.6 broke the build; roll back to 3.4.5.5": in a sentence
    // about versions, a dotted quad is one, unless it speaks of networks.
    let near = context_before(text, start, 48);
    has_word(&near, VERSION_TALK) && !has_word(&near, NETWORK_TALK)
}

/// Whether `ip` followed by `/` and `prefix` is a narrow network of
/// public addresses (a /16 or narrower, not private, shared, link-local or
/// multicast): "allow from 198.51.100.0/24" names the few machines of one
/// home or office, "10.0.0.0/8" nobody.
fn is_public_narrow_network(ip: Ipv4Addr, prefix: &str) -> bool {
    let digits: String = prefix.chars().take_while(char::is_ascii_digit).collect();
    let Ok(length) = digits.parse::<u32>() else { return false };
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    (16..=32).contains(&length) && !ip.is_private() && !ip.is_link_local() && !ip.is_multicast() && !shared && a != 0
}

/// Whether `ip` followed by `/` and `prefix` (its digits) is a host inside
/// a network rather than the network: a /32, or host bits that are not all
/// zero.
fn is_host_with_prefix(ip: Ipv4Addr, prefix: &str) -> bool {
    let digits: String = prefix.chars().take_while(char::is_ascii_digit).collect();
    if prefix[digits.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '.' || c == '/') {
        return false;
    }
    let Ok(length) = digits.parse::<u32>() else { return false };
    if !(8..=32).contains(&length) {
        return false;
    }
    let host_bits = u32::MAX.checked_shr(length).unwrap_or(0);
    length == 32 || u32::from(ip) & host_bits != 0
}

fn v6_at(text: &str, start: usize, end: usize) -> bool {
    let value = &text[start..end];
    let address = value.split('%').next().unwrap_or("");
    let Ok(ip) = address.parse::<Ipv6Addr>() else { return false };
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // Enough of an address to be one: a digit and four hex digits or more
    // (`a::b` in code is not an address).
    if !address.chars().any(|c| c.is_ascii_digit()) || address.chars().filter(char::is_ascii_hexdigit).count() < 4 {
        return false;
    }
    if two_before(text, start).0.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
        return false;
    }
    !text[end..].starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
}

pub(super) fn find(text: &str, found: &mut Found) {
    if let Some(re) = V4.as_ref() {
        for m in re.find_iter(text) {
            if v4_at(text, m.start(), m.end()) {
                found.checked(PiiKind::IpAddress, m.start(), m.end());
            }
        }
    }
    if text.matches(':').nth(1).is_none() {
        return;
    }
    if let Some(re) = V6.as_ref() {
        for m in re.find_iter(text) {
            let (mut start, mut end) = (m.start(), m.end());
            // A port or a sentence may follow ("[2001:db8::1]:8080").
            let value = m.as_str();
            if value.starts_with(':') && !value.starts_with("::") {
                start += 1;
            }
            while end > start && text[..end].ends_with(':') && !text[..end].ends_with("::") {
                end -= 1;
            }
            if v6_at(text, start, end) {
                // A zone ("fe80::1%en0") names the interface, not the address.
                let end = text[start..end].find('%').map_or(end, |i| start + i);
                found.checked(PiiKind::IpAddress, start, end);
            }
        }
    }
}
