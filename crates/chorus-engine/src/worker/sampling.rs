//! Picking the next token: llama.cpp's sampler chain, with a grammar checked
//! lazily.
//!
//! With top-k on (or greedy), the chain (repetition penalty, top-k, top-p,
//! min-p, temperature, pick) runs on the top-k + 64 highest logits, not on
//! the whole vocabulary: the penalty lowers at most 64 tokens, so the pick is
//! the same, for 0.09 ms a token instead of 0.4 (building the
//! vocabulary-sized array and penalising it). Greedy decoding without a
//! penalty reads the highest logit directly; with top-k off the chain runs on
//! the whole vocabulary.
//!
//! A grammar is llama.cpp's most expensive sampler: filtering the whole
//! vocabulary (49,152 tokens for the embedded model) through it took 8–11 ms
//! here, about a decode step. So, as llama.cpp's own tools do, the token is
//! picked from the unconstrained distribution and only that one is checked.
//! When the grammar rejects it (about one step in eleven of a JSON answer in
//! `chorus bench`), llama.cpp filters the whole vocabulary; here the
//! candidates are ranked by logit and the grammar filters them a window at a
//! time, best first, until what the chain keeps is settled: the top-k best
//! allowed tokens are found (the best one when greedy), or the ones not yet
//! checked — at most top-k more, none above the last logit checked — can
//! change neither where top-p's run ends nor pass min-p. The pick is the one
//! filtering the whole vocabulary gives (up to the order of exactly equal
//! logits); a rejection cost 1.4–1.6 ms instead of 9–11 in `chorus bench`.
//! Without top-k the whole vocabulary is filtered.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use crate::request::SamplingParams;

/// The repetition penalty looks back this many tokens: at most this many
/// distinct tokens have their logits lowered.
const PENALTY_LAST_N: i32 = 64;

/// Candidates the grammar checks first when it rejected the pick; each
/// further window is four times the one before.
const FIRST_WINDOW: usize = 64;

/// The samplers of one request.
pub(crate) struct Samplers {
    /// The repetition penalty, apart from `chain` so a rejected pick can rank
    /// the candidates by their penalised logits.
    penalties: Option<LlamaSampler>,
    /// Top-k, top-p, min-p, temperature and the pick (or greedy).
    chain: LlamaSampler,
    grammar: Option<LlamaSampler>,
    /// The chain is greedy alone (temperature 0, no penalty): the token is
    /// the highest logit, read off the logits without building the
    /// vocabulary-sized candidate array the chain needs.
    greedy: bool,
    /// What the chain keeps of the allowed candidates (`None`: no bound short
    /// of the vocabulary, so the grammar filters all of it when it rejects a
    /// pick).
    keeps: Option<Keeps>,
    /// The chain keeps only tokens among this many of the highest logits
    /// (top-k, plus the tokens the penalty may have lowered below others), so
    /// it runs on those instead of the whole vocabulary (`None`: on all).
    narrow: Option<usize>,
    /// Picks the grammar rejected.
    #[cfg(test)]
    rejections: u32,
}

impl Samplers {
    /// Builds the chain llama.cpp's own tools use: penalties, top-k, top-p,
    /// min-p, temperature, then a random pick (or greedy at temperature 0).
    pub(crate) fn new(model: &LlamaModel, params: &SamplingParams, grammar: Option<LlamaSampler>) -> Self {
        let penalised = (params.repeat_penalty - 1.0).abs() > f32::EPSILON;
        let penalties = penalised
            .then(|| LlamaSampler::penalties(model.n_vocab(), PENALTY_LAST_N, params.repeat_penalty, 0.0, 0.0));
        let mut stages = Vec::new();
        let keeps = if params.temperature <= 0.0 {
            stages.push(LlamaSampler::greedy());
            Some(Keeps { most: 1, top_p: None, min_p: None })
        } else {
            if params.top_k > 0 {
                stages.push(LlamaSampler::top_k(params.top_k));
            }
            if params.top_p < 1.0 {
                stages.push(LlamaSampler::top_p(params.top_p, 1));
            }
            if params.min_p > 0.0 {
                stages.push(LlamaSampler::min_p(params.min_p, 1));
            }
            stages.push(LlamaSampler::temp(params.temperature));
            stages.push(LlamaSampler::dist(params.seed));
            usize::try_from(params.top_k).ok().filter(|&k| k > 0).map(|most| Keeps {
                most,
                top_p: Some(params.top_p).filter(|&p| p < 1.0),
                min_p: Some(params.min_p).filter(|&p| p > 0.0),
            })
        };
        let greedy = params.temperature <= 0.0 && !penalised;
        let lowered = if penalised { PENALTY_LAST_N.unsigned_abs() as usize } else { 0 };
        let narrow = keeps.map(|keeps| keeps.most.saturating_add(lowered));
        Self {
            penalties,
            chain: LlamaSampler::chain_simple(stages),
            grammar,
            greedy,
            keeps,
            narrow,
            #[cfg(test)]
            rejections: 0,
        }
    }

