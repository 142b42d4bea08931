#![no_main]
//! The body and its invariants: `chorus_core::fuzzing::admission_queue`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chorus_core::fuzzing::admission_queue(data));
