// The app's commands, named once. `build.rs` includes this file to generate
// an `allow-<command>` permission for each one; `lib.rs` includes it to
// register the same list in `tauri::generate_handler!` and to export
// `COMMANDS` (checked against `capabilities/` and `ui/COMMANDS.md` by
// `tests/capabilities.rs`). Keep the order of ui/COMMANDS.md.

/// Calls `$callback! { ask, cancel, … }` with every command of the app.
macro_rules! with_commands {
    ($callback:ident) => {
        $callback! {
            ask,
            cancel,
            history,
            history_show,
            conversations,
            conversation_show,
            conversation_delete,
            history_delete,
            history_clear,
            recommend,
            list_models,
            pull_model,
            pause_download,
            remove_model,
            network_info,
            peers,
            local_api,
            get_settings,
            set_settings
        }
    };
}

macro_rules! command_names {
    ($($name:ident),*) => {
        /// Every command the UI may invoke, in the order of `ui/COMMANDS.md`.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];
    };
}

with_commands!(command_names);
