//! A chat completion request, checked and turned into what Chorus runs:
//! engine messages, sampling overrides and an output constraint. Pure: no
//! node, no I/O.

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageContent, ChatCompletionRequestAssistantMessageContentPart,
    ChatCompletionRequestDeveloperMessageContent, ChatCompletionRequestDeveloperMessageContentPart,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageContent,
    ChatCompletionRequestSystemMessageContentPart, ChatCompletionRequestUserMessageContent,
    ChatCompletionRequestUserMessageContentPart, CreateChatCompletionRequest, ResponseFormat, StopConfiguration,
};
use chorus_node::{ChatMessage, Constraint, SamplingParams};

use crate::error::ApiError;

/// The model id of the conductor.
pub const CONDUCTOR_MODEL: &str = "chorus";

/// Most stop strings (OpenAI's limit).
const MAX_STOPS: usize = 4;

/// Most tokens one request may ask for.
pub(crate) const MAX_TOKENS_LIMIT: u32 = 32_768;

/// What a request asks of the sampler; `None` keeps the model's own setting.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Overrides {
    pub(crate) temperature: Option<f32>,
    pub(crate) top_p: Option<f32>,
    pub(crate) seed: Option<u32>,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) stop: Vec<String>,
}

impl Overrides {
    /// `base` with this request's values.
    pub(crate) fn apply(&self, mut base: SamplingParams, fallback_seed: u32) -> SamplingParams {
        if let Some(temperature) = self.temperature {
            base.temperature = temperature;
        }
        if let Some(top_p) = self.top_p {
            if top_p <= 0.0 {
                // Only the most likely token is left: greedy.
                base.top_k = 1;
                base.top_p = 1.0;
            } else {
                base.top_p = top_p;
            }
        }
        base.seed = self.seed.unwrap_or(fallback_seed);
        if let Some(max_tokens) = self.max_tokens {
            base.max_tokens = max_tokens;
        }
        base.stop.clone_from(&self.stop);
        base
    }
}

/// A checked chat request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChatPlan {
    /// The model id asked for.
    pub(crate) model: String,
    /// The messages, in order, as the engine takes them.
    pub(crate) messages: Vec<ChatMessage>,
    pub(crate) overrides: Overrides,
    pub(crate) constraint: Option<Constraint>,
    pub(crate) stream: bool,
    /// `stream_options.include_usage`.
    pub(crate) include_usage: bool,
}

/// Parses a request body.
///
/// # Errors
/// 400 `invalid_json` with serde's words.
pub(crate) fn parse(body: &[u8]) -> Result<CreateChatCompletionRequest, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::bad_json(format!("not a chat completion request: {error}")))
}

/// Checks a request and turns it into a plan.
///
/// # Errors
/// 400 for a value out of range or a feature Chorus does not have (more
/// than one choice, tools, logprobs, audio, images).
#[allow(deprecated)] // `functions` and `function_call` are deprecated in OpenAI's API, and refused here.
pub(crate) fn plan(request: CreateChatCompletionRequest) -> Result<ChatPlan, ApiError> {
    if request.model.trim().is_empty() {
        return Err(ApiError::invalid("model", "model is empty"));
    }
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::unsupported("n", "only n = 1 is supported"));
    }
    if request.tools.as_ref().is_some_and(|tools| !tools.is_empty()) || request.tool_choice.is_some() {
        return Err(ApiError::unsupported("tools", "tools are not supported"));
    }
    if request.functions.as_ref().is_some_and(|functions| !functions.is_empty()) || request.function_call.is_some() {
        return Err(ApiError::unsupported("functions", "functions are not supported"));
    }
    if request.logprobs == Some(true) || request.top_logprobs.is_some() {
        return Err(ApiError::unsupported("logprobs", "logprobs are not supported"));
    }
    if request.audio.is_some() {
        return Err(ApiError::unsupported("audio", "audio output is not supported"));
    }
    check_range("temperature", request.temperature, 0.0, 2.0)?;
    check_range("top_p", request.top_p, 0.0, 1.0)?;
    check_range("frequency_penalty", request.frequency_penalty, -2.0, 2.0)?;
    check_range("presence_penalty", request.presence_penalty, -2.0, 2.0)?;
    let max_tokens = match (request.max_completion_tokens, request.max_tokens) {
        (Some(tokens), _) => Some(("max_completion_tokens", tokens)),
        (None, Some(tokens)) => Some(("max_tokens", tokens)),
        (None, None) => None,
    };
    if let Some((param, tokens)) = max_tokens
        && !(1..=MAX_TOKENS_LIMIT).contains(&tokens)
    {
        return Err(ApiError::invalid(param, format!("{param} {tokens} is not in 1..={MAX_TOKENS_LIMIT}")));
    }
    let stop = stops(request.stop)?;
    let constraint = match request.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(Constraint::JsonSchema(r#"{"type":"object"}"#.to_owned())),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            if !json_schema.schema.is_object() {
                return Err(ApiError::invalid("response_format", "json_schema.schema must be a JSON object"));
            }
            Some(Constraint::JsonSchema(json_schema.schema.to_string()))
        }
    };
    if request.messages.is_empty() {
        return Err(ApiError::invalid("messages", "messages must not be empty"));
    }
    let messages = request
        .messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| convert(index, message))
        .collect::<Result<Vec<_>, _>>()?;
    let include_usage = request.stream_options.as_ref().and_then(|options| options.include_usage).unwrap_or(false);
    Ok(ChatPlan {
        model: request.model,
        messages,
        overrides: Overrides {
            temperature: request.temperature,
            top_p: request.top_p,
            seed: request.seed.map(seed),
            max_tokens: max_tokens.map(|(_, tokens)| tokens),
            stop,
        },
        constraint,
        stream: request.stream.unwrap_or(false),
        include_usage,
    })
}

