//! Shared by the download tests: downloads over real HTTP on loopback: a small in-test HTTP/1.1 server
//! serves the real embedded GGUF (or, where the point of a test is not the
//! size, a prefix of it), honestly or with a chosen fault, and records every
//! request it sees.
//!
//! sha256 runs at about 16 MB/s in an unoptimised build, so the tests that
//! need the whole 98 MB file use it and the others use an 8 MiB prefix.
//!
//! Each test binary uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chorus_core::{DownloadOptions, DownloadProgress, DownloadRequest, Downloader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) const MODEL_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
pub(crate) const MODEL_SIZE: u64 = 98_362_432;
pub(crate) const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
pub(crate) const HALF: usize = (MODEL_SIZE / 2) as usize;
pub(crate) const MIB: usize = 1 << 20;
/// No test may take longer than this.
pub(crate) const DEADLINE: Duration = Duration::from_secs(90);

/// The embedded model, read once per test process.
pub(crate) fn model() -> Arc<Vec<u8>> {
    static MODEL: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let bytes = std::fs::read(MODEL_PATH).unwrap_or_else(|error| {
                panic!("cannot read {MODEL_PATH} ({error}); run scripts/setup.sh to fetch the embedded model")
            });
            assert_eq!(bytes.len() as u64, MODEL_SIZE, "{MODEL_PATH} has the wrong size");
            Arc::new(bytes)
        })
        .clone()
}

/// How the server answers a path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    /// The model, with range support.
    Honest,
    /// Announces the whole model but only ever has its first `available`
    /// bytes: every response stops there and the connection closes.
    Truncated { available: usize },
    /// The model with the byte at `offset` flipped.
    Corrupt { offset: usize },
    /// The first request to this path closes after `after` body bytes;
    /// later requests are honest.
    DropFirst { after: usize },
    /// Honest, but pauses after every chunk.
    Throttled { pause: Duration },
    /// Always the whole model with 200, whatever the `Range`.
    IgnoreRanges,
    /// Sends the model up to byte `at`, then nothing more (the connection
    /// stays open).
    Stall { at: usize },
    /// Only this status, no body.
    Status(u16),
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) range: Option<String>,
}

/// A path, how it behaves, and how many bytes of the model it serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    path: &'static str,
    behaviour: Behaviour,
    len: usize,
}

impl Route {
    /// Serves the whole model.
    pub(crate) fn model(path: &'static str, behaviour: Behaviour) -> Self {
        Self { path, behaviour, len: MODEL_SIZE as usize }
    }

    /// Serves the first `len` bytes of the model as if that were the file.
    pub(crate) fn prefix(path: &'static str, behaviour: Behaviour, len: usize) -> Self {
        Self { path, behaviour, len }
    }
}

pub(crate) struct State {
    routes: HashMap<String, Route>,
    seen: Mutex<Vec<Seen>>,
    body: Arc<Vec<u8>>,
}

pub(crate) struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Server {
    pub(crate) async fn start(routes: &[Route]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            routes: routes.iter().map(|route| (route.path.to_owned(), *route)).collect(),
            seen: Mutex::new(Vec::new()),
            body: model(),
        });
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    // A client that hangs up mid-response is part of the tests.
                    let _ = serve(stream, state).await;
                });
            }
        });
        Self { addr, state, accept }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

