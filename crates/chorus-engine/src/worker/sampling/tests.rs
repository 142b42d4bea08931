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

/// What llama.cpp's top-k, top-p and min-p keep of `candidates`, best
/// first (a model of the chain in plain Rust, for the pure test).
fn kept(candidates: &[LlamaTokenData], keeps: &Keeps) -> Vec<i32> {
    let mut sorted = candidates.to_vec();
    sorted.sort_by(|a, b| b.logit().total_cmp(&a.logit()));
    sorted.truncate(keeps.most);
    let Some(best) = sorted.first().map(LlamaTokenData::logit) else { return Vec::new() };
    if let Some(top_p) = keeps.top_p {
        let total: f32 = sorted.iter().map(|data| (data.logit() - best).exp()).sum();
        let mut sum = 0.0;
        let end = sorted
            .iter()
            .position(|data| {
                sum += (data.logit() - best).exp() / total;
                sum >= top_p
            })
            .map_or(sorted.len(), |at| at + 1);
        sorted.truncate(end);
    }
    if let Some(min_p) = keeps.min_p {
        sorted.retain(|data| data.logit() >= best + min_p.ln());
    }
    sorted.iter().map(|data| data.id().0).collect()
}

#[test]
fn the_windows_keep_what_filtering_the_whole_vocabulary_keeps() {
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    let chains = [
        Keeps { most: 40, top_p: Some(0.95), min_p: Some(0.05) },
        Keeps { most: 1, top_p: None, min_p: None },
        Keeps { most: 40, top_p: None, min_p: None },
        Keeps { most: 40, top_p: Some(0.5), min_p: None },
        Keeps { most: 40, top_p: None, min_p: Some(0.2) },
        Keeps { most: 500, top_p: Some(0.99), min_p: Some(0.01) },
    ];
    // (vocabulary, one token in `every` allowed, logits spread over `spread`)
    let vocabularies = [(49_152, 3, 40.0), (49_152, 997, 40.0), (49_152, 20_000, 10.0), (1_000, 2, 4.0), (60, 7, 40.0)];
    let mut cheap = 0;
    for keeps in &chains {
        for (size, every, spread) in vocabularies {
            let candidates: Vec<LlamaTokenData> = (0..size)
                .map(|id| LlamaTokenData::new(LlamaToken::new(id), random.logit() * spread / 40.0, 0.0))
                .collect();
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
            let all: Vec<LlamaTokenData> = candidates.iter().copied().filter(|data| allowed(data.id())).collect();
            assert_eq!(kept(&found, keeps), kept(&all, keeps), "{keeps:?}, size {size}, every {every}");
            if size == 49_152 && keeps.most == 40 && keeps.min_p.is_some() {
                // Llama.cpp's defaults: never the whole vocabulary here.
                assert!(checked < 49_152, "{keeps:?}, every {every}: {checked} checked");
                cheap += 1;
            }
        }
    }
    assert_eq!(cheap, 6);
}

fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CHORUS_MODEL") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Sampling settings that take every path: llama.cpp's defaults (two seeds),
/// top-p alone, greedy with and without the repetition penalty.
fn settings() -> Vec<SamplingParams> {
    let greedy = SamplingParams { temperature: 0.0, ..SamplingParams::default() };
    let plain_greedy = SamplingParams { repeat_penalty: 1.0, ..greedy.clone() };
    let top_p_only = SamplingParams { seed: 11, top_p: 0.8, min_p: 0.0, ..SamplingParams::default() };
    let seven = SamplingParams { seed: 7, ..SamplingParams::default() };
    let runs = [SamplingParams::default(), seven, top_p_only, greedy, plain_greedy];
    runs.into_iter().map(|params| SamplingParams { max_tokens: 48, ..params }).collect()
}

