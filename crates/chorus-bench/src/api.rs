//! `chorus bench --api`: what the OpenAI-compatible server (`chorus-api`)
//! adds to a request, and what several clients at once gain.
//!
//! * **Time to first token**: the same chat request to the same specialist,
//!   greedy, through the engine directly (`Node::chat_with_specialist`,
//!   timed to its first token) and through a real `chorus api` server on
//!   loopback with a real HTTP client (reqwest; timed from sending the
//!   request to the first server-sent event with text), alternating, after a
//!   warm-up. The goal is at most 1.05× the engine's plus 2 ms.
//! * **Clients at once**: four non-streamed requests of `tokens` tokens
//!   each, sent one after another and then all at once (the engine decodes
//!   them in one batch), then the same four straight to the engine both
//!   ways (the reference), for `rounds` rounds; wall time of each and the
//!   tokens every request got.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chorus_api::{ApiConfig, ApiServer};
use chorus_engine::{ChatMessage, GenerateRequest, GenerationEvent};
use chorus_node::{CancellationToken, Node, NodeConfig};
use serde::Serialize;
use serde_json::{Value, json};

use crate::network::{Distribution, distribution};
use crate::procfs::load_average;
use crate::stats::millis_f64 as millis;

/// The specialist every request asks for (the embedded model runs it).
pub const API_BENCH_SPECIALIST: &str = "general.assistant";
/// The short question of the first-token figure.
const SHORT_PROMPT: &str = "Name one colour.";
/// Requests per path before measuring (model load, first connection).
const WARM_UP: u32 = 3;
/// Clients of the "at once" figure.
const CLIENTS: usize = 4;
/// Questions that ask for more than `tokens` tokens, one per client.
const LONG_PROMPTS: [&str; CLIENTS] = [
    "Write a long story about a lighthouse keeper and a storm.",
    "Explain in detail how bread dough rises, step by step.",
    "Describe a walk through a busy market in a large city.",
    "Write a long letter to a friend about a trip to the mountains.",
];

/// What `bench_api` measures.
#[derive(Debug, Clone)]
pub struct ApiBenchOptions {
    /// The node (model, threads, data folder: the API's key is made there
    /// as `chorus api` makes it).
    pub node: NodeConfig,
    /// First-token samples per path.
    pub requests: u32,
    /// Tokens each client asks for in the "at once" figure.
    pub tokens: u32,
    /// Rounds of the "at once" figure (medians reported).
    pub rounds: u32,
}

impl Default for ApiBenchOptions {
    fn default() -> Self {
        Self { node: NodeConfig::default(), requests: 50, tokens: 64, rounds: 10 }
    }
}

/// One round of the "at once" figure.
#[derive(Debug, Clone, Serialize)]
pub struct ClientsRound {
    /// The requests one after another, wall time.
    pub sequential_ms: f64,
    /// All at once, wall time.
    pub concurrent_ms: f64,
    /// Completion tokens of each request, one after another.
    pub sequential_tokens: Vec<u32>,
    /// Completion tokens of each request, at once.
    pub concurrent_tokens: Vec<u32>,
    /// The same four requests straight to the engine, one after another.
    pub engine_sequential_ms: f64,
    /// The same four straight to the engine, at once.
    pub engine_concurrent_ms: f64,
}

/// What `bench_api` reports (`chorus bench --api --json`).
#[derive(Debug, Clone, Serialize)]
pub struct ApiBenchReport {
    /// The model file.
    pub model: String,
    /// The specialist asked.
    pub specialist: String,
    /// Cores of the machine.
    pub cores: usize,
    /// Load averages (1, 5, 15 min) before.
    pub load_before: Vec<f64>,
    /// Load averages after.
    pub load_after: Vec<f64>,
    /// Wall time of the whole bench, seconds.
    pub elapsed_s: f64,
    /// The engine's time to first token.
    pub engine_first_token: Distribution,
    /// The API's time to first token (request sent → first text event).
    pub api_first_token: Distribution,
    /// Median API over median engine.
    pub first_token_ratio: f64,
    /// Median API minus median engine, milliseconds.
    pub first_token_overhead_ms: f64,
    /// Whether the median is within the goal (≤ 1.05× the engine's + 2 ms).
    pub first_token_within_goal: bool,
    /// Clients of the "at once" figure.
    pub clients: usize,
    /// Tokens each asked for.
    pub tokens: u32,
    /// Each round.
    pub rounds: Vec<ClientsRound>,
    /// Median wall time one after another, milliseconds.
    pub sequential_ms: f64,
    /// Median wall time at once, milliseconds.
    pub concurrent_ms: f64,
    /// `sequential_ms / concurrent_ms`.
    pub speedup: f64,
    /// Median of the engine's own figures, the reference.
    pub engine_sequential_ms: f64,
    /// Median of the engine's at once.
    pub engine_concurrent_ms: f64,
    /// `engine_sequential_ms / engine_concurrent_ms`: what batching gains
    /// without the API.
    pub engine_speedup: f64,
}

/// Why the bench stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiBenchError {
    /// The node, the server or a request failed.
    #[error("{0}")]
    Failed(String),
}

