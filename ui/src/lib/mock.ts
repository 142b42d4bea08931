// A `ChorusApi` that needs no node: scripted conductor events, simulated
// downloads, a small catalog, two peers. Used by the component tests and by
// `npm run dev` in a plain browser. Everything happens on timers, as it would
// over IPC, so the UI's streaming paths are exercised.

import { ChorusError, queryIdOf, type ChorusApi } from './api';
import { contextFor, conversationRecords, followUpScenario, listConversations, rootOf } from './mock-conversations';
import {
  compositeScenario,
  errorScenario,
  failoverScenario,
  PEER_A,
  PEER_B,
  queuedScenario,
  redactedScenario,
  sensitiveScenario,
  simpleScenario,
  splitScenario,
} from './scenarios';
import type {
  BaseModelStatus,
  ConductorEvent,
  LocalApiInfo,
  ModelListing,
  ModelRecommendation,
  NetworkInfo,
  PeerView,
  Profile,
  PullOutcome,
  PullProgress,
  QueryRecord,
  QuerySummary,
  Settings,
  SpecialistStatus,
} from './types';

export type Scenario = (question: string, onDeviceOnly: boolean, queryId: string, settings: Settings) => ConductorEvent[];

/** Where the mock keeps its settings between page loads (`localStorage` in dev). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface MockOptions {
  /** Milliseconds between two events or progress steps (default 30). */
  delayMs?: number;
  /** Which events a question produces (default: by its words, see `defaultScenario`). */
  scenario?: Scenario;
  /** Settings to start with (merged over the defaults). */
  settings?: Partial<Settings>;
  /** Persist settings here. */
  store?: KeyValueStore;
  /** Progress steps of a download (default 10). */
  pullSteps?: number;
  /** Model ids whose download fails with `hash_mismatch`. */
  failingPulls?: string[];
  /** Past queries to start with. */
  history?: QueryRecord[];
  peers?: PeerView[];
  /** The local API cannot start, for this reason (e.g. the port is taken). */
  localApiError?: string;
}

/** What the mock's local API reports while it runs. */
export const MOCK_LOCAL_API = { url: 'http://127.0.0.1:11435/v1', key: 'chorus-mock-key-7f3a9c2e5b1d4086' };

export const DEFAULT_SETTINGS: Settings = {
  privacy: 'network',
  serve: true,
  max_slots: 2,
  threads: 2,
  only_when_idle: false,
  only_when_charging: false,
  bootstrap_peers: [],
  data_dir: '~/.local/share/chorus',
  onboarded: false,
  profile: null,
  private_names: [],
  keep_sensitive_on_device: true,
  history_days: null,
  requester_identity: 'day',
  local_api: false,
};

const SETTINGS_KEY = 'chorus.mock.settings';

/**
 * The default script: "fail" → failover, "queue" → the durable queue,
 * "nothing" → an error, an e-mail address or "e-mail" → a part sent to a
 * peer with personal details replaced, "health" or "blood" → a health part
 * kept on this device, "…; then …" on the network → a simple question split
 * by request for peers, a question with "and" or a comma → composite,
 * anything else → simple.
 */
export const defaultScenario: Scenario = (question, onDeviceOnly, queryId, settings) => {
  const text = question.toLowerCase();
  const keepSensitive = settings.keep_sensitive_on_device;
  if (/\bnothing\b/.test(text)) return errorScenario(queryId);
  if (!onDeviceOnly && /\bfail/.test(text)) return failoverScenario(queryId);
  if (!onDeviceOnly && /\bqueue/.test(text)) return queuedScenario(queryId);
  if (/@|\be-?mail\b/.test(text)) return redactedScenario(queryId, onDeviceOnly);
  if (/\b(health|blood)\b/.test(text)) return sensitiveScenario(queryId, onDeviceOnly, keepSensitive);
  if (!onDeviceOnly && /;\s*then\b/.test(text)) return splitScenario(queryId);
  if (/\band\b|,/.test(text)) return compositeScenario(queryId, onDeviceOnly);
  return simpleScenario(queryId, keepSensitive);
};

