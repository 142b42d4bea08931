#![no_main]
//! The body and its invariants: `chorus_net::fuzzing::receipt`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chorus_net::fuzzing::receipt(data));
