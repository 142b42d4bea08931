#![no_main]
//! The body and its invariants: `chorus_engine::fuzzing::stop_matcher`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chorus_engine::fuzzing::stop_matcher(data));
