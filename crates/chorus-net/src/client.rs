//! The requester side of the task protocol.

use std::time::Duration;

use libp2p::{PeerId, Stream};

use crate::network::Network;
use crate::wire::{
    FrameError, MAX_REQUEST_BYTES, MAX_RESPONSE_FRAME_BYTES, MAX_RESULT_BYTES, Receipt, TASK_PROTOCOL, TaskError,
    TaskErrorCode, TaskFrame, TaskRequest, TaskSummary, read_frame, write_frame_bytes,
};

/// How long opening a task stream (dialling included) may take.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a remote task reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteEvent {
    /// The peer admitted the task; it waits for a slot.
    Waiting,
    /// More text.
    Token(String),
    /// Finished, with a verified receipt.
    Done {
        /// Counts and timings from the executor.
        summary: TaskSummary,
        /// The executor's receipt, already verified.
        receipt: Receipt,
        /// The whole text.
        text: String,
    },
}

/// A task running on a peer. Dropping it closes the stream, which cancels
/// the generation on the peer.
pub struct RemoteTask {
    peer: PeerId,
    local: PeerId,
    request: TaskRequest,
    /// The request frame's body as sent: what the receipt's hash covers.
    request_bytes: Vec<u8>,
    stream: Stream,
    control: libp2p_stream::Control,
    text: String,
    /// Whether the peer has sent a frame on the current stream.
    answered: bool,
    /// Times the request was sent again (see [`RESENDS`]).
    resends: u32,
    finished: bool,
    /// Counts the task as open with the peer while it lives.
    _open: Option<crate::streams::OpenStream>,
}

impl std::fmt::Debug for RemoteTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTask")
            .field("peer", &self.peer)
            .field("specialist", &self.request.specialist)
            .field("received_bytes", &self.text.len())
            .field("resends", &self.resends)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// Sends a task to `peer` over `/chorus/task/1`.
    ///
    /// # Errors
    /// `disconnected` when the peer cannot be reached, `not_serving` when it
    /// does not speak the task protocol.
    pub async fn start_task(&self, peer: PeerId, mut request: TaskRequest) -> Result<RemoteTask, TaskError> {
        if request.nonce.is_empty() {
            request.nonce = nonce(&self.peer_id());
        }
        let request_bytes = serde_json::to_vec(&request)
            .map_err(|error| TaskError::new(TaskErrorCode::BadRequest, error.to_string()))?;
        let mut control = self.control();
        let mut resends = 0;
        let stream = loop {
            let mut stream = open(&mut control, peer).await?;
            match write_request(&mut stream, &request_bytes).await {
                Ok(()) => break stream,
                Err(error) if error.code == TaskErrorCode::Disconnected && resends < RESENDS => {
                    tracing::debug!(%peer, %error, "the peer dropped the task stream before its request; sending again");
                    resends += 1;
                    tokio::time::sleep(resend_backoff(resends)).await;
                }
                Err(error) => return Err(error),
            }
        };
        Ok(RemoteTask {
            peer,
            local: self.peer_id(),
            request,
            request_bytes,
            stream,
            control,
            text: String::new(),
            answered: false,
            resends,
            finished: false,
            _open: self.outbound_stream(peer),
        })
    }

    /// Opens a bare `/chorus/task/1` stream to `peer`. [`Network::start_task`]
    /// is the way to run a task; this is for tools and protocol tests that
    /// must write bytes of their own.
    ///
    /// # Errors
    /// As [`Network::start_task`].
    pub async fn open_task_stream(&self, peer: PeerId) -> Result<Stream, TaskError> {
        open(&mut self.control(), peer).await
    }
}

/// Times a task is sent again when the peer drops its stream before
/// answering anything. libp2p-stream hands inbound streams to the serving
/// task through a one-slot channel and drops (resets) a stream that
/// arrives while the slot is taken: a busy peer that has not yet picked up
/// the previous stream loses the next one, never having read it.
const RESENDS: u32 = 2;

/// The pause before resend number `resend` (1, 2, …): 100 ms, 200 ms, …
fn resend_backoff(resend: u32) -> Duration {
    Duration::from_millis(100 * u64::from(resend))
}