function baseModels(): BaseModelStatus[] {
  return [
    {
      id: 'smollm2-135m-instruct-q4_1',
      name: 'SmolLM2 135M Instruct (Q4_1)',
      size_bytes: 98_362_432,
      license: 'Apache-2.0',
      verified: true,
      source: 'pypi_wheel',
      embedded: true,
      installed_path: 'models/SmolLM2-135M-Instruct.Q4_1.gguf',
      installed_verified: true,
      specialists: 0,
    },
    {
      id: 'gemma3-270m-q4_k_m',
      name: 'Gemma 3 270M (pretrained base, Q4_K_M)',
      size_bytes: 253_113_024,
      license: 'LicenseRef-Gemma',
      verified: true,
      source: 'pypi_chunks',
      embedded: false,
      installed_path: null,
      installed_verified: null,
      specialists: 0,
    },
    {
      id: 'qwen2.5-1.5b-instruct-q4_k_m',
      name: 'Qwen2.5 1.5B Instruct (Q4_K_M)',
      size_bytes: 986_000_000,
      license: 'Apache-2.0',
      verified: false,
      source: 'url',
      embedded: false,
      installed_path: null,
      installed_verified: null,
      specialists: 0,
    },
  ];
}

interface MockSpecialist {
  id: string;
  name: string;
  base_model: string;
  tags: string[];
}

const SPECIALISTS: MockSpecialist[] = [
  { id: 'general.assistant', name: 'General assistant', base_model: 'smollm2-135m-instruct-q4_1', tags: ['general'] },
  { id: 'marketing.strategy', name: 'Marketing strategist', base_model: 'smollm2-135m-instruct-q4_1', tags: ['marketer', 'marketing', 'strategy', 'startups'] },
  { id: 'marketing.copywriting', name: 'Copywriter', base_model: 'smollm2-135m-instruct-q4_1', tags: ['marketer', 'copywriting', 'writing'] },
  { id: 'finance.pricing', name: 'Pricing analyst', base_model: 'smollm2-135m-instruct-q4_1', tags: ['pricing', 'finance', 'startups'] },
  { id: 'finance.personal-budgeting', name: 'Personal budgeting coach', base_model: 'smollm2-135m-instruct-q4_1', tags: ['budgeting', 'finance'] },
  { id: 'legal-research.privacy', name: 'Privacy & GDPR research assistant', base_model: 'smollm2-135m-instruct-q4_1', tags: ['lawyer', 'privacy', 'gdpr'] },
  { id: 'translate.es', name: 'Spanish translator', base_model: 'gemma3-270m-q4_k_m', tags: ['es', 'spanish', 'español', 'translation'] },
  { id: 'translate.fr', name: 'French translator', base_model: 'gemma3-270m-q4_k_m', tags: ['fr', 'french', 'français', 'translation'] },
  { id: 'software.python', name: 'Python developer', base_model: 'qwen2.5-1.5b-instruct-q4_k_m', tags: ['developer', 'software', 'python'] },
];

function defaultPeers(): PeerView[] {
  return [
    {
      peer_id: PEER_A,
      addresses: [`/ip4/192.168.1.20/tcp/4001/p2p/${PEER_A}`],
      connected: true,
      rtt_ms: 12,
      status: {
        version: 2,
        specialists: ['finance.pricing', 'translate.fr'],
        free_slots: 1,
        total_slots: 2,
        waiting: 0,
        tokens_per_s: 41.5,
        device_class: 'laptop',
        serving: true,
        max_tokens: 512,
      },
      standing: 120,
      ledger: { tasks_given: 1, tasks_received: 4, tokens_given: 80, tokens_received: 200 },
      measured: { succeeded: 4, failed: 0, failures_in_a_row: 0, demoted_until_ms: 0, tokens: 200, ms: 5_000 },
    },
    {
      peer_id: PEER_B,
      addresses: [`/ip4/203.0.113.9/udp/4001/quic-v1/p2p/${PEER_B}`],
      connected: false,
      rtt_ms: null,
      status: null,
      standing: -35,
      ledger: { tasks_given: 2, tasks_received: 0, tokens_given: 35, tokens_received: 0 },
      measured: { succeeded: 0, failed: 1, failures_in_a_row: 1, demoted_until_ms: Date.now() + 600_000, tokens: 0, ms: 0 },
    },
  ];
}

interface Download {
  downloaded: number;
  timer: ReturnType<typeof setTimeout> | null;
  reject: ((error: ChorusError) => void) | null;
}

