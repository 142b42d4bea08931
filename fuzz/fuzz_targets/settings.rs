#![no_main]
//! The body and its invariants: `chorus_node::fuzzing::settings`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chorus_node::fuzzing::settings(data));
