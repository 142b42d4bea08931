//! llama.cpp's own generation loop, as `llama-bench` times it, on the
//! inference thread's context: one token decoded at a time, nothing
//! sampled, detokenised or sent. `chorus bench` times it next to the
//! engine's generation on the same context, so what the engine adds per
//! token is measured apart from what the llama.cpp build costs.

use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

/// A request for [`decode_only`], answered on `reply`.
pub(crate) struct DecodeOnly {
    pub(crate) tokens: u32,
    pub(crate) reply: std::sync::mpsc::SyncSender<Result<Duration, String>>,
}

/// Decodes `tokens` tokens one at a time in sequence `seq` from an empty
/// context, as `llama-bench`'s tg test (each token a pseudo-random one of
/// the `vocabulary`, its logits computed and not read); the time the
/// decodes took. The sequence is cleared before and after.
pub(super) fn decode_only(
    ctx: &mut LlamaContext<'_>,
    vocabulary: i32,
    seq: i32,
    tokens: u32,
) -> Result<Duration, String> {
    let vocabulary = u32::try_from(vocabulary).unwrap_or(1).max(1);
    let clear = |ctx: &mut LlamaContext<'_>| {
        ctx.clear_kv_cache_seq(u32::try_from(seq).ok(), None, None).map_err(|error| error.to_string())
    };
    clear(ctx)?;
    let mut batch = LlamaBatch::new(1, 1);
    // A fixed xorshift: the same tokens every run.
    let mut state: u32 = 0x9e37_79b9;
    let started = Instant::now();
    let mut result = Ok(());
    for position in 0..i32::try_from(tokens).unwrap_or(i32::MAX) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let token = LlamaToken(i32::try_from(state % vocabulary).unwrap_or(0));
        batch.clear();
        result = batch
            .add(token, position, &[seq], true)
            .map_err(|error| error.to_string())
            .and_then(|()| ctx.decode(&mut batch).map_err(|error| error.to_string()));
        if result.is_err() {
            break;
        }
    }
    let took = started.elapsed();
    clear(ctx)?;
    result.map(|()| took)
}
