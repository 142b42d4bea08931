// `ChorusApi` over the Tauri shell's commands (see COMMANDS.md). Streams
// (query events, download progress) come through `Channel`s. Every rejection
// is turned into a `ChorusError`.

import { Channel, invoke } from '@tauri-apps/api/core';
import { toChorusError, type ChorusApi } from './api';
import type {
  ConductorEvent,
  ModelListing,
  ModelRecommendation,
  NetworkInfo,
  PeerView,
  PullOutcome,
  PullProgress,
  QueryRecord,
  QuerySummary,
  RemovedModel,
  Settings,
} from './types';

/** The two pieces of `@tauri-apps/api/core` used here; tests pass fakes. */
export interface TauriCore {
  invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
  Channel: new <T>(onmessage?: (message: T) => void) => { onmessage: (message: T) => void };
}

/** Every command the shell must register, in the order COMMANDS.md lists them. */
export const COMMANDS = [
  'ask',
  'cancel',
  'history',
  'history_show',
  'history_delete',
  'history_clear',
  'recommend',
  'list_models',
  'pull_model',
  'pause_download',
  'remove_model',
  'network_info',
  'peers',
  'get_settings',
  'set_settings',
] as const;

export type CommandName = (typeof COMMANDS)[number];

export function createTauriApi(core: TauriCore = { invoke, Channel }): ChorusApi {
  async function call<T>(command: CommandName, args?: Record<string, unknown>): Promise<T> {
    try {
      return await core.invoke<T>(command, args);
    } catch (thrown) {
      throw toChorusError(thrown);
    }
  }

  return {
    async ask(question, { onDeviceOnly }, onEvent) {
      const onEventChannel = new core.Channel<ConductorEvent>(onEvent);
      const { query_id } = await call<{ query_id: string }>('ask', { question, onDeviceOnly, onEvent: onEventChannel });
      return { queryId: query_id };
    },
    cancel: (queryId) => call<null>('cancel', { queryId }).then(() => undefined),
    history: (limit = 50) => call<QuerySummary[]>('history', { limit }),
    historyShow: (queryId) => call<QueryRecord>('history_show', { queryId }),
    historyDelete: (queryId) => call<{ ids: string[] }>('history_delete', { queryId }).then(({ ids }) => ids),
    historyClear: () => call<{ ids: string[] }>('history_clear').then(({ ids }) => ids),
    recommend: (profile) => call<ModelRecommendation[]>('recommend', { profile }),
    listModels: () => call<ModelListing>('list_models'),
    pullModel(id, onProgress, options) {
      const onProgressChannel = new core.Channel<PullProgress>(onProgress);
      const allowUnverified = options?.allowUnverified ?? false;
      return call<PullOutcome>('pull_model', { id, allowUnverified, onProgress: onProgressChannel });
    },
    pauseDownload: (id) => call<null>('pause_download', { id }).then(() => undefined),
    removeModel: (id) => call<RemovedModel>('remove_model', { id }),
    networkInfo: () => call<NetworkInfo>('network_info'),
    peers: () => call<PeerView[]>('peers'),
    getSettings: () => call<Settings>('get_settings'),
    setSettings: (settings) => call<Settings>('set_settings', { settings }),
  };
}
