//! A chat with `chorus`, the conductor: the last user message is the
//! question, the messages before it the conversation it continues (read on
//! this device as `chorus ask --continue` reads the journal's); the
//! conductor's events ride in the `chorus` extension field.

use std::convert::Infallible;
use std::sync::Arc;

use async_openai::types::chat::FinishReason;
use axum::response::Response;
use chorus_node::core::ConductorEvent;
use chorus_node::{Continues, RunningQuery};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::ApiError;
use crate::request::{ChatPlan, conversation};
use crate::response::{self, DONE, Responses};
use crate::state::Shared;

/// Answers `plan` through the conductor, holding `slot` until the answer
/// is complete or the client leaves.
pub(crate) async fn respond(
    shared: Arc<Shared>,
    plan: ChatPlan,
    slot: OwnedSemaphorePermit,
) -> Result<Response, ApiError> {
    if plan.constraint.is_some() {
        return Err(ApiError::unsupported(
            "response_format",
            "the conductor (`chorus`) writes text: ask a specialist model for JSON",
        ));
    }
    let (question, turns) =
        conversation(&plan.messages).filter(|(text, _)| !text.trim().is_empty()).ok_or_else(|| {
            ApiError::invalid("messages", "no user message with text: the conductor answers the last one")
        })?;
    let conversation = shared
        .node()
        .conduct_in(question, Continues::Turns(turns), false)
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let responses = Responses::new(&plan.model, shared.next_serial(), crate::state::now());
    if plan.stream {
        return Ok(crate::http::event_stream(stream(conversation, responses, plan.include_usage, slot)));
    }
    let query_id = conversation.query_id.to_string();
    let mut events = conversation.events;
    let mut answer = String::new();
    let mut tokens = 0_u32;
    let mut seen = Vec::new();
    while let Some(event) = events.recv().await {
        match event {
            ConductorEvent::Token { text } => answer.push_str(&text),
            ConductorEvent::AnswerReset { .. } => answer.clear(),
            ConductorEvent::Error { code, message } => return Err(failure(&code, message)),
            ConductorEvent::Done { answer: whole, .. } => {
                answer = whole;
                break;
            }
            other => {
                if let ConductorEvent::SubtaskDone { tokens: done, .. } = other {
                    tokens = tokens.saturating_add(done);
                }
                seen.push(extension(&other));
            }
        }
    }
    drop(slot);
    let chorus = serde_json::json!({"query_id": query_id, "events": seen});
    let body = responses.completion(answer, FinishReason::Stop, response::usage(0, tokens), Some(chorus));
    Ok(crate::http::json_response(body))
}

/// A conductor `error` event as an API error.
fn failure(code: &str, message: String) -> ApiError {
    if code == "empty_prompt" { ApiError::invalid("messages", message) } else { ApiError::internal(message) }
}

/// An event as the `chorus` field carries it: the `chorus ask --json`
/// form; `done` without its `answer` (the content has it).
fn extension(event: &ConductorEvent) -> serde_json::Value {
    let mut value = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let (ConductorEvent::Done { .. }, Some(object)) = (event, value.as_object_mut()) {
        object.remove("answer");
    }
    value
}

struct Streaming {
    conversation: RunningQuery,
    responses: Responses,
    include_usage: bool,
    tokens: u32,
    started: bool,
    finished: bool,
    _slot: OwnedSemaphorePermit,
}

/// The conductor's events as server-sent events: text as `content`
/// deltas, every other event in a chunk of its own under `chorus`.
/// Dropping the stream drops the conversation, which cancels the query.
fn stream(
    conversation: RunningQuery,
    responses: Responses,
    include_usage: bool,
    slot: OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Result<String, Infallible>> + Send {
    let state =
        Streaming { conversation, responses, include_usage, tokens: 0, started: false, finished: false, _slot: slot };
    futures::stream::unfold(state, |mut state| async move {
        if state.finished {
            return None;
        }
        if !state.started {
            state.started = true;
            let query = serde_json::json!({"event": "query", "query_id": state.conversation.query_id.to_string()});
            let frames = state.responses.role() + &state.responses.extension(query);
            return Some((Ok(frames), state));
        }
        let frames = match state.conversation.events.recv().await {
            Some(ConductorEvent::Token { text }) => state.responses.text(text),
            Some(ConductorEvent::Error { code, message }) => {
                state.finished = true;
                response::stream_error(&failure(&code, message)) + DONE
            }
            Some(event @ ConductorEvent::Done { .. }) => {
                state.finished = true;
                let mut frames = state.responses.extension(extension(&event));
                frames.push_str(&state.responses.finish(FinishReason::Stop));
                if state.include_usage {
                    frames.push_str(&state.responses.usage(response::usage(0, state.tokens)));
                }
                frames.push_str(DONE);
                frames
            }
            Some(event) => {
                if let ConductorEvent::SubtaskDone { tokens, .. } = event {
                    state.tokens = state.tokens.saturating_add(tokens);
                }
                state.responses.extension(extension(&event))
            }
            None => {
                state.finished = true;
                response::stream_error(&ApiError::internal("the conductor ended without an answer")) + DONE
            }
        };
        Some((Ok(frames), state))
    })
}
