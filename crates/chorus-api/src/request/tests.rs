use serde_json::json;

use super::*;

fn request(body: serde_json::Value) -> Result<ChatPlan, ApiError> {
    plan(parse(body.to_string().as_bytes())?)
}

fn hello(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"model": "chorus", "messages": [{"role": "user", "content": "Hello"}]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

#[test]
fn a_plain_request_keeps_the_models_settings() {
    let plan = request(hello(json!({}))).expect("valid");
    assert_eq!(plan.model, "chorus");
    assert_eq!(plan.messages, vec![ChatMessage::user("Hello")]);
    assert_eq!(plan.overrides, Overrides::default());
    assert!(!plan.stream && !plan.include_usage && plan.constraint.is_none());
}

#[test]
fn roles_and_content_parts_become_engine_messages() {
    let plan = request(json!({"model": "m", "messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Again", "name": "ann"},
    ]}))
    .expect("valid");
    assert_eq!(
        plan.messages,
        vec![
            ChatMessage::system("Be brief."),
            ChatMessage::system("a\nb"),
            ChatMessage::user("Hi"),
            ChatMessage::assistant("Hello!"),
            ChatMessage::user("Again"),
        ]
    );
    let (question, turns) = conversation(&plan.messages).unwrap();
    assert_eq!(question, "Again");
    assert!(turns.iter().all(|turn| turn.question != "Again"), "{turns:?}");
}

#[test]
fn sampling_fields_are_read_and_max_completion_tokens_wins() {
    let plan = request(hello(json!({
        "temperature": 0, "top_p": 0.5, "seed": 7, "max_tokens": 10, "max_completion_tokens": 20,
        "stop": ["\n", ""], "stream": true, "stream_options": {"include_usage": true},
    })))
    .expect("valid");
    assert_eq!(plan.overrides.temperature, Some(0.0));
    assert_eq!(plan.overrides.top_p, Some(0.5));
    assert_eq!(plan.overrides.seed, Some(7));
    assert_eq!(plan.overrides.max_tokens, Some(20));
    assert_eq!(plan.overrides.stop, vec!["\n".to_owned()]);
    assert!(plan.stream && plan.include_usage);
    let sampling = plan.overrides.apply(SamplingParams::default(), 99);
    assert_eq!((sampling.temperature, sampling.seed, sampling.max_tokens), (0.0, 7, 20));
    assert!(sampling.validate().is_ok());
    let single = request(hello(json!({"stop": "END", "max_tokens": 3}))).expect("valid");
    assert_eq!((single.overrides.stop, single.overrides.max_tokens), (vec!["END".to_owned()], Some(3)));
}

#[test]
fn top_p_zero_is_greedy_and_valid_for_the_engine() {
    let plan = request(hello(json!({"top_p": 0}))).expect("valid");
    let sampling = plan.overrides.apply(SamplingParams::default(), 1);
    assert_eq!((sampling.top_k, sampling.top_p), (1, 1.0));
    assert!(sampling.validate().is_ok());
}

#[test]
fn seeds_fold_into_32_bits() {
    assert_eq!(seed(7), 7);
    assert_eq!(seed(-1), 0);
    assert_ne!(seed(1 << 40), seed(0));
}

#[test]
fn response_formats_become_constraints() {
    let object = request(hello(json!({"response_format": {"type": "json_object"}}))).expect("valid");
    assert_eq!(object.constraint, Some(Constraint::JsonSchema(r#"{"type":"object"}"#.to_owned())));
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let with_schema = request(hello(json!({"response_format": {
        "type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": true}
    }})))
    .expect("valid");
    assert_eq!(with_schema.constraint, Some(Constraint::JsonSchema(schema.to_string())));
    let text = request(hello(json!({"response_format": {"type": "text"}}))).expect("valid");
    assert_eq!(text.constraint, None);
}

#[test]
fn bad_values_are_400_naming_the_field() {
    let table = [
        (json!({"temperature": 2.5}), "temperature", "invalid_value"),
        (json!({"temperature": -0.1}), "temperature", "invalid_value"),
        (json!({"top_p": 1.5}), "top_p", "invalid_value"),
        (json!({"presence_penalty": 3}), "presence_penalty", "invalid_value"),
        (json!({"max_tokens": 0}), "max_tokens", "invalid_value"),
        (json!({"max_completion_tokens": 100000}), "max_completion_tokens", "invalid_value"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), "stop", "invalid_value"),
        (json!({"n": 2}), "n", "unsupported_parameter"),
        (json!({"logprobs": true}), "logprobs", "unsupported_parameter"),
        (json!({"tools": [{"type": "function", "function": {"name": "f"}}]}), "tools", "unsupported_parameter"),
        (json!({"model": " "}), "model", "invalid_value"),
        (json!({"messages": []}), "messages", "invalid_value"),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": true}}}),
            "response_format",
            "invalid_value",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            "messages[0]",
            "unsupported_parameter",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}),
            "messages[0]",
            "unsupported_parameter",
        ),
    ];
    for (extra, param, code) in table {
        let error = request(hello(extra.clone())).expect_err(&extra.to_string());
        assert_eq!(error.status.as_u16(), 400, "{extra}");
        assert_eq!(error.param.as_deref(), Some(param), "{extra}");
        assert_eq!(error.code, code, "{extra}");
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let plan = request(hello(json!({"user": "u", "metadata": {"a": "b"}, "chorus_future": 1, "store": false})));
    assert!(plan.is_ok(), "{plan:?}");
}

#[test]
fn bodies_that_are_not_requests_are_invalid_json() {
    for body in [&b"{"[..], b"[]", b"null", b"{\"model\": 3}", b"{\"model\":\"m\"}", b"\xff\xfe", b""] {
        let error = parse(body).expect_err("refused");
        assert_eq!((error.status.as_u16(), error.code), (400, "invalid_json"));
    }
    let unknown_role = hello(json!({"messages": [{"role": "robot", "content": "x"}]}));
    assert_eq!(parse(unknown_role.to_string().as_bytes()).expect_err("refused").code, "invalid_json");
}

#[test]
fn a_specialists_system_prompt_goes_first_unless_the_request_has_one() {
    let turns = vec![ChatMessage::user("Hi"), ChatMessage::assistant("Hello"), ChatMessage::user("Again")];
    let with = with_system(&turns, "You write code.");
    assert_eq!(with.len(), 4);
    assert_eq!(with[0], ChatMessage::system("You write code."));
    let own = [vec![ChatMessage::system("Be a pirate.")], turns].concat();
    assert_eq!(with_system(&own, "You write code."), own);
}

#[test]
fn the_conductor_gets_the_last_user_message_and_the_turns_before_it() {
    let messages = vec![
        ChatMessage::system("be brief"),
        ChatMessage::user("Names for a bakery?"),
        ChatMessage::assistant("1. Rise"),
        ChatMessage::user("And a slogan?"),
        ChatMessage::user("Make it shorter"),
    ];
    let (question, turns) = conversation(&messages).unwrap();
    assert_eq!(question, "Make it shorter");
    let pairs: Vec<(&str, &str)> = turns.iter().map(|t| (t.question.as_str(), t.answer.as_str())).collect();
    assert_eq!(pairs, [("Names for a bakery?", "1. Rise"), ("And a slogan?", "")]);
    assert!(conversation(&[ChatMessage::system("only")]).is_none());
}
