//! What goes back: completions, stream chunks (with Chorus's `chorus`
//! extension field) and their server-sent-event framing. Pure.

use async_openai::types::chat::{
    ChatChoice, ChatChoiceStream, ChatCompletionResponseMessage, ChatCompletionStreamResponseDelta, CompletionUsage,
    CreateChatCompletionResponse, CreateChatCompletionStreamResponse, FinishReason, Role,
};
use serde::Serialize;

/// The last event of a stream.
pub(crate) const DONE: &str = "data: [DONE]\n\n";

/// One server-sent event carrying `json`.
pub(crate) fn frame(json: &str) -> String {
    // JSON from serde_json never holds a raw newline, so one `data:` line
    // carries it whole.
    format!("data: {json}\n\n")
}

/// OpenAI's finish reason of an engine's.
pub(crate) fn finish_reason(reason: chorus_node::FinishReason) -> FinishReason {
    match reason {
        chorus_node::FinishReason::EndOfText | chorus_node::FinishReason::StopString => FinishReason::Stop,
        chorus_node::FinishReason::MaxTokens | chorus_node::FinishReason::ContextFull => FinishReason::Length,
    }
}

/// Token counts as OpenAI reports them.
pub(crate) fn usage(prompt_tokens: u32, completion_tokens: u32) -> CompletionUsage {
    CompletionUsage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens.saturating_add(completion_tokens),
        prompt_tokens_details: None,
        completion_tokens_details: None,
    }
}

/// An OpenAI object with Chorus's extension field beside it.
#[derive(Debug, Serialize)]
struct Extended<T: Serialize> {
    #[serde(flatten)]
    inner: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    chorus: Option<serde_json::Value>,
}

/// Makes the responses of one request: same id, creation time and model.
#[derive(Debug, Clone)]
pub(crate) struct Responses {
    pub(crate) id: String,
    pub(crate) created: u32,
    pub(crate) model: String,
}

impl Responses {
    /// For a request to `model`, numbered `serial`, at `created` (seconds
    /// since 1970).
    pub(crate) fn new(model: &str, serial: u64, created: u32) -> Self {
        Self { id: format!("chatcmpl-chorus-{created:x}-{serial}"), created, model: model.to_owned() }
    }

    /// The whole answer (`stream: false`).
    pub(crate) fn completion(
        &self,
        text: String,
        finish: FinishReason,
        usage: CompletionUsage,
        chorus: Option<serde_json::Value>,
    ) -> String {
        let message =
            ChatCompletionResponseMessage { content: Some(text), role: Role::Assistant, ..Default::default() };
        let inner = CreateChatCompletionResponse {
            id: self.id.clone(),
            choices: vec![ChatChoice { index: 0, message, finish_reason: Some(finish), logprobs: None }],
            created: self.created,
            model: self.model.clone(),
            object: "chat.completion".to_owned(),
            usage: Some(usage),
            ..Default::default()
        };
        json(&Extended { inner, chorus })
    }

    fn chunk(
        &self,
        choices: Vec<ChatChoiceStream>,
        usage: Option<CompletionUsage>,
        chorus: Option<serde_json::Value>,
    ) -> String {
        let inner = CreateChatCompletionStreamResponse {
            id: self.id.clone(),
            choices,
            created: self.created,
            model: self.model.clone(),
            object: "chat.completion.chunk".to_owned(),
            usage,
            ..Default::default()
        };
        frame(&json(&Extended { inner, chorus }))
    }

    fn choice(delta: ChatCompletionStreamResponseDelta, finish: Option<FinishReason>) -> Vec<ChatChoiceStream> {
        vec![ChatChoiceStream { index: 0, delta, finish_reason: finish, logprobs: None }]
    }

    /// The first chunk: the assistant's role, empty content.
    pub(crate) fn role(&self) -> String {
        let delta = ChatCompletionStreamResponseDelta {
            role: Some(Role::Assistant),
            content: Some(String::new()),
            ..Default::default()
        };
        self.chunk(Self::choice(delta, None), None, None)
    }

    /// A chunk of text.
    pub(crate) fn text(&self, text: String) -> String {
        let delta = ChatCompletionStreamResponseDelta { content: Some(text), ..Default::default() };
        self.chunk(Self::choice(delta, None), None, None)
    }

    /// A chunk with no text, carrying one conductor event in `chorus`.
    pub(crate) fn extension(&self, chorus: serde_json::Value) -> String {
        self.chunk(Self::choice(ChatCompletionStreamResponseDelta::default(), None), None, Some(chorus))
    }

    /// The last chunk of the choice: its finish reason.
    pub(crate) fn finish(&self, finish: FinishReason) -> String {
        self.chunk(Self::choice(ChatCompletionStreamResponseDelta::default(), Some(finish)), None, None)
    }

    /// The usage chunk (`stream_options.include_usage`): no choices.
    pub(crate) fn usage(&self, usage: CompletionUsage) -> String {
        self.chunk(Vec::new(), Some(usage), None)
    }
}

/// An error inside a stream, as OpenAI sends one: `data: {"error": …}`.
pub(crate) fn stream_error(error: &crate::error::ApiError) -> String {
    frame(&error.body())
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| {
        crate::error::ApiError::internal(format!("could not write the response: {error}")).body()
    })
}

#[cfg(test)]
mod tests;
