// `ChorusApi` over the Tauri shell's commands (see COMMANDS.md). Streams
// (query events, download progress) come through `Channel`s. Every rejection
// is turned into a `ChorusError`.

import { Channel, invoke } from '@tauri-apps/api/core';
import { queryIdOf, toChorusError, type ChorusApi } from './api';
import type {
  ConductorEvent,
  ConversationSummary,
  LocalApiInfo,
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
  'conversations',
  'conversation_show',
  'conversation_delete',
  'history_delete',
  'history_clear',
  'recommend',
  'list_models',
  'pull_model',
  'pause_download',
  'remove_model',
  'network_info',
  'peers',
  'local_api',
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
    async ask(question, { onDeviceOnly, conversation = null }, onEvent) {
      const onEventChannel = new core.Channel<ConductorEvent>(onEvent);
      const started = await call<{ query_id: string | number; conversation?: string | number | null }>('ask', {
        question,
        onDeviceOnly,
        conversation,
        onEvent: onEventChannel,
      });
      const queryId = queryIdOf(started.query_id);
      return { queryId, conversation: started.conversation != null ? queryIdOf(started.conversation) : queryId };
    },
    cancel: (queryId) => call<null>('cancel', { queryId }).then(() => undefined),
    history: (limit = 50) => call<QuerySummary[]>('history', { limit }),
    historyShow: (queryId) => call<QueryRecord>('history_show', { queryId }),
    historyDelete: (queryId) => call<{ ids: string[] }>('history_delete', { queryId }).then(({ ids }) => ids),
    historyClear: () => call<{ ids: string[] }>('history_clear').then(({ ids }) => ids),
    conversations: (limit = 50) => call<ConversationSummary[]>('conversations', { limit }),
    conversationShow: (conversationId) => call<QueryRecord[]>('conversation_show', { conversationId }),
    conversationDelete: (conversationId) =>
      call<{ ids: (string | number)[] }>('conversation_delete', { conversationId }).then(({ ids }) => ids.map(queryIdOf)),
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
    localApi: () => call<LocalApiInfo>('local_api'),
  };
}