fn failed(what: &str) -> impl Fn(&dyn std::fmt::Display) -> ApiBenchError + '_ {
    move |error| ApiBenchError::Failed(format!("{what}: {error}"))
}

/// Runs the bench on its own runtime.
///
/// # Errors
/// [`ApiBenchError`]: the node or server did not start, the model did not
/// load, a request failed.
pub fn bench_api(options: &ApiBenchOptions) -> Result<ApiBenchReport, ApiBenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| failed("runtime")(&error))?;
    runtime.block_on(run(options))
}

/// The running server and what a client needs to call it.
struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Client {
    fn request(&self, prompt: &str, tokens: u32, stream: bool) -> reqwest::RequestBuilder {
        let body = json!({
            "model": API_BENCH_SPECIALIST,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": tokens,
            "temperature": 0,
            "seed": 1,
            "stream": stream,
        });
        self.http.post(format!("{}/chat/completions", self.url)).bearer_auth(&self.key).json(&body)
    }

    /// Sends a streamed request; the time to the first event with text,
    /// reading the rest to the end.
    async fn first_token(&self, prompt: &str, tokens: u32) -> Result<Duration, ApiBenchError> {
        let started = Instant::now();
        let mut response =
            self.request(prompt, tokens, true).send().await.map_err(|error| failed("request")(&error))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(ApiBenchError::Failed(format!("the API answered {status}: {body}")));
        }
        let mut first = None;
        let mut pending = String::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| failed("stream")(&error))? {
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                if first.is_none() && has_text(&event) {
                    first = Some(started.elapsed());
                }
            }
        }
        first.ok_or_else(|| ApiBenchError::Failed("the stream ended without text".to_owned()))
    }

    /// Sends a request without streaming; its completion tokens.
    async fn complete(&self, prompt: &str, tokens: u32) -> Result<u32, ApiBenchError> {
        let response = self.request(prompt, tokens, false).send().await.map_err(|error| failed("request")(&error))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|error| failed("response")(&error))?;
        if !status.is_success() {
            return Err(ApiBenchError::Failed(format!("the API answered {status}: {body}")));
        }
        body["usage"]["completion_tokens"]
            .as_u64()
            .and_then(|tokens| u32::try_from(tokens).ok())
            .ok_or_else(|| ApiBenchError::Failed(format!("no usage in {body}")))
    }
}

/// Whether a server-sent event carries answer text.
fn has_text(event: &str) -> bool {
    event.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim).any(|data| {
        serde_json::from_str::<Value>(data)
            .ok()
            .is_some_and(|chunk| chunk["choices"][0]["delta"]["content"].as_str().is_some_and(|text| !text.is_empty()))
    })
}

/// The request the API makes of `prompt` (the specialist's system prompt
/// and sampling, greedy, seed 1, `tokens` at most), made directly.
fn engine_request(node: &Node, prompt: &str, tokens: u32) -> Result<GenerateRequest, ApiBenchError> {
    let specialist = node
        .catalog()
        .specialist(API_BENCH_SPECIALIST)
        .ok_or_else(|| ApiBenchError::Failed(format!("the catalog has no {API_BENCH_SPECIALIST}")))?;
    let mut sampling = node
        .specialist_sampling(API_BENCH_SPECIALIST)
        .ok_or_else(|| ApiBenchError::Failed(format!("no sampling for {API_BENCH_SPECIALIST}")))?;
    sampling.temperature = 0.0;
    sampling.seed = 1;
    sampling.max_tokens = tokens;
    Ok(GenerateRequest::chat(vec![ChatMessage::system(&specialist.system_prompt), ChatMessage::user(prompt)])
        .with_sampling(sampling))
}

/// The engine's time to its first token for `prompt`, reading the rest to
/// the end.
async fn engine_first_token(node: &Node, prompt: &str, tokens: u32) -> Result<Duration, ApiBenchError> {
    let request = engine_request(node, prompt, tokens)?;
    let started = Instant::now();
    let mut generation =
        node.chat_with_specialist(API_BENCH_SPECIALIST, request).map_err(|error| failed("engine")(&error))?;
    let mut first = None;
    while let Some(event) = generation.next_event().await {
        match event {
            GenerationEvent::Token(text) if first.is_none() && !text.is_empty() => first = Some(started.elapsed()),
            GenerationEvent::Failed(error) => return Err(failed("engine")(&error)),
            _ => {}
        }
    }
    first.ok_or_else(|| ApiBenchError::Failed("the engine wrote no text".to_owned()))
}

/// The engine's whole answer to `prompt`: its completion tokens.
async fn engine_complete(node: &Node, prompt: &str, tokens: u32) -> Result<u32, ApiBenchError> {
    let request = engine_request(node, prompt, tokens)?;
    let generation =
        node.chat_with_specialist(API_BENCH_SPECIALIST, request).map_err(|error| failed("engine")(&error))?;
    let completion = generation.complete().await.map_err(|error| failed("engine")(&error))?;
    Ok(completion.completion_tokens)
}

