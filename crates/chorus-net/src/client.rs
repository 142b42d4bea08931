//! The requester side of the task protocol.

use std::time::Duration;

use libp2p::{PeerId, Stream};

use crate::network::Network;
use crate::wire::{
    FrameError, MAX_REQUEST_BYTES, MAX_RESPONSE_FRAME_BYTES, MAX_RESULT_BYTES, Receipt, TASK_PROTOCOL, TaskError,
    TaskErrorCode, TaskFrame, TaskRequest, TaskSummary, read_frame, write_frame,
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
#[derive(Debug)]
pub struct RemoteTask {
    peer: PeerId,
    local: PeerId,
    request: TaskRequest,
    stream: Stream,
    text: String,
    finished: bool,
}

impl Network {
    /// Sends a task to `peer` over `/chorus/task/1`.
    ///
    /// # Errors
    /// `disconnected` when the peer cannot be reached, `not_serving` when it
    /// does not speak the task protocol.
    pub async fn start_task(&self, peer: PeerId, request: TaskRequest) -> Result<RemoteTask, TaskError> {
        let mut stream = self.open_task_stream(peer).await?;
        write_frame(&mut stream, &request, MAX_REQUEST_BYTES).await.map_err(|error| {
            let code = if error.kind() == std::io::ErrorKind::InvalidInput {
                TaskErrorCode::TooLarge
            } else {
                TaskErrorCode::Disconnected
            };
            TaskError::new(code, error.to_string())
        })?;
        Ok(RemoteTask { peer, local: self.peer_id(), request, stream, text: String::new(), finished: false })
    }

    /// Opens a bare `/chorus/task/1` stream to `peer`. [`Network::start_task`]
    /// is the way to run a task; this is for tools and protocol tests that
    /// must write bytes of their own.
    ///
    /// # Errors
    /// As [`Network::start_task`].
    pub async fn open_task_stream(&self, peer: PeerId) -> Result<Stream, TaskError> {
        let mut control = self.control();
        let stream = match tokio::time::timeout(OPEN_TIMEOUT, control.open_stream(peer, TASK_PROTOCOL)).await {
            Err(_) => {
                return Err(TaskError::new(
                    TaskErrorCode::Disconnected,
                    format!("no stream to {peer} within {OPEN_TIMEOUT:?}"),
                ));
            }
            Ok(Err(libp2p_stream::OpenStreamError::UnsupportedProtocol(_))) => {
                return Err(TaskError::new(TaskErrorCode::NotServing, format!("{peer} does not serve tasks")));
            }
            Ok(Err(error)) => {
                return Err(TaskError::new(TaskErrorCode::Disconnected, format!("{peer}: {error}")));
            }
            Ok(Ok(stream)) => stream,
        };
        Ok(stream)
    }
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
        let frame = read_frame::<_, TaskFrame>(&mut self.stream, MAX_RESPONSE_FRAME_BYTES).await;
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
                match receipt.verify(&self.peer, &self.local, &self.request, &self.text, summary.tokens) {
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
