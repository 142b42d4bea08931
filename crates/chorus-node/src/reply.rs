//! The one `{code, message}` form failures reach people and programs in:
//! the CLI's `--json` `error` events and the app's command errors
//! (ui/COMMANDS.md).

use serde::{Deserialize, Serialize};

use crate::code::ErrorCode;
use crate::models::ModelsError;
use crate::node::NodeError;
use crate::settings::InvalidSettings;

/// A failure as shells report it: `{"code": …, "message": …}`. The app's
/// commands reject with it; the CLI's `--json` `error` events are it plus
/// `"event": "error"`. `code` is for programs, `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ErrorReply {
    /// A stable code (`empty_prompt`, `unknown_model`, `network_off`, …).
    pub code: ErrorCode,
    /// Words for people.
    pub message: String,
}

impl ErrorReply {
    /// A reply with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// A blank question.
    #[must_use]
    pub fn empty_prompt() -> Self {
        Self::new(ErrorCode::EmptyPrompt, "the question is empty")
    }

    /// The network stack is not running (on-device only).
    #[must_use]
    pub fn network_off() -> Self {
        Self::new(ErrorCode::NetworkOff, "the network is off: this device is in on-device-only mode")
    }

    /// Something the shell itself failed at (a task died, a lock was poisoned).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// The reply as an event of a stream (`chorus … --json`, the app's
    /// channels): `{"event": "error", "code": …, "message": …}`.
    #[must_use]
    pub fn to_event(&self) -> serde_json::Value {
        serde_json::json!({"event": "error", "code": self.code, "message": self.message})
    }
}

impl From<NodeError> for ErrorReply {
    fn from(error: NodeError) -> Self {
        Self::new(error.code(), error.to_string())
    }
}

impl From<ModelsError> for ErrorReply {
    fn from(error: ModelsError) -> Self {
        Self::new(error.code(), error.to_string())
    }
}

impl From<chorus_core::StoreError> for ErrorReply {
    fn from(error: chorus_core::StoreError) -> Self {
        Self::new(ErrorCode::of_store(&error), error.to_string())
    }
}

impl From<InvalidSettings> for ErrorReply {
    fn from(error: InvalidSettings) -> Self {
        Self::new(ErrorCode::InvalidSettings, error.0)
    }
}
