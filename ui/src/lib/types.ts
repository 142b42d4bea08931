// The JSON shapes the node speaks, as the README documents them
// (`chorus ask --json`, `models list/recommend/pull --json`, `peers --json`,
// `history --json`). Field names stay snake_case, exactly as serde writes
// them, so the Tauri shell can pass chorus-node's values through unchanged.

/** An error as it reaches the UI: a stable code to branch on, words for people. */
export interface ErrorInfo {
  code: string;
  message: string;
}

// ---------------------------------------------------------------------------
// Conductor events (`chorus ask --json`), tagged by `event`.

export interface QueryEvent {
  event: 'query';
  /** Journal id, e.g. `q3`. */
  query_id: string;
  /** The conversation it belongs to: its first question's id (`q3` itself when it begins one). */
  conversation?: string;
}

/**
 * How a question that continues a conversation used it: sent first after
 * `query`, before `analysis`, only when the question continues one.
 */
export interface ContextEvent {
  event: 'context';
  /** Whether the question was read as a follow-up of the conversation. */
  follow_up: boolean;
  /** Earlier turns of the conversation. */
  turns: number;
  /** How many of them the answer is written with (0 or 1). */
  carried: number;
  /** What was decided and why, in words. */
  reason: string;
  /** The self-contained question the conductor model rewrote the follow-up into, when it did. */
  resolved?: string;
}

export interface AnalysisEvent {
  event: 'analysis';
  kind: 'simple' | 'composite';
  reason: string;
  specialists: string[];
}

export interface PlanStep {
  index: number;
  specialist: string;
  task: string;
  depends_on: number[];
  /** The words of the question this step answers, when known. */
  part?: string;
}

/** A part of the question no sub-task does, and why. */
export interface UnplannedPart {
  part: string;
  reason: string;
}

export interface PlanEvent {
  event: 'plan';
  source: 'analysis' | 'model' | 'repaired' | 'fallback' | 'split';
  subtasks: PlanStep[];
  repairs: string[];
  not_planned?: UnplannedPart[];
}

export interface SubtaskStartedEvent {
  event: 'subtask_started';
  index: number;
  specialist: string;
  /** `local` or a peer id. */
  executor: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Whether the part left this device (ran on the peer `executor`). */
  left_device: boolean;
  /** Personal data items replaced by placeholders in what the peer received. */
  redacted: number;
  /** Exactly what the peer received; absent when the part stayed here. */
  sent?: SentText;
  /** Why the part was kept on this device (sensitive), if it was. */
  kept_on_device?: string;
}

/** What a peer received for one sub-task: its system prompt and user text. */
export interface SentText {
  system: string;
  prompt: string;
}

export interface SubtaskTokenEvent {
  event: 'subtask_token';
  index: number;
  text: string;
}

export interface SubtaskDoneEvent {
  event: 'subtask_done';
  index: number;
  specialist: string;
  executor: string;
  tokens: number;
  ms: number;
}

export interface SubtaskFailedEvent {
  event: 'subtask_failed';
  index: number;
  specialist: string;
  executor: string;
  error: string;
  attempt: number;
  will_retry: boolean;
}

export interface SubtaskSkippedEvent {
  event: 'subtask_skipped';
  index: number;
  reason: string;
}

export interface SubtaskQueuedEvent {
  event: 'subtask_queued';
  index: number;
  specialist: string;
  system: string;
  prompt: string;
  timeout_s: number;
}

export interface TokenEvent {
  event: 'token';
  text: string;
}

export interface AnswerResetEvent {
  event: 'answer_reset';
  attempt: number;
}

export type SubtaskStatus = 'done' | 'failed' | 'timed_out' | 'skipped';

export interface SubtaskReport {
  index: number;
  specialist: string;
  /** Executor of the last attempt; empty if it never started. */
  executor: string;
  status: SubtaskStatus;
  attempts: number;
  tokens: number;
  ms: number;
  text: string;
  error: string | null;
}

