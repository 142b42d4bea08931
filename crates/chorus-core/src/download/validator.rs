//! What identifies the file a partial download holds the start of: the
//! `ETag` (or `Last-Modified`) of the response its first byte came from.
//!
//! A resumed request carries it as `If-Range`, so a server whose file
//! changed sends the new file whole (200) instead of the new file's tail
//! (206) spliced onto the old file's head. It is kept in memory during a
//! call and in `<dest>.partial.validator` between calls, with the URL it
//! came from.

use std::io;
use std::path::Path;

use reqwest::header::{ETAG, HeaderMap, LAST_MODIFIED};
use serde::{Deserialize, Serialize};

/// The validator of the bytes in a partial file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Validator {
    /// The URL asked for (before redirects).
    pub(super) url: String,
    /// A strong `ETag`, quotes included.
    pub(super) etag: Option<String>,
    /// `Last-Modified`, as the server wrote it.
    pub(super) last_modified: Option<String>,
}

/// A header's value as text, trimmed, if present and printable.
fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// A strong entity tag (`"…"`); a weak one (`W/"…"`) may not be used in
/// `If-Range` (RFC 9110 §13.1.5).
fn strong_etag(headers: &HeaderMap) -> Option<String> {
    header(headers, ETAG).filter(|etag| etag.starts_with('"') && etag.ends_with('"') && etag.len() >= 2)
}

impl Validator {
    /// The validator of a response to `url`, if it carries a strong `ETag`
    /// or a `Last-Modified`.
    pub(super) fn of_response(url: &str, headers: &HeaderMap) -> Option<Self> {
        let etag = strong_etag(headers);
        let last_modified = header(headers, LAST_MODIFIED);
        (etag.is_some() || last_modified.is_some()).then(|| Self { url: url.to_owned(), etag, last_modified })
    }

    /// The `If-Range` value: the entity tag, else the date.
    pub(super) fn if_range(&self) -> Option<&str> {
        self.etag.as_deref().or(self.last_modified.as_deref())
    }

    /// Whether a partial response (206) says it is of another file than
    /// ours: a different entity tag, or, when we only have a date, a
    /// different date. A server that sends neither says nothing.
    pub(super) fn contradicted_by(&self, headers: &HeaderMap) -> bool {
        let differs = |ours: &Option<String>, theirs: Option<String>| matches!((ours, theirs), (Some(ours), Some(theirs)) if *ours != theirs);
        if self.etag.is_some() {
            differs(&self.etag, header(headers, ETAG))
        } else {
            differs(&self.last_modified, header(headers, LAST_MODIFIED))
        }
    }
}

/// The validator saved next to a partial file, if it is for `url`.
/// A missing, unreadable or foreign one counts as none.
pub(super) async fn load(path: &Path, url: &str) -> Option<Validator> {
    let text = tokio::fs::read(path).await.ok()?;
    let validator: Validator = serde_json::from_slice(&text).ok()?;
    (validator.url == url && validator.if_range().is_some()).then_some(validator)
}

/// Saves the validator next to the partial file (write, then rename).
pub(super) async fn save(path: &Path, validator: &Validator) -> io::Result<()> {
    let text = serde_json::to_vec(validator).map_err(io::Error::other)?;
    let mut temporary = path.as_os_str().to_os_string();
    temporary.push(".tmp");
    tokio::fs::write(&temporary, text).await?;
    tokio::fs::rename(&temporary, path).await
}
