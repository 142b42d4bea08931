//! What the app holds while it runs: the node, the settings (and where they
//! are stored), the running queries and downloads.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chorus_node::net::{DeviceClass, Multiaddr};
use chorus_node::{CancellationToken, ErrorCode, HostProbe, NetworkChange, Node, NodeConfig, Privacy, Settings};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_store::StoreExt;

use crate::error::{CommandError, CommandResult};
use crate::local_api::LocalApi;

/// The key the settings live under in the store file.
const SETTINGS_KEY: &str = "settings";
/// The store file.
const SETTINGS_FILE: &str = "settings.json";

/// Environment overrides, read once at start (tests use them to run the app
/// in a temporary directory).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `CHORUS_DATA_DIR`: the data directory, whatever the settings say
    /// (also honoured by chorus-node itself, as by the CLI).
    pub data_dir: Option<PathBuf>,
    /// `CHORUS_CATALOG`: a catalog file instead of the built-in one (the
    /// CLI's `--catalog`).
    pub catalog: Option<PathBuf>,
    /// `CHORUS_CONFIG_DIR`: where `settings.json` lives; else
    /// `$CHORUS_DATA_DIR` when that is set, else the app's config directory.
    pub config_dir: Option<PathBuf>,
    /// `CHORUS_LISTEN`: comma-separated multiaddrs to listen on instead of
    /// every interface (tests keep the network on loopback with
    /// `/ip4/127.0.0.1/tcp/0`). Malformed ones are skipped with a warning.
    pub listen: Option<Vec<Multiaddr>>,
    /// `CHORUS_NO_MDNS=1`: no mDNS on the local network.
    pub no_mdns: bool,
    /// `CHORUS_LOCAL_SPECIALISTS`: the specialists this device runs itself,
    /// comma-separated, or `none` to leave every sub-task to peers (the
    /// CLI's `--local-specialists`); unset, every one whose base model is
    /// installed. The conductor model still runs here. With `none`, a
    /// question asked on-device only has no specialist to run on, so it
    /// fails; the end-to-end test uses it to make a peer run a sub-task.
    pub local_specialists: Option<BTreeSet<String>>,
}

impl Overrides {
    /// The overrides in the environment (empty values are ignored).
    #[must_use]
    pub fn from_env() -> Self {
        let path = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
        Self {
            data_dir: path("CHORUS_DATA_DIR"),
            catalog: path("CHORUS_CATALOG"),
            config_dir: path("CHORUS_CONFIG_DIR"),
            listen: std::env::var("CHORUS_LISTEN")
                .ok()
                .filter(|value| !value.trim().is_empty())
                .map(|value| parse_listen(&value)),
            no_mdns: std::env::var("CHORUS_NO_MDNS").is_ok_and(|value| value == "1"),
            local_specialists: std::env::var("CHORUS_LOCAL_SPECIALISTS")
                .ok()
                .filter(|value| !value.trim().is_empty())
                .map(|value| parse_specialists(&value)),
        }
    }
}

/// The specialist ids of `CHORUS_LOCAL_SPECIALISTS`; `none` names none.
fn parse_specialists(value: &str) -> BTreeSet<String> {
    value.split(',').map(str::trim).filter(|id| !id.is_empty() && *id != "none").map(str::to_owned).collect()
}

/// The addresses of `CHORUS_LISTEN`, skipping (and logging) malformed ones.
fn parse_listen(value: &str) -> Vec<Multiaddr> {
    value
        .split(',')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .filter_map(|address| match address.parse() {
            Ok(address) => Some(address),
            Err(error) => {
                tracing::warn!(%address, %error, "CHORUS_LISTEN: not a multiaddr; skipped");
                None
            }
        })
        .collect()
}

/// A set of cancellation tokens by id (running queries, running pulls).
#[derive(Debug, Clone, Default)]
pub(crate) struct Running(Arc<Mutex<HashMap<String, CancellationToken>>>);

impl Running {
    /// Registers `id`; `None` if it is already running.
    pub(crate) fn start(&self, id: &str) -> Option<RunningGuard> {
        let mut map = self.0.lock().ok()?;
        if map.contains_key(id) {
            return None;
        }
        let token = CancellationToken::new();
        map.insert(id.to_owned(), token.clone());
        Some(RunningGuard { running: self.clone(), id: id.to_owned(), token })
    }

    /// Cancels `id`; false if nothing runs under it.
    pub(crate) fn cancel(&self, id: &str) -> bool {
        let token = self.0.lock().ok().and_then(|map| map.get(id).cloned());
        token.is_some_and(|token| {
            token.cancel();
            true
        })
    }
}

/// Removes its id from [`Running`] when the work ends, however it ends.
#[derive(Debug)]
pub(crate) struct RunningGuard {
    running: Running,
    id: String,
    /// Cancelled by [`Running::cancel`].
    pub(crate) token: CancellationToken,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.running.0.lock() {
            map.remove(&self.id);
        }
    }
}