fn check_range(param: &str, value: Option<f32>, low: f32, high: f32) -> Result<(), ApiError> {
    match value {
        Some(value) if !(value.is_finite() && (low..=high).contains(&value)) => {
            Err(ApiError::invalid(param, format!("{param} {value} is not in {low}..={high}")))
        }
        _ => Ok(()),
    }
}

/// OpenAI's 64-bit seed folded into the engine's 32 bits.
fn seed(value: i64) -> u32 {
    let bits = value.to_le_bytes();
    let low = u32::from_le_bytes([bits[0], bits[1], bits[2], bits[3]]);
    let high = u32::from_le_bytes([bits[4], bits[5], bits[6], bits[7]]);
    low ^ high
}

fn stops(stop: Option<StopConfiguration>) -> Result<Vec<String>, ApiError> {
    let list = match stop {
        None => Vec::new(),
        Some(StopConfiguration::String(text)) => vec![text],
        Some(StopConfiguration::StringArray(list)) => list,
    };
    if list.len() > MAX_STOPS {
        return Err(ApiError::invalid("stop", format!("at most {MAX_STOPS} stop strings, not {}", list.len())));
    }
    Ok(list.into_iter().filter(|text| !text.is_empty()).collect())
}

/// One OpenAI message as an engine message. `developer` is a system
/// message; text parts are joined; images, audio, files, tool and function
/// messages are refused.
fn convert(index: usize, message: ChatCompletionRequestMessage) -> Result<ChatMessage, ApiError> {
    let param = format!("messages[{index}]");
    let unsupported = |what: &str| ApiError::unsupported(&param, format!("{what} are not supported"));
    match message {
        ChatCompletionRequestMessage::System(message) => Ok(ChatMessage::system(match message.content {
            ChatCompletionRequestSystemMessageContent::Text(text) => text,
            ChatCompletionRequestSystemMessageContent::Array(parts) => join(parts.into_iter().map(|part| match part {
                ChatCompletionRequestSystemMessageContentPart::Text(text) => text.text,
            })),
        })),
        ChatCompletionRequestMessage::Developer(message) => Ok(ChatMessage::system(match message.content {
            ChatCompletionRequestDeveloperMessageContent::Text(text) => text,
            ChatCompletionRequestDeveloperMessageContent::Array(parts) => {
                join(parts.into_iter().map(|part| match part {
                    ChatCompletionRequestDeveloperMessageContentPart::Text(text) => text.text,
                }))
            }
        })),
        ChatCompletionRequestMessage::User(message) => match message.content {
            ChatCompletionRequestUserMessageContent::Text(text) => Ok(ChatMessage::user(text)),
            ChatCompletionRequestUserMessageContent::Array(parts) => {
                let mut texts = Vec::with_capacity(parts.len());
                for part in parts {
                    match part {
                        ChatCompletionRequestUserMessageContentPart::Text(text) => texts.push(text.text),
                        _ => return Err(unsupported("image, audio and file parts")),
                    }
                }
                Ok(ChatMessage::user(join(texts.into_iter())))
            }
        },
        ChatCompletionRequestMessage::Assistant(message) => {
            if message.tool_calls.as_ref().is_some_and(|calls| !calls.is_empty()) {
                return Err(unsupported("tool calls"));
            }
            let text = match message.content {
                None => message.refusal.unwrap_or_default(),
                Some(ChatCompletionRequestAssistantMessageContent::Text(text)) => text,
                Some(ChatCompletionRequestAssistantMessageContent::Array(parts)) => {
                    join(parts.into_iter().map(|part| match part {
                        ChatCompletionRequestAssistantMessageContentPart::Text(text) => text.text,
                        ChatCompletionRequestAssistantMessageContentPart::Refusal(refusal) => refusal.refusal,
                    }))
                }
            };
            Ok(ChatMessage::assistant(text))
        }
        ChatCompletionRequestMessage::Tool(_) | ChatCompletionRequestMessage::Function(_) => {
            Err(unsupported("tool and function messages"))
        }
    }
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join("\n")
}

/// The messages a specialist sees: its own system prompt first, unless
/// the request brings system messages of its own (they replace it).
pub(crate) fn with_system(messages: &[ChatMessage], system_prompt: &str) -> Vec<ChatMessage> {
    let has_system = messages.iter().any(|message| message.role == chorus_node::Role::System);
    let mut out = Vec::with_capacity(messages.len() + 1);
    if !has_system && !system_prompt.trim().is_empty() {
        out.push(ChatMessage::system(system_prompt));
    }
    out.extend(messages.iter().cloned());
    out
}

/// The question the conductor answers (the last user message) and the
/// conversation before it: each earlier user message with the assistant
/// messages that answered it (none: an empty answer). System messages are
/// not part of the conversation. `None` without a user message.
pub(crate) fn conversation(messages: &[ChatMessage]) -> Option<(&str, Vec<chorus_node::core::Turn>)> {
    let last = messages.iter().rposition(|message| message.role == chorus_node::Role::User)?;
    let mut turns: Vec<chorus_node::core::Turn> = Vec::new();
    for message in &messages[..last] {
        match message.role {
            chorus_node::Role::User => turns.push(chorus_node::core::Turn::new(message.content.clone(), String::new())),
            chorus_node::Role::Assistant => {
                if let Some(turn) = turns.last_mut() {
                    if !turn.answer.is_empty() {
                        turn.answer.push_str("\n\n");
                    }
                    turn.answer.push_str(&message.content);
                }
            }
            chorus_node::Role::System => {}
        }
    }
    Some((messages[last].content.as_str(), turns))
}

#[cfg(test)]
mod tests;
