//! The command list, the capability file and the UI's contract agree: every
//! command the app registers (`COMMANDS`, from which `generate_handler!` is
//! built too) is granted to the main window, and is exactly the set of
//! commands ui/COMMANDS.md lists.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use chorus_app_lib::COMMANDS;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The main window's capability, in the top-level `capabilities/` (build.rs
/// points tauri-build there).
fn capability() -> serde_json::Value {
    serde_json::from_str(&read(&manifest_dir().join("../capabilities/default.json"))).unwrap()
}

fn granted() -> BTreeSet<String> {
    capability()["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|permission| permission.as_str().expect("permissions are plain identifiers").to_owned())
        .collect()
}

/// The command names of the table under `## Commands` in ui/COMMANDS.md.
fn documented_commands() -> Vec<String> {
    let text = read(&manifest_dir().join("../ui/COMMANDS.md"));
    let section = text.split("\n## Commands").nth(1).expect("ui/COMMANDS.md has a ## Commands section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_is_granted_to_the_main_window() {
    let granted = granted();
    for command in COMMANDS {
        let permission = format!("allow-{}", command.replace('_', "-"));
        assert!(granted.contains(&permission), "{command}: {permission} is not in capabilities/default.json");
    }
}

#[test]
fn the_main_window_gets_nothing_else() {
    let expected: BTreeSet<String> =
        COMMANDS.iter().map(|command| format!("allow-{}", command.replace('_', "-"))).collect();
    assert_eq!(granted(), expected, "the UI needs only the app's commands (channels need no permission)");
    assert_eq!(capability()["windows"], serde_json::json!(["main"]));
}

#[test]
fn commands_match_the_ui_contract() {
    let documented = documented_commands();
    assert_eq!(documented.len(), 19, "{documented:?}");
    let registered: Vec<String> = COMMANDS.iter().map(|command| (*command).to_owned()).collect();
    assert_eq!(registered, documented, "src/command_list.rs and ui/COMMANDS.md list different commands");
}

#[test]
fn the_ui_invokes_the_same_commands() {
    // ui/src/lib/tauri.ts keeps its own list of what it invokes.
    let text = read(&manifest_dir().join("../ui/src/lib/tauri.ts"));
    let list = text.split("export const COMMANDS = [").nth(1).and_then(|rest| rest.split(']').next()).unwrap();
    let invoked: Vec<String> =
        list.split(',').map(|item| item.trim().trim_matches('\'').to_owned()).filter(|item| !item.is_empty()).collect();
    let registered: Vec<String> = COMMANDS.iter().map(|command| (*command).to_owned()).collect();
    assert_eq!(registered, invoked);
}

#[test]
fn the_window_is_the_one_the_capability_names() {
    let config: serde_json::Value = serde_json::from_str(&read(&manifest_dir().join("tauri.conf.json"))).unwrap();
    let windows = config["app"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["label"], "main");
    assert_eq!(config["build"]["frontendDist"], "../ui/dist");
    assert!(config["build"].get("beforeBuildCommand").is_none() && config["build"].get("beforeDevCommand").is_none());
}