pub(crate) async fn serve(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next().and_then(|line| line.split(' ').nth(1)).unwrap_or("/").to_owned();
    let range = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("range"))
        .map(|(_, value)| value.trim().to_owned());
    let earlier = {
        let mut seen = state.seen.lock().unwrap();
        let earlier = seen.iter().filter(|request| request.path == path).count();
        seen.push(Seen { path: path.clone(), range: range.clone() });
        earlier
    };
    let (behaviour, len) = match state.routes.get(&path) {
        Some(Route { behaviour: Behaviour::Status(status), .. }) => {
            return respond_empty(&mut stream, *status, "").await;
        }
        Some(route) => (route.behaviour, route.len.min(state.body.len())),
        None => return respond_empty(&mut stream, 404, "").await,
    };
    let requested_start = match (behaviour, range.as_deref().and_then(parse_range_start)) {
        (Behaviour::IgnoreRanges, _) | (_, None) => None,
        (_, Some(start)) => Some(start),
    };
    let start = match requested_start {
        Some(start) if start >= len => {
            return respond_empty(&mut stream, 416, &format!("Content-Range: bytes */{len}\r\n")).await;
        }
        Some(start) => {
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{len}\r\n\
                 Accept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                len - start,
                len - 1
            );
            stream.write_all(head.as_bytes()).await?;
            start
        }
        None => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            0
        }
    };
    // Where this response stops sending, whatever it announced.
    let stop = match behaviour {
        Behaviour::Truncated { available } => available.max(start).min(len),
        Behaviour::DropFirst { after } if earlier == 0 => (start + after).min(len),
        Behaviour::Stall { at } => at.max(start).min(len),
        _ => len,
    };
    let mut position = start;
    while position < stop {
        let end = (position + MIB).min(stop);
        match behaviour {
            Behaviour::Corrupt { offset } if (position..end).contains(&offset) => {
                let mut chunk = state.body[position..end].to_vec();
                chunk[offset - position] ^= 0xff;
                stream.write_all(&chunk).await?;
            }
            _ => stream.write_all(&state.body[position..end]).await?,
        }
        position = end;
        if let Behaviour::Throttled { pause } = behaviour {
            tokio::time::sleep(pause).await;
        }
    }
    stream.flush().await?;
    if let Behaviour::Stall { .. } = behaviour {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    stream.shutdown().await
}

pub(crate) async fn respond_empty(stream: &mut TcpStream, status: u16, extra_headers: &str) -> std::io::Result<()> {
    let reason = match status {
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n{extra_headers}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.shutdown().await
}

/// `bytes=N-` or `bytes=N-M` → N.
pub(crate) fn parse_range_start(value: &str) -> Option<usize> {
    value.strip_prefix("bytes=")?.split_once('-')?.0.trim().parse().ok()
}

pub(crate) fn options() -> DownloadOptions {
    let mut options = DownloadOptions::default();
    options.connect_timeout = Duration::from_secs(2);
    options.read_timeout = Duration::from_secs(5);
    options.max_retries = 3;
    options.initial_backoff = Duration::from_millis(10);
    options.max_backoff = Duration::from_millis(50);
    options.progress_interval = Duration::from_millis(20);
    options.use_system_proxy = false;
    options
}

pub(crate) fn downloader() -> Downloader {
    Downloader::with_options(options()).expect("HTTP client")
}

pub(crate) fn model_request(server: &Server, path: &str, dir: &Path) -> DownloadRequest {
    DownloadRequest::new(server.url(path), dir.join("models").join("smollm2.gguf"))
        .with_size(MODEL_SIZE)
        .with_sha256(MODEL_SHA256)
}

pub(crate) async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(DEADLINE, test).await.expect("the test took too long")
}

pub(crate) fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|metadata| metadata.len())
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    std::fs::write(path, bytes).expect("write");
}

pub(crate) fn assert_monotonic(reports: &[DownloadProgress]) {
    assert!(!reports.is_empty(), "no progress reported");
    for pair in reports.windows(2) {
        assert!(pair[0].downloaded <= pair[1].downloaded, "progress went back: {pair:?}");
    }
}

/// The test's own check, by comparing bytes (hashing twice is slow in
/// unoptimised builds).
pub(crate) fn assert_the_model_is_at(path: &Path) {
    assert_the_prefix_is_at(path, MODEL_SIZE as usize);
}

pub(crate) fn assert_the_prefix_is_at(path: &Path, len: usize) {
    let bytes = std::fs::read(path).expect("read the downloaded file");
    assert_eq!(bytes.len(), len);
    assert!(bytes[..] == model()[..len], "{} differs from the model", path.display());
}

/// Length of the prefix of the model served where the full size is not the
/// point of a test.
pub(crate) const PREFIX: usize = 8 * MIB;

pub(crate) fn prefix_sha256(len: usize) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(&model()[..len]).iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(crate) fn prefix_request(server: &Server, path: &str, dir: &Path) -> DownloadRequest {
    DownloadRequest::new(server.url(path), dir.join("models").join("prefix.gguf"))
        .with_size(PREFIX as u64)
        .with_sha256(prefix_sha256(PREFIX))
}
