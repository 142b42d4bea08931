//! The commands of ui/COMMANDS.md: each converts its arguments, calls the
//! node and passes its values through in the JSON the CLI prints with
//! `--json`. Every command is async, so none runs on the main thread.

use std::time::{Duration, Instant};

use chorus_node::core::{
    ConductorEvent, ConversationSummary, DownloadProgress, Profile, QueryId, QueryRecord, QuerySummary,
};
use chorus_node::net::Reachability;
use chorus_node::{
    Continues, ErrorCode, ModelListing, ModelRecommendation, PeerView, PullOptions, PullOutcome, RemovedModel, Settings,
};
use serde::Serialize;
use serde_json::{Value, json};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tokio::sync::mpsc;

use crate::error::{CommandError, CommandResult};
use crate::local_api::LocalApiInfo;
use crate::state::AppState;

/// The most history entries one call returns.
const HISTORY_LIMIT: usize = 1000;
/// Progress messages are sent at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What `ask` returns once the query is in the journal.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AskStarted {
    /// The journal id (`q12`).
    pub(crate) query_id: String,
    /// The conversation it belongs to: the id of its first query (`q9`;
    /// the query's own when it begins one).
    pub(crate) conversation: String,
}

/// This device on the network.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NetworkInfo {
    /// Whether the network stack runs.
    pub(crate) running: bool,
    /// This device's peer id, once it has an identity key.
    pub(crate) peer_id: Option<String>,
    /// The node's AutoNAT view.
    pub(crate) reachability: Reachability,
    /// Where it listens (each ending in `/p2p/<peer id>`).
    pub(crate) listen_addresses: Vec<String>,
}

fn event_value(event: &ConductorEvent) -> Value {
    serde_json::to_value(event)
        .unwrap_or_else(|error| CommandError::internal(format!("unserialisable event: {error}")).to_event())
}

/// Starts a query, in a new conversation or continuing `conversation` (the
/// id of any of its queries), and streams its events to `on_event` (see
/// ui/COMMANDS.md).
#[tauri::command]
pub(crate) async fn ask(
    question: String,
    on_device_only: bool,
    conversation: Option<String>,
    on_event: Channel<Value>,
    state: State<'_, AppState>,
) -> CommandResult<AskStarted> {
    if question.trim().is_empty() {
        return Err(CommandError::empty_prompt());
    }
    let continues = match conversation.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        None => Continues::Nothing,
        Some(id) => Continues::Conversation(query_id(id)?),
    };
    let node = state.node()?;
    semantic_routing(&node).await;
    let running = node.conduct_in(&question, continues, on_device_only)?;
    let query_id = running.query_id.to_string();
    let conversation = running.conversation.to_string();
    let Some(guard) = state.queries.start(&query_id) else {
        return Err(CommandError::internal(format!("query {query_id} is already running")));
    };
    // The first message, before the command returns: the stream is in order.
    let _ = on_event.send(json!({"event": "query", "query_id": query_id, "conversation": conversation}));
    tauri::async_runtime::spawn(forward(running.events, on_event, guard));
    Ok(AskStarted { query_id, conversation })
}

/// A query id as the UI writes it (`q3`); anything else is `unknown_query`.
fn query_id(text: &str) -> CommandResult<QueryId> {
    text.trim()
        .parse()
        .map_err(|_| CommandError::new(ErrorCode::UnknownQuery, format!("{text:?} is not a query id (e.g. q3)")))
}

/// The longest `ask` waits for semantic routing, as the `chorus` command.
const SEMANTIC_WAIT: Duration = Duration::from_secs(90);

/// Gives semantic routing the time to get ready before a question is
/// routed, as `chorus ask` does: loading the bundled sentence model and its
/// cached specialist vectors takes well under a second, computing the
/// vectors on the first start tens of seconds. It returns at once when
/// routing is ready or never will be (no model, or it failed to load), and
/// waits on a blocking thread, never on the async runtime's or the UI's.
async fn semantic_routing(node: &chorus_node::Node) {
    let node = node.clone();
    let ready = tauri::async_runtime::spawn_blocking(move || node.wait_for_semantic_routing(SEMANTIC_WAIT)).await;
    if !matches!(ready, Ok(true)) {
        tracing::info!("routing by keywords: semantic routing is not ready");
    }
}

/// Passes a query's events to the UI until it ends, is cancelled or the
/// window goes away (dropping the receiver cancels the query in the node).
async fn forward(
    mut events: mpsc::Receiver<ConductorEvent>,
    channel: Channel<Value>,
    guard: crate::state::RunningGuard,
) {
    loop {
        tokio::select! {
            biased;
            () = guard.token.cancelled() => {
                drop(events);
                let _ = channel.send(CommandError::new(ErrorCode::Cancelled, "the query was cancelled").to_event());
                return;
            }
            event = events.recv() => match event {
                Some(event) => {
                    if channel.send(event_value(&event)).is_err() {
                        return;
                    }
                }
                None => return,
            },
        }
    }
}

