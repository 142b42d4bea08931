//! The Chorus app: a Tauri 2 shell over `chorus-node` for the Svelte UI in
//! `ui/`. It holds no logic of its own: each command (ui/COMMANDS.md)
//! converts its arguments, calls the node, and passes the node's values and
//! events through unchanged; errors reach the UI as `{ code, message }`.
//!
//! Environment: `CHORUS_DATA_DIR` (data directory, overrides the settings),
//! `CHORUS_CATALOG` (a catalog file), `CHORUS_LISTEN` (comma-separated
//! multiaddrs to listen on when the network runs), `CHORUS_NO_MDNS=1`,
//! `CHORUS_LOCAL_SPECIALISTS` (the specialists this device runs itself,
//! comma-separated, or `none`: the CLI's `--local-specialists`),
//! `CHORUS_CONFIG_DIR` (where
//! `settings.json` lives), `CHORUS_MODELS_DIR` (where the embedded model is
//! looked for first; without a copy there the app uses the one it bundles,
//! see `bundled.rs`), `CHORUS_CACHE` (where the specialist vectors of
//! semantic routing are cached, as for the `chorus` command; the sentence
//! model itself is bundled, see `sentence_model.rs`), `RUST_LOG`.

include!("command_list.rs");

mod bundled;
mod commands;
mod error;
mod local_api;
mod sentence_model;
mod state;

pub use error::{CommandError, CommandResult};
pub use state::{AppState, Overrides};

use tauri::Manager;

/// `tauri::generate_handler!` over every command of [`COMMANDS`].
macro_rules! handler {
    ($($name:ident),*) => {
        tauri::generate_handler![$(commands::$name),*]
    };
}

fn init_tracing() {
    // The app's and the node's own news at info; the rest (llama.cpp's
    // model-loading chatter included) only when it warns. RUST_LOG overrides.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,chorus_app_lib=info,chorus_node=info,chorus_net=info")
    });
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Builds and runs the app until its last window closes.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    init_tracing();
    let overrides = Overrides::from_env();
    let builder = tauri::Builder::default().plugin(tauri_plugin_store::Builder::new().build());
    // Opens the bundled model inside the APK (bundled.rs); the window is
    // granted none of its commands.
    #[cfg(target_os = "android")]
    let builder = builder.plugin(tauri_plugin_fs::init());
    let result = builder
        .setup(move |app| {
            let state = AppState::start(app.handle(), &overrides);
            app.manage(state);
            let handle = app.handle().clone();
            // Joining the network (privacy: network) must not hold the window back.
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<AppState>();
                if let Err(error) = state.apply_stored().await {
                    tracing::error!(%error, "could not apply the stored settings");
                }
            });
            Ok(())
        })
        .invoke_handler(with_commands!(handler))
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "the app stopped with an error");
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