interface RunningQuery {
  timer: ReturnType<typeof setTimeout> | null;
  finish: (event: ConductorEvent) => void;
}

export interface MockApi extends ChorusApi {
  /** Test hook: the settings as stored now. */
  readonly storedSettings: Settings;
}

export function createMockApi(options: MockOptions = {}): MockApi {
  const delay = options.delayMs ?? 30;
  const scenario = options.scenario ?? defaultScenario;
  const steps = Math.max(1, options.pullSteps ?? 10);
  const failing = new Set(options.failingPulls ?? []);

  let settings: Settings = { ...DEFAULT_SETTINGS, ...loadSettings(options.store), ...options.settings };
  const models = baseModels();
  const peers = options.peers ?? defaultPeers();
  const records: QueryRecord[] = [...(options.history ?? [])];
  let nextQuery = records.reduce((max, record) => Math.max(max, Number(String(record.id).replace(/^q/, ''))), 0) + 1;
  const downloads = new Map<string, Download>();
  const running = new Map<string, RunningQuery>();

  const later = (fn: () => void, ms = delay) => setTimeout(fn, ms);
  const resolveSoon = <T>(value: T) => new Promise<T>((resolve) => later(() => resolve(structuredClone(value)), 0));
  const rejectSoon = (code: string, message: string) =>
    new Promise<never>((_, reject) => later(() => reject(new ChorusError(code, message)), 0));

  function baseFor(id: string): BaseModelStatus | undefined {
    const specialist = SPECIALISTS.find((s) => s.id === id);
    return models.find((model) => model.id === (specialist ? specialist.base_model : id));
  }

  function listing(): ModelListing {
    const specialists: SpecialistStatus[] = SPECIALISTS.map((s) => {
      const base = baseFor(s.id) as BaseModelStatus;
      return {
        id: s.id,
        name: s.name,
        base_model: s.base_model,
        size_bytes: base.size_bytes,
        verified: base.verified,
        runnable: base.installed_path !== null,
      };
    });
    return {
      base_models: models.map((model) => ({
        ...model,
        specialists: SPECIALISTS.filter((s) => s.base_model === model.id).length,
      })),
      specialists,
      install_dir: `${settings.data_dir}/models`,
    };
  }

  function journal(id: string, question: string, onDeviceOnly: boolean, conversation: string): QueryRecord {
    const record: QueryRecord = {
      id,
      conversation,
      text: question,
      mode: onDeviceOnly ? 'on_device' : 'network',
      status: 'running',
      started_at_ms: Date.now(),
      ended_at_ms: null,
      plan: null,
      answer: null,
      error: null,
      subtasks: [],
      events: [],
    };
    records.unshift(record);
    return record;
  }

  function record(entry: QueryRecord, event: ConductorEvent): void {
    if (event.event === 'token' || event.event === 'subtask_token' || event.event === 'query') return;
    entry.events.push({ seq: entry.events.length, at_ms: Date.now(), event });
    if (event.event === 'plan') entry.plan = event;
    if (event.event === 'done') {
      entry.status = 'done';
      entry.answer = event.answer;
      entry.ended_at_ms = Date.now();
      entry.subtasks = event.subtasks.map((s) => ({ ...s, elapsed_ms: s.ms, error: s.error }));
    }
    if (event.event === 'error') {
      entry.status = event.code === 'cancelled' ? 'cancelled' : 'failed';
      entry.error = event.message;
      entry.ended_at_ms = Date.now();
    }
  }

  /**
   * The events of a question: `query` naming its conversation, then (when it
   * continues one) `context`, then a follow-up answered from the last answer
   * or the question's own scenario.
   */
  function conversationEvents(question: string, onDeviceOnly: boolean, queryId: string, root: string, earlier: QueryRecord[]) {
    const context = earlier.length > 0 ? contextFor(question, earlier) : null;
    const last = [...earlier].reverse().find((known) => (known.answer ?? '').trim());
    const events =
      context?.follow_up && last
        ? followUpScenario(queryId, last)
        : scenario(question, onDeviceOnly, queryId, structuredClone(settings));
    const rest = events[0]?.event === 'query' ? events.slice(1) : events;
    const query: ConductorEvent = { event: 'query', query_id: queryId, conversation: root };
    return context ? [query, context, ...rest] : [query, ...rest];
  }

  return {
    get storedSettings() {
      return structuredClone(settings);
    },

    ask(question, { onDeviceOnly, conversation = null }, onEvent) {
      if (!question.trim()) return rejectSoon('empty_prompt', 'the question is empty');
      const earlier = conversation == null ? [] : conversationRecords(records, conversation);
      if (conversation != null && earlier.length === 0) {
        return rejectSoon('unknown_query', `no query ${queryIdOf(conversation)} in the journal`);
      }
      const queryId = queryIdOf(nextQuery++);
      const root = earlier.length > 0 ? rootOf(earlier[0]) : queryId;
      const entry = journal(queryId, question, onDeviceOnly, root);
      const events = conversationEvents(question, onDeviceOnly, queryId, root, earlier);
      const query: RunningQuery = {
        timer: null,
        finish: (event) => {
          record(entry, event);
          onEvent(event);
          running.delete(queryId);
        },
      };
      running.set(queryId, query);
      let next = 0;
      const step = () => {
        if (!running.has(queryId)) return;
        const event = events[next++];
        if (!event) return;
        if (event.event === 'done' || event.event === 'error') {
          query.finish(event);
          return;
        }
        record(entry, event);
        onEvent(event);
        query.timer = later(step);
      };
      query.timer = later(step, 0);
      return resolveSoon({ queryId, conversation: root });
    },

    async cancel(queryId) {
      const query = running.get(queryId);
      if (!query) return;
      if (query.timer) clearTimeout(query.timer);
      query.finish({ event: 'error', code: 'cancelled', message: 'cancelled' });
    },

    history: (limit = 50) =>
      resolveSoon<QuerySummary[]>(
        records.slice(0, limit).map(({ id, conversation, text, mode, status, started_at_ms, ended_at_ms }) => ({
          id,
          conversation,
          text,
          mode,
          status,
          started_at_ms,
          ended_at_ms,
        })),
      ),

    historyShow(queryId) {
      const found = records.find((entry) => queryIdOf(entry.id) === queryIdOf(queryId));
      return found ? resolveSoon(found) : rejectSoon('unknown_query', `no query ${queryId} in the journal`);
    },

    historyDelete(queryId) {
      const id = queryIdOf(queryId);
      const at = records.findIndex((entry) => queryIdOf(entry.id) === id);
      if (at < 0) return rejectSoon('unknown_query', `no query ${id} in the journal`);
      if (running.has(id)) return rejectSoon('query_running', `query ${id} is still running; stop it before deleting it`);
      records.splice(at, 1);
      return resolveSoon([id]);
    },

    historyClear() {
      const deleted = records.filter((entry) => !running.has(queryIdOf(entry.id)));
      const kept = records.filter((entry) => running.has(queryIdOf(entry.id)));
      records.splice(0, records.length, ...kept);
      return resolveSoon(deleted.map((entry) => queryIdOf(entry.id)).reverse());
    },

    conversations: (limit = 50) => resolveSoon(listConversations(records, limit)),

    conversationShow(conversationId) {
      const found = conversationRecords(records, conversationId);
      return found.length > 0 ? resolveSoon(found) : rejectSoon('unknown_query', `no query ${conversationId} in the journal`);
    },

    conversationDelete(conversationId) {
      const found = conversationRecords(records, conversationId);
      if (found.length === 0) return rejectSoon('unknown_query', `no query ${conversationId} in the journal`);
      const busy = found.find((entry) => running.has(queryIdOf(entry.id)));
      if (busy) return rejectSoon('query_running', `query ${queryIdOf(busy.id)} is still running; stop it before deleting its conversation`);
      const gone = new Set(found);
      records.splice(0, records.length, ...records.filter((entry) => !gone.has(entry)));
      return resolveSoon(found.map((entry) => queryIdOf(entry.id)));
    },

    recommend: (profile) => {
      const result = recommend(profile, models);
      return result instanceof ChorusError ? rejectSoon(result.code, result.message) : resolveSoon(result);
    },

    listModels: () => resolveSoon(listing()),

    pullModel(id, onProgress: (progress: PullProgress) => void, pullOptions = {}) {
      const base = baseFor(id);
      if (!base) return rejectSoon('unknown_model', `no model ${id} in the catalog`);
      if (!base.verified && !base.installed_path && !pullOptions.allowUnverified) {
        return rejectSoon(
          'unverified_model',
          `${base.id} is unverified: the catalog has no sha256 for it, so nothing can check that its file is the model it claims to be`,
        );
      }
      if (base.installed_path) {
        return resolveSoon<PullOutcome>({
          requested: id,
          id: base.id,
          path: base.installed_path,
          bytes: base.size_bytes,
          sha256: 'f'.repeat(64),
          verified: base.verified,
          already_present: true,
          resumed: false,
        });
      }
      const existing = downloads.get(base.id);
      if (existing?.timer) return rejectSoon('busy', `${base.id} is already downloading`);
      const download: Download = existing ?? { downloaded: 0, timer: null, reject: null };
      downloads.set(base.id, download);
      const resumed = download.downloaded > 0;
      const chunk = Math.ceil(base.size_bytes / steps);
      return new Promise<PullOutcome>((resolve, reject) => {
        download.reject = reject;
        const tick = () => {
          download.downloaded = Math.min(base.size_bytes, download.downloaded + chunk);
          const left = base.size_bytes - download.downloaded;
          onProgress({
            event: 'progress',
            downloaded: download.downloaded,
            total: base.size_bytes,
            bytes_per_second: chunk * (1000 / Math.max(delay, 1)),
            eta_seconds: (left / chunk) * (delay / 1000),
          });
          if (left > 0) {
            download.timer = later(tick);
            return;
          }
          download.timer = null;
          downloads.delete(base.id);
          if (failing.has(id) || failing.has(base.id)) {
            reject(new ChorusError('hash_mismatch', `${base.id}: the sha256 does not match the catalog; the download was deleted`));
            return;
          }
          base.installed_path = `${settings.data_dir}/models/${base.id}.gguf`;
          base.installed_verified = base.verified;
          resolve({
            requested: id,
            id: base.id,
            path: base.installed_path,
            bytes: base.size_bytes,
            sha256: 'e'.repeat(64),
            verified: base.verified,
            already_present: false,
            resumed,
          });
        };
        download.timer = later(tick);
      });
    },

    async pauseDownload(id) {
      const base = baseFor(id);
      const download = base && downloads.get(base.id);
      if (!base || !download?.timer) return;
      clearTimeout(download.timer);
      download.timer = null;
      download.reject?.(new ChorusError('cancelled', `pull of ${base.id} cancelled; run it again to resume`));
    },

    removeModel(id) {
      const base = baseFor(id);
      if (!base || !base.installed_path) return rejectSoon('not_installed', `${id} is not installed`);
      if (base.embedded) return rejectSoon('embedded', `${base.id} is the embedded model and stays`);
      const path = base.installed_path;
      base.installed_path = null;
      base.installed_verified = null;
      return resolveSoon({ id: base.id, files: [path], registry_entry: true });
    },

    networkInfo() {
      const running = settings.privacy === 'network';
      return resolveSoon<NetworkInfo>({
        running,
        peer_id: '12D3KooWThisDeviceMockPeerIdxxxxxxxxxxxxxxxxxxxxxx',
        reachability: running ? 'private' : 'unknown',
        listen_addresses: running ? ['/ip4/192.168.1.10/tcp/4001', '/ip4/192.168.1.10/udp/4001/quic-v1'] : [],
      });
    },

    peers() {
      if (settings.privacy !== 'network') return rejectSoon('network_off', 'the network is not started (on-device only)');
      return resolveSoon(peers);
    },

    getSettings: () => resolveSoon(settings),

    setSettings(next) {
      if (!Number.isInteger(next.max_slots) || next.max_slots < 0) {
        return rejectSoon('invalid_settings', 'max concurrent tasks must be a whole number, 0 or more');
      }
      if (!Number.isInteger(next.threads) || next.threads < 1) {
        return rejectSoon('invalid_settings', 'threads must be a whole number, 1 or more');
      }
      const days = next.history_days;
      if (days !== null && (!Number.isInteger(days) || days < 1 || days > 36500)) {
        return rejectSoon('invalid_settings', 'history_days must be 1–36500 days, or null to keep history forever');
      }
      const names = privateNames(next.private_names ?? []);
      if (typeof names === 'string') return rejectSoon('invalid_settings', names);
      // Settings from an older version lack `local_api`: it reads off.
      settings = { ...structuredClone(next), private_names: names, local_api: next.local_api === true };
      options.store?.setItem(SETTINGS_KEY, JSON.stringify(settings));
      if (days !== null) {
        // As the node does: queries that began longer ago go at once.
        const cutoff = Date.now() - days * 24 * 60 * 60 * 1000;
        const kept = records.filter((entry) => entry.started_at_ms >= cutoff || running.has(queryIdOf(entry.id)));
        records.splice(0, records.length, ...kept);
      }
      return resolveSoon(settings);
    },

    localApi() {
      const enabled = settings.local_api === true;
      const running = enabled && !options.localApiError;
      return resolveSoon<LocalApiInfo>({
        enabled,
        running,
        url: running ? MOCK_LOCAL_API.url : null,
        key: running ? MOCK_LOCAL_API.key : null,
        error: enabled && options.localApiError ? options.localApiError : null,
      });
    },
  };
}

