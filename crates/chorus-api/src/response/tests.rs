use serde_json::{Value, json};

use super::*;

fn responses() -> Responses {
    Responses::new("chorus", 3, 1_700_000_000)
}

/// The JSON of one `data:` frame.
fn data(frame: &str) -> Value {
    let body = frame.strip_prefix("data: ").and_then(|rest| rest.strip_suffix("\n\n")).expect("one SSE frame");
    assert!(!body.contains('\n'), "one line: {body:?}");
    serde_json::from_str(body).expect("JSON")
}

#[test]
fn frames_are_data_lines_ended_by_a_blank_line() {
    assert_eq!(frame("{}"), "data: {}\n\n");
    assert_eq!(DONE, "data: [DONE]\n\n");
    let text = data(&responses().text("line one\nline two \"quoted\"".to_owned()));
    assert_eq!(text["choices"][0]["delta"]["content"], "line one\nline two \"quoted\"");
}

#[test]
fn chunks_are_openai_chunks() {
    let r = responses();
    let role = data(&r.role());
    assert_eq!(role["object"], "chat.completion.chunk");
    assert_eq!(role["id"], r.id);
    assert_eq!(role["model"], "chorus");
    assert_eq!(role["created"], 1_700_000_000);
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");
    assert!(role.get("chorus").is_none());
    let finish = data(&r.finish(FinishReason::Length));
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage = data(&r.usage(usage(5, 7)));
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], json!({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}));
    // A client's own types read them.
    let parsed: CreateChatCompletionStreamResponse =
        serde_json::from_value(data(&r.text("x".to_owned()))).expect("a chunk");
    assert_eq!(parsed.choices[0].delta.content.as_deref(), Some("x"));
}

#[test]
fn the_extension_rides_beside_the_standard_fields() {
    let chunk = data(&responses().extension(json!({"event": "plan", "subtasks": []})));
    assert_eq!(chunk["chorus"]["event"], "plan");
    assert_eq!(chunk["choices"][0]["delta"]["content"], Value::Null);
    let parsed: CreateChatCompletionStreamResponse = serde_json::from_value(chunk).expect("standard clients ignore it");
    assert_eq!(parsed.choices.len(), 1);
}

#[test]
fn a_completion_has_its_message_usage_and_extension() {
    let body: Value = serde_json::from_str(&responses().completion(
        "Hi!".to_owned(),
        FinishReason::Stop,
        usage(10, 2),
        Some(json!({"query_id": "q1"})),
    ))
    .expect("JSON");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"], json!({"role": "assistant", "content": "Hi!"}));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 12);
    assert_eq!(body["chorus"]["query_id"], "q1");
}

#[test]
fn engine_finish_reasons_map_to_stop_or_length() {
    use chorus_node::FinishReason as Engine;
    assert_eq!(finish_reason(Engine::EndOfText), FinishReason::Stop);
    assert_eq!(finish_reason(Engine::StopString), FinishReason::Stop);
    assert_eq!(finish_reason(Engine::MaxTokens), FinishReason::Length);
    assert_eq!(finish_reason(Engine::ContextFull), FinishReason::Length);
}

#[test]
fn a_stream_error_is_an_error_envelope_frame() {
    let error = data(&stream_error(&crate::error::ApiError::internal("decoding failed")));
    assert_eq!(error["error"]["code"], "internal_error");
}
