#![no_main]
//! The body and its invariants: `chorus_engine::fuzzing::gguf_inspect`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| chorus_engine::fuzzing::gguf_inspect(data));
