use std::num::NonZeroU32;
use std::path::PathBuf;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;

use super::*;

#[test]
fn the_highest_logit_wins_and_the_first_of_equals() {
    assert_eq!(highest(&[0.5, 2.0, -1.0, 2.0]), Some(LlamaToken::new(1)));
    assert_eq!(highest(&[f32::NEG_INFINITY, -3.0]), Some(LlamaToken::new(1)));
    assert_eq!(highest(&[]), None);
}

/// A small deterministic generator (xorshift), so the cases repeat.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn logit(&mut self) -> f32 {
        // Distinct values in -20..20: no ties between candidates.
        (self.next() % 4_000_000) as f32 / 100_000.0 - 20.0
    }
}

/// The `keeps` best allowed candidates, from filtering all of them.
fn best_of_all(candidates: &[LlamaTokenData], keeps: usize, allowed: impl Fn(LlamaToken) -> bool) -> Vec<i32> {
    let mut all: Vec<LlamaTokenData> = candidates.iter().copied().filter(|data| allowed(data.id())).collect();
    all.sort_by(|a, b| b.logit().total_cmp(&a.logit()));
    let mut ids: Vec<i32> = all.iter().take(keeps).map(|data| data.id().0).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn the_windows_find_the_best_allowed_candidates_of_the_whole_vocabulary() {
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    // (vocabulary, one token in `every` allowed, keeps)
    let cases = [(49_152, 3, 40), (49_152, 997, 40), (49_152, 20_000, 40), (1_000, 2, 1), (100, 1, 500), (50, 7, 0)];
    for (size, every, keeps) in cases {
        let candidates: Vec<LlamaTokenData> =
            (0..size).map(|id| LlamaTokenData::new(LlamaToken::new(id), random.logit(), 0.0)).collect();
        let allowed = |token: LlamaToken| token.0 % every == 0;
        let mut checked = 0;
        let found = best_allowed(candidates.clone(), keeps, |window| {
            checked += window.data.len();
            for data in &mut window.data {
                if !allowed(data.id()) {
                    data.set_logit(f32::NEG_INFINITY);
                }
            }
        });
        assert!(found.iter().all(|data| allowed(data.id())), "only allowed candidates, size {size} every {every}");
        let mut best: Vec<LlamaTokenData> = found.clone();
        best.sort_by(|a, b| b.logit().total_cmp(&a.logit()));
        let mut ids: Vec<i32> = best.iter().take(keeps).map(|data| data.id().0).collect();
        ids.sort_unstable();
        assert_eq!(ids, best_of_all(&candidates, keeps, allowed), "size {size}, every {every}, keeps {keeps}");
        if every == 3 {
            assert!(checked < 1_000, "a common allowed token needs few checks, not {checked}");
        }
    }
}

fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CHORUS_MODEL") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Real llama.cpp, the embedded model and a JSON Schema's grammar: at every
/// step two samplers see the same logits, one filtering windows of
/// candidates, the other the whole vocabulary; their picks must agree, and
/// the grammar must have rejected some unconstrained picks on the way.
#[test]
fn a_rejected_pick_is_the_one_filtering_the_whole_vocabulary_gives() {
    let backend = crate::backend::init().expect("llama.cpp starts");
    let model = LlamaModel::load_from_file(backend, model_path(), &LlamaModelParams::default()).expect("model");
    let grammar = llama_cpp_2::json_schema_to_grammar(
        r#"{"type":"object","properties":{"ideas":{"type":"array","items":{"type":"string"},"minItems":8}},"required":["ideas"]}"#,
    )
    .expect("schema");
    let prompt = model.vocab().tokenize(b"Ideas for a weekend trip, as a JSON list:", true, true);
    let greedy = SamplingParams { temperature: 0.0, ..SamplingParams::default() };
    let plain_greedy = SamplingParams { repeat_penalty: 1.0, ..greedy.clone() };
    let runs =
        [SamplingParams::default(), SamplingParams { seed: 7, ..SamplingParams::default() }, greedy, plain_greedy];
    let mut rejections = 0;
    for params in runs {
        let params = SamplingParams { max_tokens: 48, ..params };
        let context_params =
            LlamaContextParams::default().with_n_ctx(NonZeroU32::new(256)).with_n_threads(1).with_n_threads_batch(1);
        let mut ctx = model.new_context(backend, context_params).expect("context");
        let sampler = || LlamaSampler::grammar(&model, &grammar, "root").expect("grammar");
        let mut windows = Samplers::new(&model, &params, Some(sampler()));
        let mut whole = Samplers::new(&model, &params, Some(sampler()));
        whole.keeps = None;
        let mut batch = LlamaBatch::new(512, 1);
        batch.add_sequence(&prompt, 0, false).expect("batch");
        let start = i32::try_from(prompt.len()).expect("short prompt");
        for (step, position) in (0..params.max_tokens).zip(start..) {
            ctx.decode(&mut batch).expect("decode");
            let at = batch.n_tokens() - 1;
            let picked = windows.sample(&ctx, at);
            assert_eq!(picked, whole.sample(&ctx, at), "step {step} of {params:?}");
            let Some(token) = picked.filter(|&token| !model.vocab().is_eog(token)) else { break };
            batch.clear();
            batch.add(token, position, &[0], true).expect("batch");
        }
        assert_eq!(windows.rejections, whole.rejections);
        rejections += windows.rejections;
    }
    assert!(rejections >= 3, "the grammar rejected {rejections} picks: the path under test barely ran");
}