async fn open(control: &mut libp2p_stream::Control, peer: PeerId) -> Result<Stream, TaskError> {
    match tokio::time::timeout(OPEN_TIMEOUT, control.open_stream(peer, TASK_PROTOCOL)).await {
        Err(_) => {
            Err(TaskError::new(TaskErrorCode::Disconnected, format!("no stream to {peer} within {OPEN_TIMEOUT:?}")))
        }
        Ok(Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_))) => {
            Err(TaskError::new(TaskErrorCode::NotServing, format!("{peer} does not serve tasks")))
        }
        Ok(Err(error)) => Err(TaskError::new(TaskErrorCode::Disconnected, format!("{peer}: {error}"))),
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// A nonce no other request of this node carries: 32 hex digits of
/// sha256(peer id, the clock, a counter).
fn nonce(local: &PeerId) -> String {
    use sha2::{Digest as _, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    let seed = format!("{local}/{nanos}/{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    Sha256::digest(seed.as_bytes()).iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// Writes a request frame's body on a task stream.
async fn write_request(stream: &mut Stream, request_bytes: &[u8]) -> Result<(), TaskError> {
    write_frame_bytes(stream, request_bytes, MAX_REQUEST_BYTES).await.map_err(|error| {
        let code = if error.kind() == std::io::ErrorKind::InvalidInput {
            TaskErrorCode::TooLarge
        } else {
            TaskErrorCode::Disconnected
        };
        TaskError::new(code, error.to_string())
    })
}

impl RemoteTask {
    /// The executor.
    #[must_use]
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The next event; `None` after `Done` or an error.
    pub async fn next(&mut self) -> Option<Result<RemoteEvent, TaskError>> {
        if self.finished {
            return None;
        }
        let frame = loop {
            let frame = read_frame::<_, TaskFrame>(&mut self.stream, MAX_RESPONSE_FRAME_BYTES).await;
            let dropped = matches!(frame, Err(FrameError::Closed | FrameError::Io(_)));
            if !dropped || self.answered || self.resends >= RESENDS {
                break frame;
            }
            // The peer dropped the stream before answering anything: it
            // most likely never read the request (see [`RESENDS`]).
            self.resends += 1;
            tracing::debug!(peer = %self.peer, "the peer dropped the task stream unanswered; sending again");
            tokio::time::sleep(resend_backoff(self.resends)).await;
            let mut stream = match open(&mut self.control, self.peer).await {
                Ok(stream) => stream,
                Err(error) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            };
            // A write the peer refuses shows again as a failed read above.
            if let Err(error) = write_request(&mut stream, &self.request_bytes).await
                && error.code != TaskErrorCode::Disconnected
            {
                self.finished = true;
                return Some(Err(error));
            }
            self.stream = stream;
        };
        self.answered = true;
        let event = match frame {
            Err(FrameError::Closed) => Err(TaskError::new(TaskErrorCode::Disconnected, "the peer closed the task")),
            Err(FrameError::Io(error)) => {
                Err(TaskError::new(TaskErrorCode::Disconnected, format!("connection lost: {error}")))
            }
            Err(error) => Err(TaskError::new(TaskErrorCode::Protocol, error.to_string())),
            Ok(TaskFrame::Waiting) => Ok(RemoteEvent::Waiting),
            Ok(TaskFrame::Token { text }) => {
                if self.text.len() + text.len() > MAX_RESULT_BYTES {
                    Err(TaskError::new(TaskErrorCode::TooLarge, "the peer sent more text than allowed"))
                } else {
                    self.text.push_str(&text);
                    Ok(RemoteEvent::Token(text))
                }
            }
            Ok(TaskFrame::Done { summary, receipt }) => {
                match receipt.verify(&self.peer, &self.local, &self.request_bytes, &self.text, summary.tokens) {
                    Ok(()) => Ok(RemoteEvent::Done { summary, receipt, text: std::mem::take(&mut self.text) }),
                    Err(error) => Err(TaskError::new(TaskErrorCode::Protocol, format!("bad receipt: {error}"))),
                }
            }
            Ok(TaskFrame::Error { error }) => Err(error),
        };
        if !matches!(event, Ok(RemoteEvent::Waiting | RemoteEvent::Token(_))) {
            self.finished = true;
        }
        Some(event)
    }
}