export interface DoneEvent {
  event: 'done';
  answer: string;
  ms: number;
  subtasks: SubtaskReport[];
  /** For each done sub-task, the share (0–1) of its content words the answer keeps. */
  coverage?: { index: number; coverage: number }[];
  /** Where the time went, in ms; stages the question skipped are absent. */
  timings?: {
    analyse_ms: number;
    plan_ms?: number;
    first_part_started_ms?: number;
    slowest_part_ms?: number;
    synthesis_ms?: number;
    total_ms: number;
  };
}

export interface ErrorEvent {
  event: 'error';
  /** `empty_prompt`, `nothing_reachable`, `conductor_failed`, `cancelled`. */
  code: string;
  message: string;
}

export type ConductorEvent =
  | QueryEvent
  | ContextEvent
  | AnalysisEvent
  | PlanEvent
  | SubtaskStartedEvent
  | SubtaskTokenEvent
  | SubtaskDoneEvent
  | SubtaskFailedEvent
  | SubtaskSkippedEvent
  | SubtaskQueuedEvent
  | TokenEvent
  | AnswerResetEvent
  | DoneEvent
  | ErrorEvent;

// ---------------------------------------------------------------------------
// The journal (`chorus history --json`, `chorus history show ID --json`).

export type QueryStatus = 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

export interface QuerySummary {
  /** `q3` (the CLI's JSON writes the bare number 3; both are accepted). */
  id: string | number;
  /** The conversation it belongs to: its first question's id (its own when it began one). */
  conversation?: string | number;
  text: string;
  /** `on_device` or `network`. */
  mode: string;
  status: QueryStatus;
  started_at_ms: number;
  ended_at_ms: number | null;
}

export interface SubtaskRecord {
  index: number;
  specialist: string;
  executor: string;
  status: string;
  attempts: number;
  tokens: number;
  elapsed_ms: number;
  text: string;
  error: string | null;
}

export interface JournalEvent {
  seq: number;
  at_ms: number;
  /** A conductor event; token events are not journaled. */
  event: ConductorEvent;
}

export interface QueryRecord extends QuerySummary {
  plan: PlanEvent | null;
  answer: string | null;
  error: string | null;
  subtasks: SubtaskRecord[];
  events: JournalEvent[];
}

/** A conversation as listed (`chorus history conversations --json`). */
export interface ConversationSummary {
  /** Its id: the id of its first question (`q3`, or the bare number 3). */
  id: string | number;
  /** Its first question still in the journal. */
  title: string;
  /** How many of its questions the journal holds. */
  turns: number;
  /** Its latest question's id. */
  last: string | number;
  /** Where its latest question stands. */
  status: QueryStatus;
  started_at_ms: number;
  /** When its latest question began. */
  last_at_ms: number;
}

// ---------------------------------------------------------------------------
// Models (`chorus models list | recommend | pull | rm --json`).

export interface Profile {
  profession: string;
  skills: string[];
  languages: string[];
  interests: string[];
  storage_budget_bytes: number;
  /** RAM for models; `null` lets the node use what the device has. */
  memory_bytes: number | null;
}

export interface ModelRecommendation {
  specialist_id: string;
  name: string;
  base_model: string;
  score: number;
  verified: boolean;
  reasons: string[];
  size_bytes: number;
  installed: boolean;
  download_bytes: number;
}

export interface BaseModelStatus {
  id: string;
  name: string;
  size_bytes: number;
  license: string;
  verified: boolean;
  /** `url`, `pypi_wheel` or `pypi_chunks`. */
  source: string;
  embedded: boolean;
  installed_path: string | null;
  installed_verified: boolean | null;
  /** How many specialists run on it. */
  specialists: number;
}

export interface SpecialistStatus {
  id: string;
  name: string;
  base_model: string;
  size_bytes: number;
  verified: boolean;
  /** Its base model is on this device. */
  runnable: boolean;
}

export interface ModelListing {
  base_models: BaseModelStatus[];
  specialists: SpecialistStatus[];
  install_dir: string;
}

/** One `{"event":"progress",…}` line of `chorus models pull --json`. */
export interface PullProgress {
  event: 'progress';
  downloaded: number;
  total: number | null;
  bytes_per_second: number;
  eta_seconds: number | null;
}

