//! Which URLs a download may fetch and which redirects it may follow, pure:
//! `https://` anywhere, plain `http://` only to this machine (a loopback
//! host: `localhost`, `127.0.0.0/8`, `[::1]`), at most
//! [`MAX_REDIRECTS`] redirects, and never from `https://` down to `http://`.

use std::fmt;

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Redirects one download request may follow.
pub const MAX_REDIRECTS: usize = 5;

/// Why a URL or a redirect is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Neither `https://` nor `http://` to a loopback host.
    NotHttps,
    /// `http://` after `https://` earlier in the chain.
    Downgrade,
    /// More than [`MAX_REDIRECTS`] redirects.
    TooMany,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHttps => f.write_str(
                "only https:// is allowed (plain http:// only to this machine: localhost, 127.0.0.1, [::1])",
            ),
            Self::Downgrade => f.write_str("it goes from https:// down to plain http://"),
            Self::TooMany => write!(f, "more than {MAX_REDIRECTS} redirects"),
        }
    }
}

/// A refused redirect, as the HTTP client carries it back to us: the URL it
/// pointed to and why it was not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RedirectRefusal {
    pub(super) to: String,
    pub(super) refusal: Refusal,
}

impl fmt::Display for RedirectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect to {} refused: {}", self.to, self.refusal)
    }
}

impl std::error::Error for RedirectRefusal {}

/// Whether `url` names this machine: `localhost` (or a name under it),
/// an address in `127.0.0.0/8`, or `::1`.
pub(super) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let bare = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
    if let Ok(address) = bare.parse::<std::net::IpAddr>() {
        return address.is_loopback();
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether a download may fetch `url`: `https://`, or `http://` to a
/// loopback host.
pub(super) fn check_url(url: &Url) -> Result<(), Refusal> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(Refusal::NotHttps),
    }
}

/// Whether a redirect to `next` may be followed after the requests to
/// `previous` (the first URL and every redirect followed so far).
pub(super) fn check_redirect(previous: &[Url], next: &Url) -> Result<(), Refusal> {
    if previous.len() > MAX_REDIRECTS {
        return Err(Refusal::TooMany);
    }
    check_url(next)?;
    if next.scheme() != "https" && previous.iter().any(|url| url.scheme() == "https") {
        return Err(Refusal::Downgrade);
    }
    Ok(())
}

/// The HTTP client's redirect policy: [`check_redirect`] on every hop.
pub(super) fn redirect_policy() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| match check_redirect(attempt.previous(), attempt.url()) {
        Ok(()) => attempt.follow(),
        Err(refusal) => {
            let to = attempt.url().to_string();
            attempt.error(RedirectRefusal { to, refusal })
        }
    })
}

/// The refused redirect inside an error of the HTTP client, if that is
/// what it is.
pub(super) fn refused_redirect(error: &(dyn std::error::Error + 'static)) -> Option<RedirectRefusal> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refusal) = error.downcast_ref::<RedirectRefusal>() {
            return Some(refusal.clone());
        }
        current = error.source();
    }
    None
}
