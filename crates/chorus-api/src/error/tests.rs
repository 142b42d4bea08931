use super::*;

fn json(error: &ApiError) -> serde_json::Value {
    serde_json::from_str(&error.body()).expect("JSON")
}

#[test]
fn the_envelope_is_openais() {
    let body = json(&ApiError::invalid("temperature", "temperature 3 is not in 0..=2"));
    assert_eq!(body["error"]["message"], "temperature 3 is not in 0..=2");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(body["error"]["param"], "temperature");
    let keys: Vec<&String> = body["error"].as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 4);
}

#[test]
fn each_failure_has_its_status() {
    let table = [
        (ApiError::bad_json("x"), 400, "invalid_json"),
        (ApiError::unsupported("n", "x"), 400, "unsupported_parameter"),
        (ApiError::unauthorized(), 401, "invalid_api_key"),
        (ApiError::unknown_model("gpt-4"), 404, "model_not_found"),
        (ApiError::unknown_route("GET", "/v2"), 404, "unknown_url"),
        (ApiError::method_not_allowed("GET", "/v1/chat/completions"), 405, "method_not_allowed"),
        (ApiError::too_large(1 << 20), 413, "request_too_large"),
        (ApiError::busy(4), 429, "busy"),
        (ApiError::loading(), 503, "model_loading"),
        (ApiError::internal("x"), 500, "internal_error"),
    ];
    for (error, status, code) in table {
        assert_eq!(error.status.as_u16(), status, "{error:?}");
        assert_eq!(json(&error)["error"]["code"], code);
    }
}

#[test]
fn engine_errors_map_to_request_or_server_faults() {
    assert_eq!(from_generate(&GenerateError::EmptyPrompt).status, StatusCode::BAD_REQUEST);
    let long = from_generate(&GenerateError::PromptTooLong { tokens: 9000, limit: 2048 });
    assert_eq!((long.status, long.code), (StatusCode::BAD_REQUEST, "context_length_exceeded"));
    let grammar = from_generate(&GenerateError::InvalidConstraint("bad".to_owned()));
    assert_eq!(grammar.param.as_deref(), Some("response_format"));
    assert_eq!(from_generate(&GenerateError::Busy(8)).status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from_generate(&GenerateError::WorkerGone).status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn a_message_with_quotes_stays_valid_json() {
    let body = json(&ApiError::unknown_model("a\"b\\c\n"));
    assert!(body["error"]["message"].as_str().expect("text").contains("a\"b\\c\n"));
}
