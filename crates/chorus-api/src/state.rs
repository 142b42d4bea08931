//! What every request handler shares: the node, the key, the generation
//! slots and whether the model is ready.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use chorus_node::Node;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Where the default model is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    Loading,
    Ready,
    Failed(String),
}

/// The server's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The node requests go to; a shell replaces it when the node joins or
    /// leaves the network ([`crate::NodeSwap`]), as a clone of a node does
    /// not see that.
    node: RwLock<Node>,
    /// `None` with `--no-auth`.
    pub(crate) key: Option<String>,
    slots: Arc<Semaphore>,
    pub(crate) max_slots: usize,
    pub(crate) body_limit: usize,
    readiness: Mutex<Readiness>,
    serial: AtomicU64,
    /// Seconds since 1970 at start: the models' `created`.
    pub(crate) started: u32,
}

impl Shared {
    pub(crate) fn new(node: Node, key: Option<String>, max_slots: usize, body_limit: usize) -> Self {
        Self {
            node: RwLock::new(node),
            key,
            slots: Arc::new(Semaphore::new(max_slots)),
            max_slots,
            body_limit,
            readiness: Mutex::new(Readiness::Loading),
            serial: AtomicU64::new(0),
            started: now(),
        }
    }

    /// The node as it is now (a cheap handle; see [`Node`]).
    pub(crate) fn node(&self) -> Node {
        self.node.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Sends later requests to `node`; the ones under way finish on the old one.
    pub(crate) fn set_node(&self, node: Node) {
        *self.node.write().unwrap_or_else(PoisonError::into_inner) = node;
    }

    /// A generation slot, or 429 when all are taken. The slot is free
    /// again when the permit drops (the response ends or the client left).
    pub(crate) fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| ApiError::busy(self.max_slots))
    }

    /// Generation slots free now.
    pub(crate) fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    pub(crate) fn readiness(&self) -> Readiness {
        self.readiness.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn set_readiness(&self, readiness: Readiness) {
        *self.readiness.lock().unwrap_or_else(PoisonError::into_inner) = readiness;
    }

    /// 503 until the default model is loaded.
    pub(crate) fn ready(&self) -> Result<(), ApiError> {
        match self.readiness() {
            Readiness::Ready => Ok(()),
            Readiness::Loading => Err(ApiError::loading()),
            Readiness::Failed(error) => Err(ApiError::internal(format!("the model could not be loaded: {error}"))),
        }
    }

    /// A number for the next response id.
    pub(crate) fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }
}

/// Seconds since 1970 (0 before it), as OpenAI's `created`.
pub(crate) fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|elapsed| u32::try_from(elapsed.as_secs()).ok())
        .unwrap_or(0)
}