/// Real llama.cpp and the embedded model: at every step two samplers built
/// from `params` see the same logits, the one Chorus runs and one that
/// hands the whole vocabulary to llama.cpp's chain (and, with `grammar`,
/// to the grammar when it rejects a pick); their picks must agree. Returns
/// how many picks the grammar rejected.
fn picks_agree(model: &LlamaModel, prompt: &str, params: &SamplingParams, grammar: Option<&str>) -> u32 {
    let backend = crate::backend::init().expect("llama.cpp starts");
    let prompt = model.vocab().tokenize(prompt.as_bytes(), true, true);
    let context_params =
        LlamaContextParams::default().with_n_ctx(NonZeroU32::new(256)).with_n_threads(1).with_n_threads_batch(1);
    let mut ctx = model.new_context(backend, context_params).expect("context");
    let sampler = || grammar.map(|grammar| LlamaSampler::grammar(model, grammar, "root").expect("grammar"));
    let mut chorus = Samplers::new(model, params, sampler());
    let mut whole = Samplers::new(model, params, sampler());
    whole.keeps = None;
    whole.narrow = None;
    let mut batch = LlamaBatch::new(512, 1);
    batch.add_sequence(&prompt, 0, false).expect("batch");
    let start = i32::try_from(prompt.len()).expect("short prompt");
    for (step, position) in (0..params.max_tokens).zip(start..) {
        ctx.decode(&mut batch).expect("decode");
        let at = batch.n_tokens() - 1;
        let picked = chorus.sample(&ctx, at);
        assert_eq!(picked, whole.sample(&ctx, at), "step {step} of {params:?}, grammar: {}", grammar.is_some());
        let Some(token) = picked.filter(|&token| !model.vocab().is_eog(token)) else { break };
        batch.clear();
        batch.add(token, position, &[0], true).expect("batch");
    }
    assert_eq!(chorus.rejections, whole.rejections);
    chorus.rejections
}

fn embedded_model() -> LlamaModel {
    let backend = crate::backend::init().expect("llama.cpp starts");
    LlamaModel::load_from_file(backend, model_path(), &LlamaModelParams::default()).expect("model")
}

/// With a JSON Schema's grammar: a pick made again from windows of the best
/// candidates is the one filtering the whole vocabulary gives, and the
/// grammar did reject picks on the way.
#[test]
fn a_rejected_pick_is_the_one_filtering_the_whole_vocabulary_gives() {
    let model = embedded_model();
    let grammar = llama_cpp_2::json_schema_to_grammar(
        r#"{"type":"object","properties":{"ideas":{"type":"array","items":{"type":"string"},"minItems":8}},"required":["ideas"]}"#,
    )
    .expect("schema");
    let prompt = "Ideas for a weekend trip, as a JSON list:";
    let rejections: u32 =
        settings().iter().map(|params| picks_agree(&model, prompt, &params.clone(), Some(&grammar))).sum();
    assert!(rejections >= 3, "the grammar rejected {rejections} picks: the path under test barely ran");
}

/// Free generation: the chain run on the highest logits picks what it picks
/// from the whole vocabulary, penalty included (a prompt that repeats
/// itself, so the penalty lowers tokens among the best; a heavy penalty,
/// greedy, pushes the pick far down the ranks).
#[test]
fn a_pick_from_the_highest_logits_is_the_one_from_the_whole_vocabulary() {
    let model = embedded_model();
    let heavy = SamplingParams { temperature: 0.0, repeat_penalty: 10.0, ..SamplingParams::default() };
    for params in settings().into_iter().chain([heavy]) {
        let params = SamplingParams { max_tokens: 96, ..params };
        assert_eq!(
            picks_agree(&model, "Say the word \"yes\" again and again: yes yes yes yes yes yes", &params, None),
            0
        );
    }
}

#[test]
fn the_highest_few_are_the_highest() {
    let mut random = Xorshift(7);
    let logits: Vec<f32> = (0..5_000).map(|_| random.logit()).collect();
    let mut sorted: Vec<(f32, usize)> = logits.iter().copied().zip(0..).collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    for count in [1, 40, 104, 4_999, 5_000, 6_000] {
        let mut few: Vec<i32> = highest_few(&logits, count).iter().map(|data| data.id().0).collect();
        few.sort_unstable();
        let mut expected: Vec<i32> =
            sorted.iter().take(count).map(|&(_, index)| i32::try_from(index).expect("small")).collect();
        expected.sort_unstable();
        assert_eq!(few, expected, "count {count}");
    }
    assert!(highest_few(&[], 3).is_empty());
}
