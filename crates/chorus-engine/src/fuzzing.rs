//! The bodies of the fuzz targets over this crate (`fuzz/` at the
//! repository's root), behind the `fuzzing` feature: each takes the
//! fuzzer's bytes and panics when an invariant breaks. The crate's
//! `tests/fuzz_corpus.rs` replays the checked-in corpus through the same
//! functions on the stable toolchain.

use std::io::Cursor;
use std::path::Path;

use crate::text::{StopMatcher, StopScan, Utf8Decoder};

/// `gguf_inspect`: any bytes through the GGUF check in memory. It never
/// panics, and what it accepts is consistent with the bytes (their size,
/// at least one tensor, version 2 or 3). That llama.cpp loads what the
/// check accepts without aborting is checked by replaying the accepted
/// inputs in a child process (`tests/gguf_load.rs`).
pub fn gguf_inspect(data: &[u8]) {
    let Ok(info) = crate::gguf::inspect_reader(Cursor::new(data), Path::new("fuzz-input.gguf")) else {
        return;
    };
    assert_eq!(info.file_size, data.len() as u64, "the size it reports is the input's");
    assert!(info.tensor_count >= 1, "an accepted file has a tensor");
    assert!((2..=3).contains(&info.version), "an accepted file is GGUF 2 or 3");
    assert!(!info.architecture.is_empty(), "an accepted file names its architecture");
    assert!(info.context_length.is_some_and(|length| length > 0), "an accepted file has a context length");
}

/// `stop_matcher`: token bytes through the UTF-8 decoder and the stop
/// matcher, as the inference thread feeds them, for any chunking.
///
/// The input is split at its zero bytes: the first part holds the stop
/// strings (separated by `0x01`), every other part is the bytes of one
/// token. Invariants: the decoder's text, chunk by chunk, is exactly the
/// lossy UTF-8 decoding of all the bytes at once; and the text shown and
/// whether generation stopped are exactly what a naive search gives, run
/// on the whole text decoded so far after each token (generation ends at
/// the first token after which a stop string is complete): everything
/// before the earliest stop string in it, or all the text when none ever
/// occurs. So nothing after a stop and no piece of one is ever shown.
pub fn stop_matcher(data: &[u8]) {
    let mut parts = data.split(|byte| *byte == 0);
    let stops: Vec<String> = parts
        .next()
        .unwrap_or_default()
        .split(|byte| *byte == 1)
        .map(|stop| String::from_utf8_lossy(stop).into_owned())
        .collect();
    let chunks: Vec<&[u8]> = parts.collect();

    let mut decoder = Utf8Decoder::default();
    let mut matcher = StopMatcher::new(&stops);
    let mut decoded = String::new();
    let mut shown = String::new();
    let mut stopped = false;
    // The naive reference: after each token, the earliest stop string in
    // everything decoded so far.
    let mut expected: Option<String> = None;
    let naive =
        |text: &str| stops.iter().filter(|stop| !stop.is_empty()).filter_map(|stop| text.find(stop.as_str())).min();
    let mut feed = |text: String, matcher: &mut StopMatcher, decoded: &mut String| {
        decoded.push_str(&text);
        if expected.is_none() {
            expected = naive(decoded).map(|at| decoded[..at].to_owned());
        }
        if stopped {
            return;
        }
        match matcher.push(&text) {
            StopScan::Continue(text) => shown.push_str(&text),
            StopScan::Stop(text) => {
                shown.push_str(&text);
                stopped = true;
            }
        }
    };
    for chunk in &chunks {
        let text = decoder.push(chunk);
        feed(text, &mut matcher, &mut decoded);
    }
    feed(decoder.finish(), &mut matcher, &mut decoded);
    if !stopped {
        shown.push_str(&matcher.finish());
    }

    let all: Vec<u8> = chunks.concat();
    assert_eq!(decoded, String::from_utf8_lossy(&all), "decoding chunk by chunk is decoding the whole");
    let reference = match &expected {
        Some(before) => (before.as_str(), true),
        None => (decoded.as_str(), false),
    };
    assert_eq!((shown.as_str(), stopped), reference, "stops {stops:?}, chunks {chunks:?}");
}