    /// Picks the next token from the logits at batch index `index`; `None`
    /// when there are no logits or the grammar admits no token.
    pub(crate) fn sample(&mut self, ctx: &LlamaContext<'_>, index: i32) -> Option<LlamaToken> {
        let token = if self.greedy {
            highest(ctx.get_logits_ith(index))?
        } else {
            let mut candidates = match self.narrow {
                Some(count) => LlamaTokenDataArray::new(highest_few(ctx.get_logits_ith(index), count), false),
                None => ctx.token_data_array_ith(index),
            };
            self.rank(&mut candidates);
            self.chain.apply(&mut candidates);
            candidates.selected_token()?
        };
        let rejected = self.grammar.as_mut().is_some_and(|grammar| !allows(grammar, token));
        let token = if rejected { self.pick_allowed(ctx, index)? } else { token };
        if let Some(grammar) = self.grammar.as_mut() {
            grammar.try_accept(token).ok()?;
        }
        if let Some(penalties) = self.penalties.as_mut() {
            penalties.accept(token);
        }
        self.chain.accept(token);
        Some(token)
    }

    /// Applies the repetition penalty, if any.
    fn rank(&mut self, candidates: &mut LlamaTokenDataArray) {
        if let Some(penalties) = self.penalties.as_mut() {
            penalties.apply(candidates);
        }
    }

    /// The grammar rejected the pick: picks again among the tokens it allows.
    fn pick_allowed(&mut self, ctx: &LlamaContext<'_>, index: i32) -> Option<LlamaToken> {
        #[cfg(test)]
        {
            self.rejections += 1;
        }
        let mut candidates = ctx.token_data_array_ith(index);
        self.rank(&mut candidates);
        let grammar = self.grammar.as_mut()?;
        let mut allowed = match self.keeps {
            Some(keeps) => {
                let allowed = best_allowed(candidates.data, &keeps, |window| grammar.apply(window));
                if allowed.is_empty() {
                    return None;
                }
                LlamaTokenDataArray::new(allowed, false)
            }
            None => {
                grammar.apply(&mut candidates);
                candidates
            }
        };
        self.chain.apply(&mut allowed);
        allowed.selected_token()
    }
}

/// Whether `grammar` allows `token` next (without accepting it).
fn allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    grammar.apply(&mut single);
    single.data.first().is_some_and(|data| data.logit() != f32::NEG_INFINITY)
}

/// What the chain keeps of the candidates the grammar allows, stage by
/// stage as llama.cpp applies them: the `most` best (top-k, one when greedy),
/// of those the best whose probabilities add up to `top_p`, of those the ones
/// at least `min_p` times as likely as the best.
#[derive(Debug, Clone, Copy)]
struct Keeps {
    most: usize,
    top_p: Option<f32>,
    min_p: Option<f32>,
}

/// Room for float rounding in `Keeps::settled`: relative, for sums of
/// probabilities, and absolute, for logits.
const SLACK: f32 = 1e-3;

impl Keeps {
    /// Whether the chain keeps the same candidates whatever the unseen allowed
    /// candidates are, given the allowed ones seen (`seen`, their logits best
    /// first) and that every unseen one has a logit of at most `below`.
    fn settled(&self, seen: &[f32], below: f32) -> bool {
        if seen.len() >= self.most {
            return true;
        }
        let Some(&best) = seen.first() else { return false };
        // Min-p drops every unseen candidate, and keeps `cut` of the seen.
        let (unseen_dropped, cut) = match self.min_p {
            Some(min_p) => {
                let floor = best + min_p.ln();
                (below < floor - SLACK, seen.iter().take_while(|&&logit| logit >= floor).count())
            }
            None => (false, seen.len()),
        };
        let Some(top_p) = self.top_p else { return unseen_dropped };
        // Top-p keeps the shortest run of the best whose share reaches
        // `top_p`; the unseen (at most `most - seen` join the top-k) add at
        // most `unseen` to the whole. The run must end at the same place
        // (or past min-p's cut) with and without them.
        let weights: Vec<f32> = seen.iter().map(|&logit| (logit - best).exp()).collect();
        let total: f32 = weights.iter().sum();
        let unseen = (self.most - seen.len()) as f32 * (below - best).exp();
        let run = |threshold: f32| {
            let mut sum = 0.0;
            weights.iter().position(|&weight| {
                sum += weight;
                sum >= threshold
            })
        };
        let shortest = run(top_p * total * (1.0 - SLACK)).map_or(usize::MAX, |at| at + 1);
        let longest = run(top_p * (total + unseen) * (1.0 + SLACK)).map_or(usize::MAX, |at| at + 1);
        if longest == usize::MAX && !unseen_dropped {
            return false;
        }
        shortest.min(cut) == longest.min(cut)
    }
}

