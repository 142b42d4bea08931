//! Shared by the download tests: downloads over real HTTP on loopback: a small in-test HTTP/1.1 server
//! (plain, or TLS with a certificate made for the test) serves the real
//! embedded GGUF (or, where the point of a test is not the size, a prefix of
//! it), honestly or with a chosen fault, and records every request it sees.
//! Every file carries an `ETag` (`"a"`, `"b"` once a changing file has
//! changed), and a range request whose `If-Range` is not the current tag
//! gets the whole file, as RFC 9110 says.
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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
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
    /// `302 Found` to this `Location`.
    Redirect { location: &'static str },
    /// The file with 200 and no `Content-Length` (the end is the
    /// connection's close), whatever the `Range`.
    NoLength,
    /// The first request gets the file (tag `"a"`) and closes after `after`
    /// body bytes; from the second on the server has a new file of the same
    /// size (every byte changed, tag `"b"`). With `if_range` the server
    /// honours `If-Range`; without, it sends the range of whatever it has.
    ChangesAfterFirst { after: usize, if_range: bool },
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) range: Option<String>,
    pub(crate) if_range: Option<String>,
}

impl Seen {
    /// A request for `path` without `Range` or `If-Range`.
    pub(crate) fn plain(path: &str) -> Self {
        Self { path: path.to_owned(), range: None, if_range: None }
    }

    /// A request for `path` from byte `start`, with this `If-Range`.
    pub(crate) fn ranged(path: &str, start: usize, if_range: Option<&str>) -> Self {
        Self { path: path.to_owned(), range: Some(format!("bytes={start}-")), if_range: if_range.map(str::to_owned) }
    }
}

/// The file a changing route has once it changed: every byte of the model
/// flipped.
pub(crate) fn changed_model() -> Arc<Vec<u8>> {
    static CHANGED: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    CHANGED.get_or_init(|| Arc::new(model().iter().map(|byte| byte ^ 0x5a).collect())).clone()
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
    scheme: &'static str,
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
        Self::listen(routes, None).await
    }

    /// The same server over TLS, with a new self-signed certificate for
    /// `localhost` and `127.0.0.1`; returns it too (DER), for the client to
    /// trust.
    pub(crate) async fn start_tls(routes: &[Route]) -> (Self, Vec<u8>) {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).expect("a test certificate");
        let der = certified.cert.der().to_vec();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![der.clone().into()], key)
            .expect("TLS config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        (Self::listen(routes, Some(acceptor)).await, der)
    }

    async fn listen(routes: &[Route], tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            routes: routes.iter().map(|route| (route.path.to_owned(), *route)).collect(),
            seen: Mutex::new(Vec::new()),
            body: model(),
        });
        let shared = state.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    // A client that hangs up mid-response is part of the tests.
                    let _ = match tls {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(stream) => serve(stream, state).await,
                            Err(_) => Ok(()),
                        },
                        None => serve(stream, state).await,
                    };
                });
            }
        });
        Self { addr, scheme, state, accept }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

/// The value of the request header `name`, if present.
fn header_value(head: &str, name: &str) -> Option<String> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_owned())
}

pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, state: Arc<State>) -> std::io::Result<()> {
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
    let path = head.split("\r\n").next().and_then(|line| line.split(' ').nth(1)).unwrap_or("/").to_owned();
    let range = header_value(&head, "range");
    let if_range = header_value(&head, "if-range");
    let earlier = {
        let mut seen = state.seen.lock().unwrap();
        let earlier = seen.iter().filter(|request| request.path == path).count();
        seen.push(Seen { path: path.clone(), range: range.clone(), if_range: if_range.clone() });
        earlier
    };
    let (behaviour, len) = match state.routes.get(&path) {
        Some(Route { behaviour: Behaviour::Status(status), .. }) => {
            return respond_empty(&mut stream, *status, "").await;
        }
        Some(Route { behaviour: Behaviour::Redirect { location }, .. }) => {
            return respond_empty(&mut stream, 302, &format!("Location: {location}\r\n")).await;
        }
        Some(route) => (route.behaviour, route.len.min(state.body.len())),
        None => return respond_empty(&mut stream, 404, "").await,
    };
    // The file this request gets, and its tag.
    let (body, etag) = match behaviour {
        Behaviour::ChangesAfterFirst { .. } if earlier > 0 => (changed_model(), "\"b\""),
        _ => (state.body.clone(), "\"a\""),
    };
    let honours_if_range = !matches!(behaviour, Behaviour::ChangesAfterFirst { if_range: false, .. });
    let stale = honours_if_range && if_range.as_deref().is_some_and(|tag| tag != etag);
    let requested_start = match (behaviour, range.as_deref().and_then(parse_range_start)) {
        (Behaviour::IgnoreRanges | Behaviour::NoLength, _) | (_, None) => None,
        _ if stale => None,
        (_, Some(start)) => Some(start),
    };
    let start = match requested_start {
        Some(start) if start >= len => {
            return respond_empty(&mut stream, 416, &format!("Content-Range: bytes */{len}\r\n")).await;
        }
        Some(start) => {
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{len}\r\n\
                 Accept-Ranges: bytes\r\nETag: {etag}\r\nConnection: close\r\n\r\n",
                len - start,
                len - 1
            );
            stream.write_all(head.as_bytes()).await?;
            start
        }
        None if matches!(behaviour, Behaviour::NoLength) => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nETag: \"a\"\r\nConnection: close\r\n\r\n").await?;
            0
        }
        None => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\nETag: {etag}\r\n\
                 Connection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            0
        }
    };
    // Where this response stops sending, whatever it announced.
    let stop = match behaviour {
        Behaviour::Truncated { available } => available.max(start).min(len),
        Behaviour::DropFirst { after } | Behaviour::ChangesAfterFirst { after, .. } if earlier == 0 => {
            (start + after).min(len)
        }
        Behaviour::Stall { at } => at.max(start).min(len),
        _ => len,
    };
    let mut position = start;
    while position < stop {
        let end = (position + MIB).min(stop);
        match behaviour {
            Behaviour::Corrupt { offset } if (position..end).contains(&offset) => {
                let mut chunk = body[position..end].to_vec();
                chunk[offset - position] ^= 0xff;
                stream.write_all(&chunk).await?;
            }
            _ => stream.write_all(&body[position..end]).await?,
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

pub(crate) async fn respond_empty<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    extra_headers: &str,
) -> std::io::Result<()> {
    let reason = match status {
        302 => "Found",
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
