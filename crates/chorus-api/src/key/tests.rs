use super::*;

#[test]
fn a_key_is_made_once_private_and_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let (key, path) = load_or_create(&data).expect("made");
    assert_eq!(path, data.join("api.key"));
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|byte| byte.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let (again, _) = load_or_create(&data).expect("read");
    assert_eq!(again, key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    let other = tempfile::tempdir().expect("dir");
    assert_ne!(load_or_create(other.path()).expect("made").0, key);
}

#[test]
fn a_file_without_a_key_is_an_error() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join(KEY_FILE), "short\n").expect("write");
    assert!(matches!(load_or_create(dir.path()), Err(KeyError::Empty(_))));
}

#[test]
fn keys_compare_whole() {
    assert!(same(b"abcd", b"abcd"));
    assert!(!same(b"abcd", b"abce"));
    assert!(!same(b"abc", b"abcd"));
    assert!(!same(b"", b"a"));
    assert_eq!(hex(&[0, 15, 255]), "000fff");
}
