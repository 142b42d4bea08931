//! Tauri's build step, with one `allow-<command>` permission generated for
//! each app command (the list lives in `src/command_list.rs`).

include!("src/command_list.rs");

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(error) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        println!("cargo::error=tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