async fn run(options: &ApiBenchOptions) -> Result<ApiBenchReport, ApiBenchError> {
    let started = Instant::now();
    let load_before = load_average();
    let node = Node::start(options.node.clone()).map_err(|error| failed("node")(&error))?;
    let model = tokio::task::block_in_place(|| node.default_model())
        .map_err(|error| failed("model")(&error))?
        .info()
        .path
        .display()
        .to_string();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = ApiServer::bind(node.clone(), ApiConfig { listen: loopback, slots: 8, ..ApiConfig::default() })
        .await
        .map_err(|error| failed("server")(&error))?;
    let (key, _) = chorus_api::load_or_create_key(node.data_dir()).map_err(|error| failed("key")(&error))?;
    let client = Client { http: reqwest::Client::new(), url: server.url(), key };
    let stop = CancellationToken::new();
    let serving = tokio::spawn(server.run(stop.clone().cancelled_owned()));
    // Loads the specialist's model before anything is timed.
    let warm = GenerateRequest::chat(vec![ChatMessage::user("Hi")]).with_max_tokens(1);
    let _ = tokio::task::block_in_place(|| node.chat_with_specialist(API_BENCH_SPECIALIST, warm))
        .map_err(|error| failed("engine")(&error))?
        .complete()
        .await;

    for _ in 0..WARM_UP {
        engine_first_token(&node, SHORT_PROMPT, 4).await?;
        client.first_token(SHORT_PROMPT, 4).await?;
    }
    let (mut engine, mut api) = (Vec::new(), Vec::new());
    for round in 0..options.requests {
        // Alternating which goes first, so neither always follows the other.
        if round % 2 == 0 {
            engine.push(millis(engine_first_token(&node, SHORT_PROMPT, 4).await?));
            api.push(millis(client.first_token(SHORT_PROMPT, 4).await?));
        } else {
            api.push(millis(client.first_token(SHORT_PROMPT, 4).await?));
            engine.push(millis(engine_first_token(&node, SHORT_PROMPT, 4).await?));
        }
    }

    let mut rounds = Vec::new();
    for _ in 0..options.rounds {
        let begun = Instant::now();
        let mut sequential_tokens = Vec::new();
        for prompt in LONG_PROMPTS {
            sequential_tokens.push(client.complete(prompt, options.tokens).await?);
        }
        let sequential_ms = millis(begun.elapsed());
        let begun = Instant::now();
        let concurrent_tokens =
            futures::future::try_join_all(LONG_PROMPTS.iter().map(|prompt| client.complete(prompt, options.tokens)))
                .await?;
        let concurrent_ms = millis(begun.elapsed());
        // The same four straight to the engine, the reference.
        let begun = Instant::now();
        for prompt in LONG_PROMPTS {
            engine_complete(&node, prompt, options.tokens).await?;
        }
        let engine_sequential_ms = millis(begun.elapsed());
        let begun = Instant::now();
        futures::future::try_join_all(LONG_PROMPTS.iter().map(|prompt| engine_complete(&node, prompt, options.tokens)))
            .await?;
        let engine_concurrent_ms = millis(begun.elapsed());
        rounds.push(ClientsRound {
            sequential_ms,
            concurrent_ms,
            sequential_tokens,
            concurrent_tokens,
            engine_sequential_ms,
            engine_concurrent_ms,
        });
    }
    stop.cancel();
    let _ = serving.await;

    let engine_first_token = distribution(&engine);
    let api_first_token = distribution(&api);
    let median_of =
        |figure: fn(&ClientsRound) -> f64| distribution(&rounds.iter().map(figure).collect::<Vec<_>>()).p50_ms;
    let sequential_ms = median_of(|round| round.sequential_ms);
    let concurrent_ms = median_of(|round| round.concurrent_ms);
    let engine_sequential_ms = median_of(|round| round.engine_sequential_ms);
    let engine_concurrent_ms = median_of(|round| round.engine_concurrent_ms);
    Ok(ApiBenchReport {
        model,
        specialist: API_BENCH_SPECIALIST.to_owned(),
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_before,
        load_after: load_average(),
        elapsed_s: started.elapsed().as_secs_f64(),
        first_token_ratio: api_first_token.p50_ms / engine_first_token.p50_ms,
        first_token_overhead_ms: api_first_token.p50_ms - engine_first_token.p50_ms,
        first_token_within_goal: api_first_token.p50_ms <= engine_first_token.p50_ms * 1.05 + 2.0,
        engine_first_token,
        api_first_token,
        clients: CLIENTS,
        tokens: options.tokens,
        rounds,
        sequential_ms,
        concurrent_ms,
        speedup: sequential_ms / concurrent_ms,
        engine_sequential_ms,
        engine_concurrent_ms,
        engine_speedup: engine_sequential_ms / engine_concurrent_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::has_text;

    #[test]
    fn only_events_with_text_count_as_the_first_token() {
        assert!(!has_text("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"));
        assert!(!has_text("data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n"));
        assert!(!has_text("data: [DONE]\n\n"));
        assert!(has_text("data: {\"choices\":[{\"delta\":{\"content\":\"Blue\"}}]}\n\n"));
    }
}