/// Cancels a running query; unknown or finished ids are not an error.
#[tauri::command]
pub(crate) async fn cancel(query_id: String, state: State<'_, AppState>) -> CommandResult<()> {
    if let Ok(id) = query_id.parse::<QueryId>() {
        state.queries.cancel(&id.to_string());
    }
    Ok(())
}

/// Past queries, newest first.
#[tauri::command]
pub(crate) async fn history(limit: usize, state: State<'_, AppState>) -> CommandResult<Vec<QuerySummary>> {
    let node = state.node()?;
    Ok(node.store().list_queries(limit.min(HISTORY_LIMIT), 0)?)
}

/// One query from the journal.
#[tauri::command]
pub(crate) async fn history_show(query_id: String, state: State<'_, AppState>) -> CommandResult<QueryRecord> {
    let id = self::query_id(&query_id)?;
    let node = state.node()?;
    node.store()
        .query(id)?
        .ok_or_else(|| CommandError::new(ErrorCode::UnknownQuery, format!("no query {id} in the journal")))
}

/// The conversations, the most recently continued first.
#[tauri::command]
pub(crate) async fn conversations(limit: usize, state: State<'_, AppState>) -> CommandResult<Vec<ConversationSummary>> {
    let node = state.node()?;
    Ok(node.store().list_conversations(limit.min(HISTORY_LIMIT))?)
}

/// Every query of the conversation `conversation_id` (any of its queries'
/// ids) belongs to, oldest first.
#[tauri::command]
pub(crate) async fn conversation_show(
    conversation_id: String,
    state: State<'_, AppState>,
) -> CommandResult<Vec<QueryRecord>> {
    let id = query_id(&conversation_id)?;
    let node = state.node()?;
    let store = node.store();
    let root = store
        .conversation_of(id)?
        .ok_or_else(|| CommandError::new(ErrorCode::UnknownQuery, format!("no query {id} in the journal")))?;
    Ok(store.conversation(root)?)
}

/// Deletes every query of a conversation (`query_running` while one runs).
#[tauri::command]
pub(crate) async fn conversation_delete(conversation_id: String, state: State<'_, AppState>) -> CommandResult<Deleted> {
    let id = query_id(&conversation_id)?;
    let node = state.node()?;
    let ids = tauri::async_runtime::spawn_blocking(move || node.delete_conversation(id))
        .await
        .map_err(|error| CommandError::internal(error.to_string()))??;
    Ok(Deleted::of(&ids))
}

/// What `history_delete` and `history_clear` return: the ids deleted
/// (`["q3"]`), as `chorus history rm --json` prints them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Deleted {
    /// The queries deleted, oldest first.
    pub(crate) ids: Vec<String>,
}

impl Deleted {
    fn of(ids: &[QueryId]) -> Self {
        Self { ids: ids.iter().map(ToString::to_string).collect() }
    }
}

/// Deletes one past query (`query_running` while it runs).
#[tauri::command]
pub(crate) async fn history_delete(query_id: String, state: State<'_, AppState>) -> CommandResult<Deleted> {
    let id = self::query_id(&query_id)?;
    let node = state.node()?;
    tauri::async_runtime::spawn_blocking(move || node.delete_query(id))
        .await
        .map_err(|error| CommandError::internal(error.to_string()))??;
    Ok(Deleted::of(&[id]))
}

/// Deletes every past query but one still running.
#[tauri::command]
pub(crate) async fn history_clear(state: State<'_, AppState>) -> CommandResult<Deleted> {
    let node = state.node()?;
    let ids = tauri::async_runtime::spawn_blocking(move || node.delete_history())
        .await
        .map_err(|error| CommandError::internal(error.to_string()))??;
    Ok(Deleted::of(&ids))
}

/// The specialists that fit a profile (`memory_bytes: null`: this device's memory).
#[tauri::command]
pub(crate) async fn recommend(
    mut profile: Profile,
    state: State<'_, AppState>,
) -> CommandResult<Vec<ModelRecommendation>> {
    if profile.memory_bytes.is_none() {
        profile.memory_bytes = chorus_node::total_memory();
    }
    let node = state.node()?;
    Ok(node.recommend_models(&profile)?)
}

/// Every model of the catalog and what is installed.
#[tauri::command]
pub(crate) async fn list_models(state: State<'_, AppState>) -> CommandResult<ModelListing> {
    let node = state.node()?;
    tauri::async_runtime::spawn_blocking(move || node.list_models())
        .await
        .map_err(|error| CommandError::internal(error.to_string()))?
        .map_err(Into::into)
}

/// Sends download progress at most ten times a second, and always the last.
struct ProgressSender {
    channel: Channel<Value>,
    last: Option<Instant>,
}

