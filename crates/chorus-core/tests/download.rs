//! Downloads over real HTTP on loopback: a small in-test HTTP/1.1 server
//! serves the real embedded GGUF (or, where the point of a test is not the
//! size, a prefix of it), honestly or with a chosen fault, and records every
//! request it sees.
//!
//! sha256 runs at about 16 MB/s in an unoptimised build, so the tests that
//! need the whole 98 MB file use it and the others use an 8 MiB prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chorus_core::{DownloadError, DownloadOptions, DownloadProgress, DownloadRequest, Downloader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const MODEL_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
const MODEL_SIZE: u64 = 98_362_432;
const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const HALF: usize = (MODEL_SIZE / 2) as usize;
const MIB: usize = 1 << 20;
/// No test may take longer than this.
const DEADLINE: Duration = Duration::from_secs(90);

/// The embedded model, read once per test process.
fn model() -> Arc<Vec<u8>> {
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
enum Behaviour {
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
struct Seen {
    path: String,
    range: Option<String>,
}

/// A path, how it behaves, and how many bytes of the model it serves.
#[derive(Debug, Clone, Copy)]
struct Route {
    path: &'static str,
    behaviour: Behaviour,
    len: usize,
}

impl Route {
    /// Serves the whole model.
    fn model(path: &'static str, behaviour: Behaviour) -> Self {
        Self { path, behaviour, len: MODEL_SIZE as usize }
    }

    /// Serves the first `len` bytes of the model as if that were the file.
    fn prefix(path: &'static str, behaviour: Behaviour, len: usize) -> Self {
        Self { path, behaviour, len }
    }
}

struct State {
    routes: HashMap<String, Route>,
    seen: Mutex<Vec<Seen>>,
    body: Arc<Vec<u8>>,
}

struct Server {
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
    async fn start(routes: &[Route]) -> Self {
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

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn serve(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
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

async fn respond_empty(stream: &mut TcpStream, status: u16, extra_headers: &str) -> std::io::Result<()> {
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
fn parse_range_start(value: &str) -> Option<usize> {
    value.strip_prefix("bytes=")?.split_once('-')?.0.trim().parse().ok()
}

fn options() -> DownloadOptions {
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

fn downloader() -> Downloader {
    Downloader::with_options(options()).expect("HTTP client")
}

fn model_request(server: &Server, path: &str, dir: &Path) -> DownloadRequest {
    DownloadRequest::new(server.url(path), dir.join("models").join("smollm2.gguf"))
        .with_size(MODEL_SIZE)
        .with_sha256(MODEL_SHA256)
}

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(DEADLINE, test).await.expect("the test took too long")
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|metadata| metadata.len())
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    std::fs::write(path, bytes).expect("write");
}

fn assert_monotonic(reports: &[DownloadProgress]) {
    assert!(!reports.is_empty(), "no progress reported");
    for pair in reports.windows(2) {
        assert!(pair[0].downloaded <= pair[1].downloaded, "progress went back: {pair:?}");
    }
}

/// The test's own check, by comparing bytes (hashing twice is slow in
/// unoptimised builds).
fn assert_the_model_is_at(path: &Path) {
    assert_the_prefix_is_at(path, MODEL_SIZE as usize);
}

fn assert_the_prefix_is_at(path: &Path, len: usize) {
    let bytes = std::fs::read(path).expect("read the downloaded file");
    assert_eq!(bytes.len(), len);
    assert!(bytes[..] == model()[..len], "{} differs from the model", path.display());
}

/// Length of the prefix of the model served where the full size is not the
/// point of a test.
const PREFIX: usize = 8 * MIB;

fn prefix_sha256(len: usize) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(&model()[..len]).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn prefix_request(server: &Server, path: &str, dir: &Path) -> DownloadRequest {
    DownloadRequest::new(server.url(path), dir.join("models").join("prefix.gguf"))
        .with_size(PREFIX as u64)
        .with_sha256(prefix_sha256(PREFIX))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_verifies_the_real_model() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        let mut reports = Vec::new();
        let started = Instant::now();
        let outcome = downloader()
            .download(&request, |progress| reports.push(progress), CancellationToken::new())
            .await
            .expect("download");
        eprintln!("98 MB over loopback in {:?}, {} progress reports", started.elapsed(), reports.len());

        assert_eq!(outcome.path, request.dest);
        assert_eq!(outcome.bytes, MODEL_SIZE);
        assert_eq!(outcome.sha256, MODEL_SHA256);
        assert!(outcome.verified);
        assert!(!outcome.resumed);
        assert!(!outcome.already_present);
        assert_the_model_is_at(&request.dest);
        assert!(!request.partial_path().exists(), "the partial file is left behind");

        assert_monotonic(&reports);
        assert!(reports.iter().all(|progress| progress.total == Some(MODEL_SIZE)));
        let last = reports.last().expect("a final report");
        assert_eq!(last.downloaded, MODEL_SIZE);
        assert_eq!(last.eta_seconds, Some(0.0));
        assert!(reports.iter().any(|progress| progress.bytes_per_second > 0.0));
        assert_eq!(server.seen(), [Seen { path: "/smollm2.gguf".into(), range: None }]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_every_time_fails_after_bounded_retries() {
    bounded(async {
        let server = Server::start(&[Route::model("/cut.gguf", Behaviour::Truncated { available: HALF })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/cut.gguf", dir.path());
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;

        // One attempt that made progress, then max_retries + 1 that did not.
        let Err(DownloadError::Network { attempts, downloaded, .. }) = result else {
            panic!("expected a network error, got {result:?}");
        };
        assert_eq!(attempts, 5);
        assert_eq!(downloaded, HALF as u64);
        assert!(!request.dest.exists(), "something was put at dest");
        // What did arrive is kept for a later resume.
        assert_eq!(file_len(&request.partial_path()), Some(HALF as u64));
        let seen = server.seen();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[0].range, None);
        let resume = format!("bytes={HALF}-");
        assert!(seen[1..].iter().all(|request| request.range.as_deref() == Some(resume.as_str())), "{seen:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_file_is_rejected_by_size_or_hash() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/short.gguf", Behaviour::Honest, 3 * MIB)]).await;
        let dir = tempfile::tempdir().expect("temp dir");

        // With the size known, the announced length is enough to refuse it.
        let request = model_request(&server, "/short.gguf", dir.path());
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(result, Err(DownloadError::SizeMismatch { expected: MODEL_SIZE, actual }) if actual == 3 * MIB as u64),
            "{result:?}"
        );
        assert!(!request.dest.exists());
        assert!(!request.partial_path().exists());

        // With only the hash known, the whole (short) file is fetched and refused.
        let request = DownloadRequest { expected_size: None, ..request };
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(&result, Err(DownloadError::HashMismatch { expected, .. }) if expected == MODEL_SHA256),
            "{result:?}"
        );
        assert!(!request.dest.exists());
        assert!(!request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_file_is_rejected_by_hash() {
    bounded(async {
        let offset = 40 * MIB + 7;
        let server = Server::start(&[Route::model("/corrupt.gguf", Behaviour::Corrupt { offset })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/corrupt.gguf", dir.path());
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        let Err(DownloadError::HashMismatch { expected, actual }) = result else {
            panic!("expected a hash mismatch, got {result:?}");
        };
        assert_eq!(expected, MODEL_SHA256);
        assert_ne!(actual, MODEL_SHA256);
        assert_eq!(actual.len(), 64);
        assert!(!request.dest.exists(), "a corrupt file was put at dest");
        assert!(!request.partial_path().exists(), "the corrupt partial file is kept");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_download_leaves_the_previous_file_alone() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/corrupt.gguf", Behaviour::Corrupt { offset: 5 }, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/corrupt.gguf", dir.path());
        write_file(&request.dest, b"an older model");
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(matches!(result, Err(DownloadError::HashMismatch { .. })), "{result:?}");
        assert_eq!(std::fs::read(&request.dest).expect("dest"), b"an older model");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_file_is_replaced_once_the_new_one_verifies() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/prefix.gguf", dir.path());
        write_file(&request.dest, b"an older model");
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.verified && !outcome.already_present);
        assert_the_prefix_is_at(&request.dest, PREFIX);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_halfway_is_resumed_with_a_range_request() {
    bounded(async {
        let server = Server::start(&[Route::model("/flaky.gguf", Behaviour::DropFirst { after: HALF })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/flaky.gguf", dir.path());
        let mut reports = Vec::new();
        let outcome = downloader()
            .download(&request, |progress| reports.push(progress), CancellationToken::new())
            .await
            .expect("download");
        assert!(outcome.resumed);
        assert!(outcome.verified);
        assert_eq!(outcome.sha256, MODEL_SHA256);
        assert_the_model_is_at(&request.dest);
        assert!(!request.partial_path().exists());
        assert_monotonic(&reports);
        assert_eq!(reports.last().map(|progress| progress.downloaded), Some(MODEL_SIZE));
        assert_eq!(
            server.seen(),
            [
                Seen { path: "/flaky.gguf".into(), range: None },
                Seen { path: "/flaky.gguf".into(), range: Some(format!("bytes={HALF}-")) },
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_file_from_an_earlier_run_is_rehashed_and_resumed() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/prefix.gguf", dir.path());
        let kept = 3 * MIB + 5;
        write_file(&request.partial_path(), &model()[..kept]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        assert_eq!(server.seen(), [Seen { path: "/prefix.gguf".into(), range: Some(format!("bytes={kept}-")) }]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_partial_file_is_verified_without_a_request() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/prefix.gguf", dir.path());
        write_file(&request.partial_path(), &model()[..PREFIX]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.resumed && outcome.verified && !outcome.already_present);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        assert!(!request.partial_path().exists());
        assert!(server.seen().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_not_satisfiable_means_complete_or_start_over() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/prefix.gguf", Behaviour::Honest, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        // No size given, so the downloader cannot tell the partial file is
        // complete: the server's 416 (`bytes */len`) tells it.
        let request = DownloadRequest { expected_size: None, ..prefix_request(&server, "/prefix.gguf", dir.path()) };
        write_file(&request.partial_path(), &model()[..PREFIX]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        assert_eq!(server.seen().len(), 1);

        // A partial file longer than the server's file: start over.
        std::fs::remove_file(&request.dest).expect("remove dest");
        write_file(&request.partial_path(), &model()[..PREFIX + 10]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[1].range, Some(format!("bytes={}-", PREFIX + 10)));
        assert_eq!(seen[2].range, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_ranges_makes_the_download_start_over() {
    bounded(async {
        let server = Server::start(&[Route::prefix("/noranges.gguf", Behaviour::IgnoreRanges, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/noranges.gguf", dir.path());
        // A partial file of the wrong bytes: if they were kept, the hash would fail.
        write_file(&request.partial_path(), &vec![0u8; 5 * MIB]);
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(!outcome.resumed && outcome.verified);
        assert_the_prefix_is_at(&request.dest, PREFIX);
        let seen = server.seen();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].range.as_deref(), Some("bytes=5242880-"));
        assert_eq!(seen[1].range, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_file_already_in_place_is_not_fetched_again() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        write_file(&request.dest, &model());
        let outcome = downloader().download(&request, |_| {}, CancellationToken::new()).await.expect("download");
        assert!(outcome.already_present && outcome.verified && !outcome.resumed);
        assert_eq!(outcome.bytes, MODEL_SIZE);
        assert_eq!(outcome.sha256, MODEL_SHA256);
        assert!(server.seen().is_empty(), "a request was made: {:?}", server.seen());
        assert!(!request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_typed_with_their_status() {
    bounded(async {
        let server = Server::start(&[Route::model("/broken", Behaviour::Status(500)), Route::model("/busy", Behaviour::Status(503))]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, status, requests) in [("/missing.gguf", 404, 1), ("/broken", 500, 1), ("/busy", 503, 4)] {
            let request = model_request(&server, path, dir.path());
            let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
            assert!(
                matches!(&result, Err(DownloadError::HttpStatus { status: got, url }) if *got == status && url.ends_with(path)),
                "{path}: {result:?}"
            );
            assert_eq!(result.map_err(|error| error.code()).err(), Some("http_status"));
            assert_eq!(server.seen().iter().filter(|seen| seen.path == path).count(), requests, "{path}");
            assert!(!request.dest.exists());
            assert!(!request.partial_path().exists(), "{path}: an empty partial file is left behind");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_space_is_reported_before_any_body_is_fetched() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let probed = Arc::new(Mutex::new(Vec::<PathBuf>::new()));
        let probes = probed.clone();
        let full_disk = downloader().with_free_space(move |path| {
            probes.lock().unwrap().push(path.to_path_buf());
            Ok(1000)
        });

        // Size known: refused before any request.
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        let result = full_disk.download(&request, |_| {}, CancellationToken::new()).await;
        assert!(
            matches!(&result, Err(DownloadError::InsufficientSpace { needed: MODEL_SIZE, available: 1000, path })
                if path == &dir.path().join("models")),
            "{result:?}"
        );
        assert!(server.seen().is_empty());
        assert!(!request.dest.exists() && !request.partial_path().exists());
        assert_eq!(*probed.lock().unwrap(), [dir.path().join("models")]);

        // A partial file counts: only the rest is needed.
        write_file(&request.partial_path(), &model()[..HALF]);
        let result = full_disk.download(&request, |_| {}, CancellationToken::new()).await;
        let rest = MODEL_SIZE - HALF as u64;
        assert!(matches!(result, Err(DownloadError::InsufficientSpace { needed, .. }) if needed == rest), "{result:?}");
        assert!(server.seen().is_empty());
        assert_eq!(file_len(&request.partial_path()), Some(HALF as u64));
        std::fs::remove_file(request.partial_path()).expect("remove partial");

        // Size unknown: refused on the announced length, before the body.
        let request = DownloadRequest { expected_size: None, ..request };
        let mut reports = Vec::new();
        let result = full_disk.download(&request, |progress| reports.push(progress), CancellationToken::new()).await;
        assert!(matches!(result, Err(DownloadError::InsufficientSpace { needed: MODEL_SIZE, .. })), "{result:?}");
        assert_eq!(server.seen().len(), 1);
        assert!(reports.is_empty(), "body progress was reported: {reports:?}");
        assert!(!request.dest.exists() && !request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_keeps_the_partial_file_and_a_later_call_resumes() {
    bounded(async {
        let pause = Duration::from_millis(5);
        let server = Server::start(&[Route::model("/slow.gguf", Behaviour::Throttled { pause })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/slow.gguf", dir.path());
        let downloader = downloader();

        let cancel = CancellationToken::new();
        let mut cancelled_at = None;
        let result = downloader
            .download(
                &request,
                |progress| {
                    if progress.downloaded >= 16 * MIB as u64 && cancelled_at.is_none() {
                        cancelled_at = Some(Instant::now());
                        cancel.cancel();
                    }
                },
                cancel.clone(),
            )
            .await;
        let stopped_after = cancelled_at.expect("cancelled").elapsed();
        assert!(matches!(result, Err(DownloadError::Cancelled)), "{result:?}");
        assert!(stopped_after < Duration::from_secs(1), "took {stopped_after:?} to stop");
        assert!(!request.dest.exists());
        let kept = file_len(&request.partial_path()).expect("the partial file is kept");
        assert!(kept >= 16 * MIB as u64 && kept < MODEL_SIZE, "kept {kept} bytes");

        let mut reports = Vec::new();
        let outcome = downloader
            .download(&request, |progress| reports.push(progress), CancellationToken::new())
            .await
            .expect("resumed download");
        assert!(outcome.resumed && outcome.verified);
        assert_the_model_is_at(&request.dest);
        assert!(!request.partial_path().exists());
        assert_eq!(reports.first().map(|progress| progress.downloaded), Some(kept));
        assert_monotonic(&reports);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].range, Some(format!("bytes={kept}-")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_token_stops_before_any_request() {
    bounded(async {
        let server = Server::start(&[Route::model("/smollm2.gguf", Behaviour::Honest)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/smollm2.gguf", dir.path());
        let cancel = CancellationToken::new();
        cancel.cancel();
        let result = downloader().download(&request, |_| {}, cancel).await;
        assert!(matches!(result, Err(DownloadError::Cancelled)), "{result:?}");
        assert!(server.seen().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transfer_times_out_and_is_retried() {
    bounded(async {
        let server = Server::start(&[Route::model("/stall.gguf", Behaviour::Stall { at: MIB })]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = model_request(&server, "/stall.gguf", dir.path());
        let mut options = options();
        options.read_timeout = Duration::from_millis(300);
        options.max_retries = 1;
        let downloader = Downloader::with_options(options).expect("client");
        let started = Instant::now();
        let result = downloader.download(&request, |_| {}, CancellationToken::new()).await;
        // Attempt 1 gets 1 MiB and times out; attempts 2 and 3 resume at
        // 1 MiB, get nothing and time out; max_retries = 1 ends it there.
        let Err(DownloadError::Network { reason, attempts, downloaded, .. }) = result else {
            panic!("expected a network error, got {result:?}");
        };
        assert!(reason.to_lowercase().contains("time"), "{reason}");
        assert_eq!(attempts, 3);
        assert_eq!(downloaded, MIB as u64);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(!request.dest.exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_network_error() {
    bounded(async {
        // A loopback port with nobody listening.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let request = DownloadRequest::new(format!("http://127.0.0.1:{port}/m.gguf"), dir.path().join("m.gguf"));
        let result = downloader().download(&request, |_| {}, CancellationToken::new()).await;
        assert!(matches!(result, Err(DownloadError::Network { attempts: 4, downloaded: 0, .. })), "{result:?}");
        assert!(!request.dest.exists() && !request.partial_path().exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_downloads_to_the_same_file_do_not_interleave() {
    bounded(async {
        let pause = Duration::from_millis(50);
        let server = Server::start(&[Route::prefix("/slow.gguf", Behaviour::Throttled { pause }, PREFIX)]).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let request = prefix_request(&server, "/slow.gguf", dir.path());
        let downloader = downloader();
        let cancel = CancellationToken::new();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let first = {
            let downloader = downloader.clone();
            let request = request.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let mut started = Some(started_tx);
                downloader
                    .download(
                        &request,
                        move |progress| {
                            if let Some(started) = started.take_if(|_| progress.downloaded > 0) {
                                let _ = started.send(());
                            }
                        },
                        cancel,
                    )
                    .await
            })
        };
        started_rx.await.expect("first download started");
        let second = downloader.download(&request, |_| {}, CancellationToken::new()).await;
        assert!(matches!(&second, Err(DownloadError::Busy { path }) if path == &request.partial_path()), "{second:?}");
        cancel.cancel();
        let first = first.await.expect("join");
        assert!(matches!(first, Err(DownloadError::Cancelled)), "{first:?}");
        assert!(!request.dest.exists());
    })
    .await;
}