/**
 * The node's rule for `private_names` (chorus-node's `Settings::validated`):
 * spaces collapsed, blanks and case-insensitive duplicates dropped, at most
 * 200 names of at most 100 characters. Returns the tidy list, or why not.
 */
function privateNames(names: string[]): string[] | string {
  const tidy: string[] = [];
  for (const raw of names) {
    const name = raw.split(/\s+/).filter(Boolean).join(' ');
    if (!name || tidy.some((known) => known.toLowerCase() === name.toLowerCase())) continue;
    if ([...name].length > 100) return 'a private name is longer than 100 characters';
    tidy.push(name);
  }
  return tidy.length > 200 ? `at most 200 private names, not ${tidy.length}` : tidy;
}

function loadSettings(store: KeyValueStore | undefined): Partial<Settings> {
  try {
    const text = store?.getItem(SETTINGS_KEY);
    return text ? (JSON.parse(text) as Partial<Settings>) : {};
  } catch {
    return {};
  }
}

/** A small stand-in for the node's profile matching: tags against the profile's words. */
function recommend(profile: Profile, models: BaseModelStatus[]): ModelRecommendation[] | ChorusError {
  const words = [profile.profession, ...profile.skills, ...profile.languages, ...profile.interests]
    .flatMap((item) => item.toLowerCase().split(/\s+/))
    .filter(Boolean);
  const scored = SPECIALISTS.map((specialist) => {
    const matched = specialist.tags.filter((tag) => words.includes(tag));
    return { specialist, matched, score: matched.length + (specialist.id === 'general.assistant' ? 0.5 : 0) };
  })
    .filter((entry) => entry.score > 0)
    .sort((a, b) => b.score - a.score || a.specialist.id.localeCompare(b.specialist.id));

  const chosen: ModelRecommendation[] = [];
  const counted = new Set<string>();
  let used = 0;
  for (const { specialist, matched, score } of scored) {
    if (chosen.length === 5) break;
    const base = models.find((model) => model.id === specialist.base_model) as BaseModelStatus;
    const extra = counted.has(base.id) ? 0 : base.size_bytes;
    if (used + extra > profile.storage_budget_bytes) continue;
    used += extra;
    counted.add(base.id);
    const installed = base.installed_path !== null;
    chosen.push({
      specialist_id: specialist.id,
      name: specialist.name,
      base_model: base.id,
      score,
      verified: base.verified,
      reasons: [
        ...matched.map((tag) => `matches your profile: ${tag}`),
        ...(specialist.id === 'general.assistant' ? ['answers everyday questions'] : []),
        `needs ${(base.size_bytes / 1e6).toFixed(1)} MB (${base.name})`,
      ],
      size_bytes: base.size_bytes,
      installed,
      download_bytes: installed ? 0 : base.size_bytes,
    });
  }
  if (chosen.length === 0) {
    const smallest = Math.min(...models.map((model) => model.size_bytes));
    return new ChorusError(
      'nothing_fits',
      `a storage budget of ${profile.storage_budget_bytes} bytes holds no specialist; the smallest needs ${smallest} bytes`,
    );
  }
  return chosen;
}
