//! Tauri's build step, with one `allow-<command>` permission generated for
//! each app command (the list lives in `src/command_list.rs`). The
//! capability files (which window gets which permission) live at the top of
//! the repository, in `capabilities/`, not in Tauri's default
//! `src-tauri/capabilities/`.

include!("src/command_list.rs");

/// The capability files, from this crate's folder (where build scripts run).
const CAPABILITIES: &str = "../capabilities/**/*";

fn main() {
    // tauri-build watches its default folder only; with a pattern of our own,
    // the rerun is ours to ask for.
    println!("cargo::rerun-if-changed=../capabilities");
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    let attributes = tauri_build::Attributes::new().app_manifest(manifest).capabilities_path_pattern(CAPABILITIES);
    if let Err(error) = tauri_build::try_build(attributes) {
        println!("cargo::error=tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
