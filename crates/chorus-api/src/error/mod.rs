//! Every failure as OpenAI sends it: an HTTP status and
//! `{"error": {"message", "type", "param", "code"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chorus_node::GenerateError;
use serde::Serialize;

/// A failure of one request, in OpenAI's error envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`,
    /// `not_found_error`, `rate_limit_error`, `service_unavailable_error`,
    /// `server_error`.
    pub kind: &'static str,
    /// A stable code for programs (`invalid_value`, `model_not_found`, …).
    pub code: &'static str,
    /// The request field at fault, when there is one.
    pub param: Option<String>,
    /// Words for people.
    pub message: String,
}

/// The JSON body of an error.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, code, param: None, message: message.into() }
    }

    /// 400: a value out of range or of the wrong shape.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_value", message)
        }
    }

    /// 400: a field or value Chorus does not support (as OpenAI refuses a
    /// parameter a model does not support).
    pub fn unsupported(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "unsupported_parameter", message)
        }
    }

    /// 400: the body is not JSON, or not a chat completion request.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_json", message)
    }

    /// 401: no key, or the wrong one.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            "missing or wrong API key: send `Authorization: Bearer <key>` with the key of <data-dir>/api.key",
        )
    }

    /// 404: no such model here.
    pub fn unknown_model(model: &str) -> Self {
        Self {
            param: Some("model".to_owned()),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "not_found_error",
                "model_not_found",
                format!("the model `{model}` does not exist here: GET /v1/models lists them"),
            )
        }
    }

    /// 404: no such route.
    pub fn unknown_route(method: &str, path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", "unknown_url", format!("no route {method} {path}"))
    }

    /// 405: the route exists, not with this method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method_not_allowed",
            format!("{path} does not take {method}"),
        )
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("the request body is over {limit} bytes"),
        )
    }

    /// 429: every generation slot is taken.
    pub fn busy(slots: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "busy",
            format!("all {slots} generation slots are busy: retry shortly"),
        )
    }

    /// 503: the model is still loading.
    #[must_use]
    pub fn loading() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable_error",
            "model_loading",
            "the model is still loading: retry shortly (GET /health says when it is ready)",
        )
    }

    /// 500: something failed on this side.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal_error", message)
    }

    /// The JSON of the envelope.
    #[must_use]
    pub fn body(&self) -> String {
        let envelope = Envelope {
            error: Body { message: &self.message, kind: self.kind, param: self.param.as_deref(), code: self.code },
        };
        serde_json::to_string(&envelope).unwrap_or_else(|_| String::from(r#"{"error":{"message":"error"}}"#))
    }
}

/// An engine error as the HTTP API reports it: what the request asked
/// wrong is 400, a full engine 429, the rest 500.
#[must_use]
pub(crate) fn from_generate(error: &GenerateError) -> ApiError {
    match error {
        GenerateError::EmptyPrompt => ApiError::invalid("messages", "the messages are empty"),
        GenerateError::PromptTooLong { .. } => {
            ApiError { code: "context_length_exceeded", ..ApiError::invalid("messages", error.to_string()) }
        }
        GenerateError::InvalidSampling(_) => ApiError::invalid("temperature", error.to_string()),
        GenerateError::InvalidConstraint(_) => ApiError::invalid("response_format", error.to_string()),
        GenerateError::Busy(_) => ApiError { message: error.to_string(), ..ApiError::busy(0) },
        _ => ApiError::internal(error.to_string()),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests;
