//! How long the journal keeps past questions: "keep history N days", or
//! forever (the default). Applied when the node starts, at once when the
//! setting changes, and then once a day by a thread of its own while the
//! node runs.

#[cfg(test)]
mod tests;

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chorus_core::{Store, StoreError};

/// One day, in milliseconds.
pub(crate) const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// How often the running node applies the setting again.
pub(crate) const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// The retention of one node, shared by its clones. The daily thread stops
/// when the last clone is dropped.
pub(crate) struct Retention {
    shared: Arc<Shared>,
}

struct Shared {
    store: Store,
    /// How often the thread applies the setting.
    every: Duration,
    /// Unix milliseconds now (a parameter for the tests).
    now: fn() -> u64,
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    /// Days of history kept; `None` keeps everything.
    days: Option<u32>,
    /// The daily thread runs.
    started: bool,
    /// The node is gone: the thread ends.
    stopped: bool,
}

impl std::fmt::Debug for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retention").field("days", &self.days()).finish_non_exhaustive()
    }
}

/// The start time before which a query is forgotten when `days` are kept.
pub(crate) fn cutoff_ms(now_ms: u64, days: u32) -> u64 {
    now_ms.saturating_sub(u64::from(days).saturating_mul(DAY_MS))
}

impl Retention {
    /// Keeps `days` of history in `store` (none: everything); nothing is
    /// applied yet.
    pub(crate) fn new(store: Store, days: Option<u32>) -> Self {
        Self::with_clock(store, days, EVERY, chorus_core::now_ms)
    }

    pub(crate) fn with_clock(store: Store, days: Option<u32>, every: Duration, now: fn() -> u64) -> Self {
        let state = State { days, started: false, stopped: false };
        Self { shared: Arc::new(Shared { store, every, now, state: Mutex::new(state), wake: Condvar::new() }) }
    }

    /// The days kept now (`None`: forever).
    pub(crate) fn days(&self) -> Option<u32> {
        self.shared.state().days
    }

    /// Keeps `days` from now on, applies it at once and makes sure the
    /// daily thread runs when there is something to keep it for. Returns
    /// how many queries were forgotten.
    pub(crate) fn set(&self, days: Option<u32>) -> Result<usize, StoreError> {
        let start = {
            let mut state = self.shared.state();
            state.days = days;
            let start = days.is_some() && !state.started && !state.stopped;
            state.started |= start;
            start
        };
        if start {
            self.spawn();
        }
        self.shared.apply(days)
    }

    fn spawn(&self) {
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new().name("chorus-retention".to_owned()).spawn(move || shared.run());
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the daily history clean-up; the setting applies at each start");
            self.shared.state().started = false;
        }
    }
}

impl Drop for Retention {
    fn drop(&mut self) {
        self.shared.state().stopped = true;
        self.shared.wake.notify_all();
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, days: Option<u32>) -> Result<usize, StoreError> {
        let Some(days) = days else {
            return Ok(0);
        };
        let forgotten = self.store.forget_older_than(cutoff_ms((self.now)(), days))?;
        if forgotten > 0 {
            tracing::info!(forgotten, days, "forgot the queries older than the history setting keeps");
        }
        Ok(forgotten)
    }

    /// The daily thread: wakes every `every` until the node is gone.
    fn run(&self) {
        loop {
            let days = {
                let state = self.state();
                let (state, _) = self
                    .wake
                    .wait_timeout_while(state, self.every, |state| !state.stopped)
                    .unwrap_or_else(PoisonError::into_inner);
                if state.stopped {
                    return;
                }
                state.days
            };
            if let Err(error) = self.apply(days) {
                tracing::warn!(%error, "the daily history clean-up failed; it runs again tomorrow");
            }
        }
    }
}
