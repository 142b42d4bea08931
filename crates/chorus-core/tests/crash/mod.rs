//! Shared by the journal tests: a child process (this same test binary,
//! running one of its ignored tests) writes to a store, says so, and is
//! SIGKILLed; then the store is opened again as the next start would.

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chorus_core::{Store, StoreError};

/// What a child process prints once it has written what the test needs.
pub(crate) const READY_MARK: &str = "CHORUS-JOURNAL-CHILD-READY";

/// Runs the ignored test `child_test` of this binary in a child process with
/// `dir_var` set to `dir`, reads its output until the [`READY_MARK`] line,
/// lets it run on for `delay` (zero: none), kills it (SIGKILL: no
/// destructor runs, sled gets no chance to flush) and returns what followed
/// the mark on that line.
pub(crate) fn kill_when_ready(
    child_test: &str,
    dir_var: &str,
    dir: &Path,
    delay: Duration,
) -> Result<String, Box<dyn Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([child_test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(dir_var, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut ready = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(rest) = line.split(READY_MARK).nth(1) {
            ready = Some(rest.trim().to_owned());
            break;
        }
    }
    std::thread::sleep(delay);
    child.kill()?;
    let status = child.wait()?;
    assert!(!status.success(), "the child process ended by itself");
    ready.ok_or_else(|| "the child never got ready".into())
}

/// Opens the store a killed child held. Its lock dies with the process;
/// waited for boundedly all the same.
pub(crate) fn reopen(dir: &Path) -> Result<Store, Box<dyn Error>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            other => return Ok(other?),
        }
    }
}

/// The database under the store's back. A store just dropped may hold
/// sled's lock a moment longer (see `Store::open`): waited for, boundedly.
pub(crate) fn raw(dir: &Path) -> Result<sled::Db, Box<dyn Error>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match sled::open(dir) {
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}
