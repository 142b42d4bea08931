// The one interface between the screens and a Chorus node. The app uses
// `tauriApi` inside the Tauri shell and `createMockApi()` in a plain browser
// (development) and in the component tests. COMMANDS.md documents how each
// method maps to a Tauri command.

import type {
  ConductorEvent,
  ConversationSummary,
  ErrorInfo,
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
  RemovedModel,
  Settings,
} from './types';

export interface PullOptions {
  /**
   * Install a model the catalog has no sha256 for. Its file cannot be
   * checked; ask the person first. Without it such a pull rejects with
   * `unverified_model`. Its sha256 is recorded at this first install and a
   * later change to the file is refused (`model_changed`).
   */
  allowUnverified?: boolean;
}

export interface AskOptions {
  /** Nothing leaves the device for this query, whatever the settings say. */
  onDeviceOnly: boolean;
  /**
   * The id of any question of the conversation this one continues (`q9`);
   * absent or null begins a new conversation.
   */
  conversation?: string | null;
}

export interface Asked {
  /** The new question's id (`q12`). */
  queryId: string;
  /** Its conversation's id: the conversation's first question (`queryId` itself when it begins one). */
  conversation: string;
}

export interface ChorusApi {
  /**
   * Starts a query. Its events (`query` first, then the conductor's, ending
   * with exactly one `done` or `error`) go to `onEvent` in order; the promise
   * resolves once the query is journaled, usually before the answer is done.
   */
  ask(question: string, options: AskOptions, onEvent: (event: ConductorEvent) => void): Promise<Asked>;
  /** Stops a running query; its stream ends with an `error` of code `cancelled`. */
  cancel(queryId: string): Promise<void>;
  /** Past queries, newest first. */
  history(limit?: number): Promise<QuerySummary[]>;
  /** One past query in full, with its journaled events. */
  historyShow(queryId: string): Promise<QueryRecord>;
  /**
   * Deletes one past query and all the journal keeps of it; resolves with the
   * ids deleted (`["q3"]`). Rejects with `unknown_query`, or `query_running`
   * while it runs (stop it first).
   */
  historyDelete(queryId: string): Promise<string[]>;
  /** Deletes every past query but a running one; resolves with the ids deleted. */
  historyClear(): Promise<string[]>;
  /** The conversations, the most recently continued first. */
  conversations(limit?: number): Promise<ConversationSummary[]>;
  /**
   * Every question of a conversation in full, oldest first. `conversationId`
   * may be any of its questions' ids. Rejects with `unknown_query`.
   */
  conversationShow(conversationId: string): Promise<QueryRecord[]>;
  /**
   * Deletes every question of a conversation (any of its questions' ids);
   * resolves with the ids deleted, oldest first. Rejects with
   * `unknown_query`, or `query_running` while one of them runs.
   */
  conversationDelete(conversationId: string): Promise<string[]>;
  /** The 2–5 specialists that fit a profile best. */
  recommend(profile: Profile): Promise<ModelRecommendation[]>;
  listModels(): Promise<ModelListing>;
  /**
   * Downloads and verifies a base model (or a specialist's base model).
   * Rejects with code `cancelled` after `pauseDownload`; pulling again resumes.
   * An unverified model needs `options.allowUnverified` (else `unverified_model`).
   */
  pullModel(id: string, onProgress: (progress: PullProgress) => void, options?: PullOptions): Promise<PullOutcome>;
  /** Stops a running pull and keeps its partial file for a later resume. */
  pauseDownload(id: string): Promise<void>;
  removeModel(id: string): Promise<RemovedModel>;
  networkInfo(): Promise<NetworkInfo>;
  peers(): Promise<PeerView[]>;
  getSettings(): Promise<Settings>;
  /** Saves the settings and returns them as stored (the node may clamp values). */
  setSettings(settings: Settings): Promise<Settings>;
  /** Where the app's API for other apps listens, and its key, or why it could not start. */
  localApi(): Promise<LocalApiInfo>;
}

/** Every failure of a `ChorusApi` call is one of these. */
export class ChorusError extends Error implements ErrorInfo {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
  }
}

/** Turns whatever a call threw (a `{code, message}` object, a string, an Error) into a `ChorusError`. */
export function toChorusError(thrown: unknown): ChorusError {
  if (thrown instanceof ChorusError) return thrown;
  if (thrown && typeof thrown === 'object') {
    const { code, message } = thrown as Partial<ErrorInfo>;
    if (typeof code === 'string' && typeof message === 'string') return new ChorusError(code, message);
    if (thrown instanceof Error) return new ChorusError('internal', thrown.message);
    if (typeof message === 'string') return new ChorusError('internal', message);
  }
  if (typeof thrown === 'string') return new ChorusError('internal', thrown);
  return new ChorusError('internal', 'something went wrong');
}

/** Journal ids arrive as `q3` or as the bare number 3: always `q3` in the UI. */
export function queryIdOf(id: string | number): string {
  const text = String(id).trim();
  return text.startsWith('q') ? text : `q${text}`;
}

/** Whether the page runs inside the Tauri shell. */
export function insideTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}