impl ProgressSender {
    fn update(&mut self, progress: &DownloadProgress) {
        let finished = progress.total.is_some_and(|total| progress.downloaded >= total);
        if !finished && self.last.is_some_and(|last| last.elapsed() < PROGRESS_INTERVAL) {
            return;
        }
        self.last = Some(Instant::now());
        let _ = self.channel.send(json!({
            "event": "progress",
            "downloaded": progress.downloaded,
            "total": progress.total,
            "bytes_per_second": progress.bytes_per_second,
            "eta_seconds": progress.eta_seconds,
        }));
    }
}

/// Installs a base model (or a specialist's base model), with progress.
/// A model the catalog has no sha256 for installs only with
/// `allow_unverified: true` (the UI asks the person first); otherwise it
/// rejects with `unverified_model`.
#[tauri::command]
pub(crate) async fn pull_model(
    id: String,
    allow_unverified: Option<bool>,
    on_progress: Channel<Value>,
    state: State<'_, AppState>,
) -> CommandResult<PullOutcome> {
    let options = PullOptions { allow_unverified: allow_unverified.unwrap_or(false) };
    let node = state.node()?;
    let Some(guard) = state.pulls.start(&id) else {
        return Err(CommandError::new(ErrorCode::Busy, format!("{id} is already downloading")));
    };
    let mut sender = ProgressSender { channel: on_progress, last: None };
    // The node's pull future is not `Send` (its progress callback is a
    // `&mut dyn FnMut`), so it runs on a blocking thread of the runtime.
    let runtime = tokio::runtime::Handle::current();
    let outcome = tauri::async_runtime::spawn_blocking(move || {
        let outcome =
            runtime.block_on(node.pull(&id, options, |progress| sender.update(&progress), guard.token.clone()));
        drop(guard);
        outcome
    })
    .await
    .map_err(|error| CommandError::internal(format!("the download task failed: {error}")))?;
    Ok(outcome?)
}

/// Pauses a download: cancels its pull; the `.partial` file stays.
#[tauri::command]
pub(crate) async fn pause_download(id: String, state: State<'_, AppState>) -> CommandResult<()> {
    state.pulls.cancel(&id);
    Ok(())
}

/// Removes an installed model.
#[tauri::command]
pub(crate) async fn remove_model(id: String, state: State<'_, AppState>) -> CommandResult<RemovedModel> {
    let node = state.node()?;
    Ok(node.remove_model(&id)?)
}

/// Whether the network runs, this device's peer id and addresses.
#[tauri::command]
pub(crate) async fn network_info(state: State<'_, AppState>) -> CommandResult<NetworkInfo> {
    let node = state.node()?;
    if let Some(network) = node.network().filter(|network| network.is_running()) {
        let reachability = network.reachability().await.unwrap_or(Reachability::Unknown);
        let listen_addresses =
            network.listen_addrs().await.unwrap_or_default().iter().map(ToString::to_string).collect();
        return Ok(NetworkInfo {
            running: true,
            peer_id: Some(network.peer_id().to_string()),
            reachability,
            listen_addresses,
        });
    }
    // Off: the peer id of the key on disk, without creating one.
    let key = node.data_dir().join(chorus_node::net::KEY_FILE);
    let peer_id = key
        .is_file()
        .then(|| chorus_node::net::load_or_create_identity(node.data_dir()).ok())
        .flatten()
        .map(|keypair| keypair.public().to_peer_id().to_string());
    Ok(NetworkInfo { running: false, peer_id, reachability: Reachability::Unknown, listen_addresses: Vec::new() })
}

/// The peers the running node knows.
#[tauri::command]
pub(crate) async fn peers(state: State<'_, AppState>) -> CommandResult<Vec<PeerView>> {
    let node = state.node()?;
    if !node.network().as_ref().is_some_and(chorus_node::net::Network::is_running) {
        return Err(CommandError::network_off());
    }
    Ok(node.peers().await?)
}

/// The app's OpenAI-compatible server (setting `local_api`): where it
/// listens and its key, or why it does not run.
#[tauri::command]
pub(crate) async fn local_api(state: State<'_, AppState>) -> CommandResult<LocalApiInfo> {
    let enabled = state.settings().await.local_api;
    Ok(state.local_api.info(enabled).await)
}

/// The settings in force (the defaults, not onboarded, on first start).
#[tauri::command]
pub(crate) async fn get_settings(state: State<'_, AppState>) -> CommandResult<Settings> {
    Ok(state.settings().await)
}

/// Validates, stores and applies new settings.
#[tauri::command]
pub(crate) async fn set_settings(
    settings: Value,
    app: AppHandle,
    state: State<'_, AppState>,
) -> CommandResult<Settings> {
    state.set_settings(&app, settings).await
}
