//! What the CLI's multi-process tests share: `chorus` processes on loopback
//! with bounded waits, killed when their guard drops, and `chorus serve`
//! peers read back from their `listening` event.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Startup (`listening`) of a serving process.
pub const START: Duration = Duration::from_secs(60);
/// The DHT announcement, once a second peer is there.
pub const ANNOUNCE: Duration = Duration::from_secs(90);
/// A whole query, on two shared cores.
pub const QUERY: Duration = Duration::from_secs(300);

pub fn model() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/setup.sh first");
    path
}

/// The arguments every `chorus` run here starts with.
pub fn base_args(data: &Path) -> Vec<String> {
    vec![
        "--data-dir".to_owned(),
        data.display().to_string(),
        "--model".to_owned(),
        model().display().to_string(),
        "--threads".to_owned(),
        "1".to_owned(),
    ]
}

/// `program args…` with a clean environment for chorus (no inherited
/// bootstrap peers, data dir or log filter).
pub fn command(program: &str, args: &[String]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("CHORUS_BOOTSTRAP")
        .env_remove("CHORUS_DATA_DIR")
        .stdin(Stdio::null());
    command
}

pub fn chorus_bin() -> &'static str {
    env!("CARGO_BIN_EXE_chorus")
}

/// Only one test of this file at a time, across nextest's processes.
pub fn serial() -> File {
    let path = std::env::temp_dir().join("chorus-network-cli-tests.lock");
    let file = File::options().create(true).truncate(false).write(true).open(&path).expect("lock file");
    file.lock().expect("lock");
    file
}

/// A child process that is killed (SIGKILL) and reaped when dropped. Its
/// stdout is read line by line on a thread; its stderr goes to a file.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub lines: Receiver<String>,
    /// Every stdout line read so far, as JSON.
    pub seen: Vec<Value>,
    pub stderr: PathBuf,
    pub closed: bool,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command, dir: &Path) -> Self {
        let stderr = dir.join(format!("{name}.stderr"));
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { name: name.to_owned(), child, lines, seen: Vec::new(), stderr, closed: false }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What went wrong, with what the process said.
    pub fn context(&self) -> String {
        let tail: Vec<String> = self
            .seen
            .iter()
            .filter(|event| event["event"] != "subtask_token" && event["event"] != "token")
            .map(Value::to_string)
            .collect();
        let stderr = self.stderr();
        let stderr_tail: String = stderr.chars().rev().take(4000).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}: stdout (tokens left out):\n{}\nstderr (tail):\n{stderr_tail}", self.name, tail.join("\n"))
    }

    /// The next stdout line as JSON, or `None` at the end of stdout.
    /// Panics when nothing comes before `deadline`.
    pub fn next_event(&mut self, deadline: Instant, what: &str) -> Option<Value> {
        if self.closed {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("{}: not JSON ({error}): {line}\n{}", self.name, self.context()));
                self.seen.push(value.clone());
                Some(value)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("{}: no {what} within the time allowed\n{}", self.name, self.context())
            }
        }
    }

    /// Reads events until one matches; panics on timeout or end of output.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_event(deadline, what) {
                Some(event) if matches(&event) => return event,
                Some(_) => {}
                None => panic!("{}: output ended before {what}\n{}", self.name, self.context()),
            }
        }
    }

    /// Reads to the end of stdout, then waits for the exit (bounded): the
    /// exit status and every event the process printed, from the first.
    pub fn finish(&mut self, timeout: Duration) -> (ExitStatus, Vec<Value>) {
        let deadline = Instant::now() + timeout;
        while self.next_event(deadline, "the end of its output").is_some() {}
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, self.seen.clone());
            }
            assert!(Instant::now() < deadline, "{} did not exit in time\n{}", self.name, self.context());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `chorus serve` process and what its `listening` event said.
pub struct Server {
    pub proc: Proc,
    pub peer_id: String,
    pub address: String,
    pub port: u16,
}

impl Server {
    pub fn start(name: &str, dir: &Path, specialists: &str, bootstrap: &[&str]) -> Self {
        Self::start_logged(name, dir, specialists, bootstrap, None)
    }

    /// [`Server::start`] with `RUST_LOG` set to `log` (its stderr file
    /// holds what it logs).
    pub fn start_logged(name: &str, dir: &Path, specialists: &str, bootstrap: &[&str], log: Option<&str>) -> Self {
        let data = dir.join(name);
        let mut args = base_args(&data);
        args.extend(
            ["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--specialists", specialists, "--json"]
                .map(str::to_owned),
        );
        for address in bootstrap {
            args.extend(["--bootstrap".to_owned(), (*address).to_owned()]);
        }
        let mut command = command(chorus_bin(), &args);
        if let Some(log) = log {
            command.env("RUST_LOG", log);
        }
        let mut proc = Proc::spawn(name, command, dir);
        let listening = proc.wait_for("the listening event", START, |event| event["event"] == "listening");
        let peer_id = listening["peer_id"].as_str().expect("peer_id").to_owned();
        let served: BTreeSet<&str> =
            listening["specialists"].as_array().expect("specialists").iter().filter_map(Value::as_str).collect();
        assert_eq!(served, specialists.split(',').collect(), "{name} serves what it was asked to");
        let address = listening["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .filter_map(Value::as_str)
            .find(|address| address.starts_with("/ip4/127.0.0.1/tcp/"))
            .unwrap_or_else(|| panic!("{name}: no loopback TCP address in {listening}"))
            .to_owned();
        assert!(address.ends_with(&format!("/p2p/{peer_id}")), "{address}");
        let port = address.split('/').nth(4).and_then(|port| port.parse().ok()).expect("a port");
        assert_ne!(port, 0);
        Self { proc, peer_id, address, port }
    }

    pub fn wait_announced(&mut self) {
        let announced = self.proc.wait_for("the announced event", ANNOUNCE, |event| event["event"] == "announced");
        assert!(announced["reached"].as_u64().expect("reached") > 0, "{announced}");
    }
}

/// `chorus ask --network --json QUESTION` through `bootstrap`, holding no
/// specialist itself.
pub fn ask_network_args(data: &Path, bootstrap: &[&str], question: &str) -> Vec<String> {
    let mut args = base_args(data);
    args.extend(
        ["ask", "--network", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--local-specialists", "none", "--json"]
            .map(str::to_owned),
    );
    for address in bootstrap {
        args.extend(["--bootstrap".to_owned(), (*address).to_owned()]);
    }
    args.push(question.to_owned());
    args
}

pub fn done_event(events: &[Value], proc: &Proc) -> Value {
    let done = events.last().unwrap_or_else(|| panic!("no events\n{}", proc.context()));
    assert_eq!(done["event"], "done", "the last event is done\n{}", proc.context());
    done.clone()
}

pub fn subtasks(done: &Value) -> &Vec<Value> {
    done["subtasks"].as_array().expect("subtasks")
}
