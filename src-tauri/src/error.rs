//! The one error the commands reject with: `{ code, message }`, as the UI
//! expects (ui/COMMANDS.md). The UI branches on `code`; `message` is for people.

use chorus_node::{GenerateError, ModelsError, NodeError};
use serde::Serialize;

/// A command's failure as it reaches the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// A stable code (`empty_prompt`, `unknown_model`, `network_off`, …).
    pub code: String,
    /// Words for people.
    pub message: String,
}

/// What every command returns.
pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    /// An error with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }

    /// A blank question.
    pub(crate) fn empty_prompt() -> Self {
        Self::new("empty_prompt", "the question is empty")
    }

    /// The network stack is not running (on-device only).
    pub(crate) fn network_off() -> Self {
        Self::new("network_off", "the network is off: this device is in on-device-only mode")
    }

    /// Something the shell itself failed at (a task died, a lock was poisoned).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }
}

/// The code of a node error, as ui/COMMANDS.md lists them.
#[must_use]
pub fn node_error_code(error: &NodeError) -> &'static str {
    match error {
        NodeError::Generate(GenerateError::EmptyPrompt) => "empty_prompt",
        NodeError::Generate(GenerateError::Busy(_)) => "busy",
        NodeError::Models(models) => models_error_code(models),
        NodeError::Store(_) => "store",
        NodeError::Network(_) => "network",
        NodeError::ModelNotFound { .. } => "model_not_found",
        NodeError::Catalog(_) => "catalog",
        _ => "internal",
    }
}

/// The code of a model operation's error (`unknown_model`, `nothing_fits`,
/// `cancelled`, `hash_mismatch`, …): the node's own codes, which the CLI's
/// `--json` output prints too.
#[must_use]
pub(crate) fn models_error_code(error: &ModelsError) -> &'static str {
    error.code()
}

impl From<NodeError> for CommandError {
    fn from(error: NodeError) -> Self {
        Self::new(node_error_code(&error), error.to_string())
    }
}

impl From<chorus_node::core::StoreError> for CommandError {
    fn from(error: chorus_node::core::StoreError) -> Self {
        Self::new("store", error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let value = serde_json::to_value(CommandError::new("busy", "try later")).unwrap();
        assert_eq!(value, serde_json::json!({"code": "busy", "message": "try later"}));
    }

    #[test]
    fn node_errors_map_to_the_codes_the_ui_knows() {
        let cases: Vec<(NodeError, &str)> = vec![
            (NodeError::Generate(GenerateError::EmptyPrompt), "empty_prompt"),
            (NodeError::Models(ModelsError::UnknownModel { id: "x".into() }), "unknown_model"),
            (NodeError::Models(ModelsError::NotInstalled { id: "x".into() }), "not_installed"),
            (NodeError::Models(ModelsError::Cancelled { id: "x".into() }), "cancelled"),
            (
                NodeError::Models(ModelsError::HashMismatch {
                    id: "x".into(),
                    expected: "a".into(),
                    actual: "b".into(),
                }),
                "hash_mismatch",
            ),
            (NodeError::Models(ModelsError::SizeMismatch { id: "x".into(), expected: 1, actual: 2 }), "size_mismatch"),
            (
                NodeError::Models(ModelsError::InsufficientSpace { path: "/".into(), needed: 2, available: 1 }),
                "insufficient_space",
            ),
            (NodeError::Models(ModelsError::Internal("x".into())), "internal"),
            (NodeError::Network("down".into()), "network"),
            (NodeError::InvalidBench("x".into()), "internal"),
        ];
        for (error, code) in cases {
            let message = error.to_string();
            let command = CommandError::from(error);
            assert_eq!(command.code, code, "{message}");
            assert_eq!(command.message, message);
        }
    }

    #[test]
    fn nothing_fits_comes_from_the_recommender() {
        let catalog = chorus_node::core::Catalog::bundled().unwrap();
        let profile = chorus_node::core::Profile {
            profession: "software developer".into(),
            storage_budget_bytes: 1,
            ..Default::default()
        };
        let error = chorus_node::core::recommend(&catalog, &profile).unwrap_err();
        let command = CommandError::from(NodeError::Models(ModelsError::Recommend(error)));
        assert_eq!(command.code, "nothing_fits");
    }
}
