//! A chat with one specialist on this device: its base model, its system
//! prompt (unless the request brings one), the whole conversation through
//! the model's chat template, the request's sampling over the
//! specialist's own.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::Response;
use chorus_node::{ChatError, GenerateRequest, Generation, GenerationEvent};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{ApiError, from_generate};
use crate::request::{ChatPlan, with_system};
use crate::response::{self, DONE, Responses};
use crate::state::Shared;

/// Whether `model` is a specialist this device runs.
pub(crate) fn runs_here(shared: &Shared, model: &str) -> bool {
    shared.node().local_specialists().iter().any(|specialist| specialist.id == model)
}

/// Answers `plan` with the specialist it names, holding `slot` until the
/// answer is complete or the client leaves.
pub(crate) async fn respond(
    shared: Arc<Shared>,
    plan: ChatPlan,
    slot: OwnedSemaphorePermit,
) -> Result<Response, ApiError> {
    let node = shared.node();
    let specialist = node.catalog().specialist(&plan.model).ok_or_else(|| ApiError::unknown_model(&plan.model))?;
    let base = node.specialist_sampling(&plan.model).ok_or_else(|| ApiError::unknown_model(&plan.model))?;
    let sampling = plan.overrides.apply(base, crate::key::random_u32());
    sampling.validate().map_err(|message| ApiError::invalid("temperature", message))?;
    let mut request =
        GenerateRequest::chat(with_system(&plan.messages, &specialist.system_prompt)).with_sampling(sampling);
    if let Some(constraint) = plan.constraint.clone() {
        request = request.with_constraint(constraint);
    }
    let model = plan.model.clone();
    // Loading a model blocks: off the async threads.
    let generation = tokio::task::spawn_blocking(move || node.chat_with_specialist(&model, request))
        .await
        .map_err(|error| ApiError::internal(format!("the generation did not start: {error}")))?
        .map_err(|error| chat_error(&plan.model, &error))?;
    let responses = Responses::new(&plan.model, shared.next_serial(), crate::state::now());
    if plan.stream {
        Ok(crate::http::event_stream(stream(generation, responses, plan.include_usage, slot)))
    } else {
        let completion = generation.complete().await.map_err(|error| from_generate(&error))?;
        drop(slot);
        let body = responses.completion(
            completion.text,
            response::finish_reason(completion.finish_reason),
            response::usage(completion.prompt_tokens, completion.completion_tokens),
            None,
        );
        Ok(crate::http::json_response(body))
    }
}

fn chat_error(model: &str, error: &ChatError) -> ApiError {
    match error {
        ChatError::NotServed(_) => ApiError::unknown_model(model),
        ChatError::Generate(error) => from_generate(error),
        _ => ApiError::internal(error.to_string()),
    }
}

/// Where a streamed answer is.
struct Streaming {
    generation: Generation,
    responses: Responses,
    include_usage: bool,
    started: bool,
    finished: bool,
    /// Held until the stream is dropped: when the answer ends or the client leaves.
    _slot: OwnedSemaphorePermit,
}

/// The answer as server-sent events: the role, the text as it comes, the
/// finish reason, the usage if asked, `[DONE]`. Dropping the stream (the
/// client left) drops the generation, which cancels it, and frees the slot.
fn stream(
    generation: Generation,
    responses: Responses,
    include_usage: bool,
    slot: OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Result<String, Infallible>> + Send {
    let state = Streaming { generation, responses, include_usage, started: false, finished: false, _slot: slot };
    futures::stream::unfold(state, |mut state| async move {
        if state.finished {
            return None;
        }
        if !state.started {
            state.started = true;
            return Some((Ok(state.responses.role()), state));
        }
        let frames = match state.generation.next_event().await {
            Some(GenerationEvent::Token(text)) => state.responses.text(text),
            Some(GenerationEvent::Done(completion)) => {
                state.finished = true;
                let mut frames = state.responses.finish(response::finish_reason(completion.finish_reason));
                if state.include_usage {
                    frames.push_str(
                        &state.responses.usage(response::usage(completion.prompt_tokens, completion.completion_tokens)),
                    );
                }
                frames.push_str(DONE);
                frames
            }
            Some(GenerationEvent::Failed(error)) => {
                state.finished = true;
                response::stream_error(&from_generate(&error)) + DONE
            }
            None => {
                state.finished = true;
                response::stream_error(&ApiError::internal("the generation ended without an answer")) + DONE
            }
        };
        Some((Ok(frames), state))
    })
}
