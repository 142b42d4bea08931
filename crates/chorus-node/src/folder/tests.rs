//! The data folder and key modes (Unix only).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_new_folder_is_private_and_its_parents_are_left_to_the_umask() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("share/chorus");
    assert!(secure(&dir).unwrap().is_empty(), "nothing to tighten in a new folder");
    assert_eq!(mode(&dir), 0o700);
    assert_ne!(mode(&root.path().join("share")) & 0o700, 0);
    assert!(secure(&dir).unwrap().is_empty(), "a second start changes nothing");
}

#[test]
fn an_open_folder_and_key_are_tightened_and_reported() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("chorus");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = dir.join(chorus_net::KEY_FILE);
    std::fs::write(&key, b"key").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let changed = secure(&dir).unwrap();
    assert_eq!(changed, vec![(dir.clone(), 0o755, 0o700), (key.clone(), 0o644, 0o600)]);
    assert_eq!((mode(&dir), mode(&key)), (0o700, 0o600));
    // A read-only key stays read-only: only others' bits go.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_eq!(secure(&dir).unwrap(), vec![(key.clone(), 0o444, 0o400)]);
}

#[test]
fn the_requester_key_and_a_settings_file_are_made_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("chorus");
    std::fs::create_dir(&dir).unwrap();
    let key = dir.join(chorus_net::REQUESTER_KEY_FILE);
    std::fs::write(&key, b"key").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o664)).unwrap();
    secure(&dir).unwrap();
    assert_eq!(mode(&key), 0o600);
    let settings = root.path().join("settings.json");
    std::fs::write(&settings, b"{}").unwrap();
    std::fs::set_permissions(&settings, std::fs::Permissions::from_mode(0o644)).unwrap();
    keep_private(&settings);
    assert_eq!(mode(&settings), 0o600);
    keep_private(&root.path().join("missing.json")); // nothing to do, no panic
}
