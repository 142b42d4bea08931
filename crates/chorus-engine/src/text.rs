//! Turning token bytes into text that is safe to show: whole UTF-8
//! characters only, and never a piece of a stop string.

/// Collects token bytes and hands out only complete UTF-8 characters.
///
/// A token can end in the middle of a multi-byte character (emoji, CJK);
/// those bytes wait for the next token. Bytes that can never become valid
/// UTF-8 are replaced with U+FFFD rather than dropped silently.
#[derive(Debug, Default)]
pub(crate) struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Adds `bytes` and returns the text that is now complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(error) => {
                    let valid = error.valid_up_to();
                    // `valid_up_to` marks a prefix that is valid UTF-8.
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match error.error_len() {
                        // An incomplete character at the end: keep it.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Flushes what is left at the end of generation.
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

/// What the stop matcher says after new text arrives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StopScan {
    /// Text that can be shown now (possibly empty: the rest is held back
    /// because it could be the start of a stop string).
    Continue(String),
    /// A stop string was found: show this text, then stop.
    Stop(String),
}

/// Finds stop strings in streamed text without ever emitting a part of one.
#[derive(Debug)]
pub(crate) struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Feeds new text.
    pub(crate) fn push(&mut self, text: &str) -> StopScan {
        self.held.push_str(text);
        if self.stops.is_empty() {
            return StopScan::Continue(std::mem::take(&mut self.held));
        }
        let earliest = self.stops.iter().filter_map(|stop| self.held.find(stop.as_str())).min();
        if let Some(at) = earliest {
            let shown = self.held[..at].to_owned();
            self.held.clear();
            return StopScan::Stop(shown);
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        let mut keep_from = self.held.len();
        for (start, _) in self.held.char_indices() {
            let tail = &self.held[start..];
            if self.stops.iter().any(|stop| stop.starts_with(tail)) {
                keep_from = start;
                break;
            }
        }
        let shown = self.held[..keep_from].to_owned();
        self.held.drain(..keep_from);
        StopScan::Continue(shown)
    }

    /// Releases held-back text at the end of generation (it was no stop).
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_waits_for_whole_characters() {
        let mut decoder = Utf8Decoder::default();
        let crab = "🦀".as_bytes();
        assert_eq!(decoder.push(&crab[..2]), "");
        assert_eq!(decoder.push(&crab[2..]), "🦀");
        assert_eq!(decoder.push(b"ok"), "ok");
        assert_eq!(decoder.push(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(decoder.push(&crab[..1]), "");
        assert_eq!(decoder.finish(), "\u{fffd}");
    }

    #[test]
    fn stop_matcher_table() {
        let cases: &[(&[&str], &[&str], &str, bool)] = &[
            // (stops, pushes, shown text, stopped)
            (&["</s>"], &["hello ", "world"], "hello world", false),
            (&["</s>"], &["hello </", "s> more"], "hello ", true),
            (&["\n\n"], &["a\n", "\nb"], "a", true),
            (&["STOP"], &["ST", "ART"], "START", false),
            (&["ab", "b"], &["xab"], "x", true),
            (&[], &["anything"], "anything", false),
        ];
        for (stops, pushes, want, want_stop) in cases {
            let stops: Vec<String> = stops.iter().map(|s| (*s).to_owned()).collect();
            let mut matcher = StopMatcher::new(&stops);
            let mut shown = String::new();
            let mut stopped = false;
            for push in *pushes {
                match matcher.push(push) {
                    StopScan::Continue(text) => shown.push_str(&text),
                    StopScan::Stop(text) => {
                        shown.push_str(&text);
                        stopped = true;
                        break;
                    }
                }
            }
            if !stopped {
                shown.push_str(&matcher.finish());
            }
            assert_eq!((&shown[..], stopped), (*want, *want_stop), "stops {stops:?}");
        }
    }

    #[test]
    fn stop_matcher_holds_back_possible_prefixes() {
        let mut matcher = StopMatcher::new(&["<|end|>".to_owned()]);
        assert_eq!(matcher.push("text <|e"), StopScan::Continue("text ".to_owned()));
        assert_eq!(matcher.push("xtra"), StopScan::Continue("<|extra".to_owned()));
    }
}
