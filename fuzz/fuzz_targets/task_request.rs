#![no_main]
//! The body and its invariants: `chorus_net::fuzzing::task_request`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chorus_net::fuzzing::task_request(data));