/// The candidates `filter` allows (it sets the logit of the others to
/// −∞, as llama.cpp's grammar sampler does), as many of the best of them as
/// the chain needs: the candidates are filtered a window at a time in order of
/// logit until `keeps` is settled or none are left. What the chain keeps of
/// the ones returned is what it keeps of all the allowed candidates.
fn best_allowed(
    mut candidates: Vec<LlamaTokenData>,
    keeps: &Keeps,
    mut filter: impl FnMut(&mut LlamaTokenDataArray),
) -> Vec<LlamaTokenData> {
    let mut allowed: Vec<LlamaTokenData> = Vec::new();
    let mut window = FIRST_WINDOW;
    let mut rest = candidates.as_mut_slice();
    while !rest.is_empty() {
        let take = window.min(rest.len());
        if take < rest.len() {
            rest.select_nth_unstable_by(take - 1, |a, b| b.logit().total_cmp(&a.logit()));
        }
        let (head, tail) = rest.split_at_mut(take);
        // Every candidate left has a logit of at most the window's last.
        let below = head[take - 1].logit();
        let mut checked = LlamaTokenDataArray::new(head.to_vec(), false);
        filter(&mut checked);
        allowed.extend(checked.data.into_iter().filter(|data| data.logit() != f32::NEG_INFINITY));
        rest = tail;
        allowed.sort_by(|a, b| b.logit().total_cmp(&a.logit()));
        let seen: Vec<f32> = allowed.iter().map(LlamaTokenData::logit).collect();
        if keeps.settled(&seen, below) {
            break;
        }
        window = window.saturating_mul(4);
    }
    allowed
}

/// The `count` highest logits as candidates, in no particular order (all of
/// them when there are fewer): one pass, a min-heap of the best so far.
///
/// The penalty only lowers logits, and of at most `PENALTY_LAST_N` tokens;
/// so the chain's top-k after the penalty lies among the `k +
/// PENALTY_LAST_N` highest logits before it, and what top-p, min-p,
/// temperature and the pick keep of top-k depends on top-k alone. Building
/// and penalising the whole vocabulary took 0.4 ms a token here.
fn highest_few(logits: &[f32], count: usize) -> Vec<LlamaTokenData> {
    let candidate = |(index, &logit): (usize, &f32)| {
        i32::try_from(index).ok().map(|id| LlamaTokenData::new(LlamaToken::new(id), logit, 0.0))
    };
    if count >= logits.len() {
        return logits.iter().enumerate().filter_map(candidate).collect();
    }
    let mut best: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(count + 1);
    for (index, &logit) in logits.iter().enumerate() {
        if best.len() < count {
            best.push(Reverse(Ranked(logit, index)));
        } else if best.peek().is_some_and(|Reverse(Ranked(lowest, _))| logit > *lowest) {
            best.pop();
            best.push(Reverse(Ranked(logit, index)));
        }
    }
    best.into_iter().filter_map(|Reverse(Ranked(logit, index))| candidate((index, &logit))).collect()
}

/// A logit and its token index, ordered by logit (`total_cmp`), then index.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ranked(f32, usize);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

/// The token of the highest logit (the first of equals, as llama.cpp's
/// greedy sampler picks); `None` for no logits.
fn highest(logits: &[f32]) -> Option<LlamaToken> {
    let mut best: Option<(usize, f32)> = None;
    for (index, &logit) in logits.iter().enumerate() {
        if best.is_none_or(|(_, top)| logit > top) {
            best = Some((index, logit));
        }
    }
    best.and_then(|(index, _)| i32::try_from(index).ok()).map(LlamaToken::new)
}

#[cfg(test)]
mod tests;