/// The app's state, managed by Tauri.
pub struct AppState {
    /// The node, or why it could not start (the settings still work). It
    /// joins and leaves the network in place.
    node: Result<Node, CommandError>,
    /// The settings in force, and the network they were applied to. The
    /// async lock also serialises network transitions.
    settings: tokio::sync::Mutex<Applied>,
    /// The settings file.
    settings_path: PathBuf,
    /// This device's class, for peers' routing.
    device_class: DeviceClass,
    /// Host conditions for serving.
    host: HostProbe,
    /// Running queries by id (`q12`).
    pub(crate) queries: Running,
    /// Running pulls by the id they were asked for.
    pub(crate) pulls: Running,
    /// The environment's overrides (listen addresses and mDNS apply to
    /// every join).
    overrides: Overrides,
    /// The OpenAI-compatible server of the setting `local_api`.
    pub(crate) local_api: LocalApi,
}

/// Where the node keeps its data unless the settings or `CHORUS_DATA_DIR`
/// say otherwise. On a desktop it is the `chorus` command's folder, so the
/// app and the command share installed models and the network identity.
#[cfg(desktop)]
fn platform_data_dir<R: Runtime>(_app: &AppHandle<R>) -> PathBuf {
    chorus_node::default_data_dir()
}

/// On a phone it is the app's own private folder: the process has no home
/// folder there, and nothing else may write beside the app.
#[cfg(mobile)]
fn platform_data_dir<R: Runtime>(app: &AppHandle<R>) -> PathBuf {
    app.path().app_data_dir().unwrap_or_else(|error| {
        tracing::warn!(%error, "the platform gave no app data folder");
        chorus_node::default_data_dir()
    })
}

/// Settings as stored, and the ones the network runs under.
struct Applied {
    stored: Settings,
    network: Option<Settings>,
}

impl AppState {
    /// Loads the settings (defaults on first start) and starts the node
    /// under them. The network, when the settings want it, is joined by
    /// [`AppState::apply_stored`], which the caller spawns.
    pub fn start<R: Runtime>(app: &AppHandle<R>, overrides: &Overrides) -> Self {
        let config_dir = overrides
            .config_dir
            .clone()
            .or_else(|| overrides.data_dir.clone())
            .or_else(|| app.path().app_config_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let settings_path = config_dir.join(SETTINGS_FILE);
        let default_data_dir = overrides.data_dir.clone().unwrap_or_else(|| platform_data_dir(app));
        // One core is left to the window (WebKit) and the rest of the
        // system: llama.cpp's threads collapse when another process holds one.
        let cores = std::thread::available_parallelism()
            .map_or(1, |cores| u32::try_from(cores.get()).unwrap_or(1))
            .saturating_sub(1)
            .max(1);
        let defaults = Settings::defaults(&default_data_dir, cores);
        // The settings hold the private names: the app's config folder and
        // the file are its owner's alone.
        chorus_node::keep_private(&config_dir);
        chorus_node::keep_private(&settings_path);
        let stored = load_settings(app, &settings_path).unwrap_or_else(|| defaults.clone());
        let data_dir = overrides.data_dir.clone().unwrap_or_else(|| stored.data_dir_path());
        tracing::info!(settings = %settings_path.display(), data_dir = %data_dir.display(), "starting the node");
        if let Some(local) = &overrides.local_specialists {
            tracing::info!(?local, "CHORUS_LOCAL_SPECIALISTS: only these specialists run on this device");
        }
        let config = NodeConfig {
            model: crate::bundled::embedded_model(app, &data_dir),
            // Semantic routing with the bundled sentence model; without one
            // the node looks in its models folders, else routes by keywords.
            embedder: crate::sentence_model::sentence_model(app, &data_dir),
            threads: usize::try_from(stored.threads).ok(),
            data_dir: Some(data_dir),
            catalog: overrides.catalog.clone(),
            history_days: stored.history_days,
            local_specialists: overrides.local_specialists.clone(),
            ..NodeConfig::default()
        };
        let node = Node::start(config).map_err(|error| {
            tracing::error!(%error, "the node could not start");
            CommandError::from(error)
        });
        if let Ok(node) = &node {
            for query in node.interrupted() {
                tracing::warn!(id = %query.id, "query interrupted by an earlier run");
            }
        }
        Self {
            node,
            settings: tokio::sync::Mutex::new(Applied { stored, network: None }),
            settings_path,
            device_class: chorus_node::device_class(),
            host: chorus_node::host_probe(),
            overrides: overrides.clone(),
            queries: Running::default(),
            pulls: Running::default(),
            local_api: LocalApi::default(),
        }
    }

    /// A handle on the node as it is now (cheap: the node is a set of
    /// handles; a snapshot, see [`Node`]).
    ///
    /// # Errors
    /// Why the node could not start.
    pub fn node(&self) -> CommandResult<Node> {
        self.node.clone()
    }

    /// The settings in force.
    pub async fn settings(&self) -> Settings {
        self.settings.lock().await.stored.clone()
    }

    /// Where the settings are stored.
    #[must_use]
    pub fn settings_path(&self) -> &Path {
        &self.settings_path
    }

    /// Applies the stored settings to the node (at start).
    ///
    /// # Errors
    /// As [`AppState::set_settings`].
    pub async fn apply_stored(&self) -> CommandResult<()> {
        let mut applied = self.settings.lock().await;
        let wanted = applied.stored.clone();
        let network = self.apply_network(&mut applied, &wanted).await;
        self.local_api.apply(wanted.local_api, self.node.as_ref().ok()).await;
        network
    }

    /// Validates, stores and applies new settings; returns what was stored.
    /// A new `history_days` deletes the older queries at once.
    ///
    /// # Errors
    /// `invalid_settings`; `store` if the file cannot be written; the
    /// node's error if the network cannot start (the settings stay stored).
    pub async fn set_settings<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        value: serde_json::Value,
    ) -> CommandResult<Settings> {
        let settings = Settings::from_json(value)?;
        let mut applied = self.settings.lock().await;
        save_settings(app, &self.settings_path, &settings)?;
        let history_changed = applied.stored.history_days != settings.history_days;
        applied.stored = settings.clone();
        if history_changed && let Ok(node) = &self.node {
            // Queries older than the new setting keeps go now.
            let (node, days) = (node.clone(), settings.history_days);
            tauri::async_runtime::spawn_blocking(move || node.set_history_days(days))
                .await
                .map_err(|error| CommandError::internal(error.to_string()))??;
        }
        let network = self.apply_network(&mut applied, &settings).await;
        // After the network: the API serves the node as it now is.
        self.local_api.apply(settings.local_api, self.node.as_ref().ok()).await;
        network?;
        Ok(settings)
    }