export interface PullOutcome {
  requested: string;
  /** The base model installed. */
  id: string;
  path: string;
  bytes: number;
  sha256: string;
  verified: boolean;
  already_present: boolean;
  resumed: boolean;
}

export interface RemovedModel {
  id: string;
  files: string[];
  registry_entry: boolean;
}

// ---------------------------------------------------------------------------
// The network (`chorus peers --json`, plus what this device knows of itself).

export type Reachability = 'public' | 'private' | 'relayed' | 'unknown';

export interface NetworkInfo {
  /** Whether the network stack runs (it does not in on-device-only mode). */
  running: boolean;
  /** This device's peer id (from its identity key), if it has one yet. */
  peer_id: string | null;
  reachability: Reachability;
  listen_addresses: string[];
}

export type DeviceClass = 'desktop' | 'laptop' | 'phone' | 'unknown';

export interface PeerStatus {
  version: number;
  specialists: string[];
  free_slots: number;
  total_slots: number;
  waiting: number;
  tokens_per_s: number;
  device_class: DeviceClass;
  serving: boolean;
  max_tokens: number;
}

export interface LedgerEntry {
  tasks_given: number;
  tasks_received: number;
  tokens_given: number;
  tokens_received: number;
}

export interface PeerView {
  peer_id: string;
  addresses: string[];
  connected: boolean;
  rtt_ms: number | null;
  status: PeerStatus | null;
  /** Tokens the peer gave this device minus tokens it received. */
  standing: number;
  ledger: LedgerEntry;
  /** What this device measured of the peer's tasks (placement ranks by this, not by its status). */
  measured: PeerRecord;
}

export interface PeerRecord {
  succeeded: number;
  failed: number;
  failures_in_a_row: number;
  /** Unix ms until which the peer ranks last; 0 when it never failed. */
  demoted_until_ms: number;
  /** Tokens counted arriving on its successful tasks, and the ms they took. */
  tokens: number;
  ms: number;
}

// ---------------------------------------------------------------------------
// Settings (kept by the shell, e.g. `<data-dir>/settings.json`).

export type PrivacyMode = 'on_device' | 'network';

export interface Settings {
  /** Default for every query: nothing leaves the device, or the network may help. */
  privacy: PrivacyMode;
  /** Serve other devices' sub-tasks. */
  serve: boolean;
  /** Sub-tasks run for others at once (`--slots`). */
  max_slots: number;
  /** Inference threads. */
  threads: number;
  only_when_idle: boolean;
  /** Ignored on devices without a battery. */
  only_when_charging: boolean;
  /** Multiaddrs ending in `/p2p/<peer id>`. */
  bootstrap_peers: string[];
  /** Journal, identity and installed models; a change applies at the next start. */
  data_dir: string;
  /** Onboarding was finished or skipped. */
  onboarded: boolean;
  /** What onboarding asked, if it was answered. */
  profile: Profile | null;
  /** Names redacted from what leaves this device (the owner's, family, clients). */
  private_names: string[];
  /** Sensitive parts (health, personal legal and money matters) stay on this device. */
  keep_sensitive_on_device: boolean;
  /**
   * Days of history kept (1–36500): older past questions are deleted at
   * start, once a day and when this changes. `null` (the default) keeps
   * them forever.
   */
  history_days: number | null;
  /**
   * The identity peers see questions come from: a separate one replaced
   * every `hour`, `day` (the default) or `week`, or the `device`'s own (the
   * one it serves under: peers see its standing, and can link every
   * question).
   */
  requester_identity: RequesterIdentity;
  /**
   * Serve the OpenAI-compatible API to other apps on this device (loopback
   * only). Off by default; settings stored by an older version lack it.
   */
  local_api: boolean;
}

/** The app's OpenAI-compatible server for other apps on this device, as it stands. */
export interface LocalApiInfo {
  /** The setting `local_api`. */
  enabled: boolean;
  running: boolean;
  /** `http://127.0.0.1:11435/v1` while it runs. */
  url: string | null;
  /** The bearer key other apps send, while it runs. */
  key: string | null;
  /** Why it could not start. */
  error: string | null;
}

export type RequesterIdentity = 'hour' | 'day' | 'week' | 'device';
