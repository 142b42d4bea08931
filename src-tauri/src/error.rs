//! The one error the commands reject with: `{ code, message }`, as the UI
//! expects (ui/COMMANDS.md): chorus-node's [`ErrorReply`], the form the
//! CLI's `--json` error events take too. The UI branches on `code`;
//! `message` is for people.

use chorus_node::ErrorReply;

/// A command's failure as it reaches the UI.
pub type CommandError = ErrorReply;

/// What every command returns.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use chorus_node::ErrorCode;

    use super::*;

    /// The node's own tests (chorus-node, `code/tests.rs`) map every node
    /// error to its code; this is the shape the UI receives.
    #[test]
    fn serialises_as_code_and_message() {
        let value = serde_json::to_value(CommandError::new(ErrorCode::Busy, "try later")).unwrap();
        assert_eq!(value, serde_json::json!({"code": "busy", "message": "try later"}));
    }
}