    async fn apply_network(&self, applied: &mut Applied, wanted: &Settings) -> CommandResult<()> {
        if chorus_node::network_change(applied.network.as_ref(), wanted) == NetworkChange::None {
            applied.network = (wanted.privacy == Privacy::Network).then(|| wanted.clone());
            return Ok(());
        }
        let node = self.node.as_ref().map_err(Clone::clone)?;
        let mut network = wanted.network(self.device_class, self.host.clone())?;
        if let Some(listen) = &self.overrides.listen {
            network.listen.clone_from(listen);
        }
        if self.overrides.no_mdns {
            network.mdns = false;
        }
        // On failure the node stays off the network (the settings stay stored).
        node.apply_settings(applied.network.as_ref(), wanted, network).await?;
        applied.network = (wanted.privacy == Privacy::Network).then(|| wanted.clone());
        Ok(())
    }
}

fn load_settings<R: Runtime>(app: &AppHandle<R>, path: &Path) -> Option<Settings> {
    let store = match app.store(path) {
        Ok(store) => store,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot open the settings; using the defaults");
            return None;
        }
    };
    let value = store.get(SETTINGS_KEY)?;
    match Settings::from_json(value) {
        Ok(settings) => Some(settings),
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "stored settings are unusable; using the defaults");
            None
        }
    }
}

fn save_settings<R: Runtime>(app: &AppHandle<R>, path: &Path, settings: &Settings) -> CommandResult<()> {
    let store_error =
        |error: tauri_plugin_store::Error| CommandError::new(ErrorCode::Store, format!("{}: {error}", path.display()));
    let store = app.store(path).map_err(store_error)?;
    let value = serde_json::to_value(settings).map_err(|error| CommandError::internal(error.to_string()))?;
    store.set(SETTINGS_KEY, value);
    store.save().map_err(store_error)?;
    // The settings hold the private names and the onboarding profile.
    chorus_node::keep_private(path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_ids_are_unique_and_forgotten_when_done() {
        let running = Running::default();
        let guard = running.start("a").unwrap();
        assert!(running.start("a").is_none());
        assert!(running.cancel("a"));
        assert!(guard.token.is_cancelled());
        assert!(!running.cancel("b"));
        drop(guard);
        assert!(!running.cancel("a"));
        assert!(running.start("a").is_some());
    }

    #[test]
    fn local_specialists_are_a_list_or_none() {
        assert!(parse_specialists("none").is_empty());
        assert!(parse_specialists(" none , ").is_empty());
        let list = parse_specialists("general.assistant, software.python,,");
        assert_eq!(list.into_iter().collect::<Vec<_>>(), ["general.assistant", "software.python"]);
    }
}
