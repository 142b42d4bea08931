// The chat of the whole app: the conversation on screen, the question
// running in it, and the list of conversations. It lives as long as the app
// (not the chat screen), so a question keeps streaming and the conversation
// stays on screen while the person looks at another screen.

import { queryIdOf, toChorusError, type ChorusApi } from './api';
import { applyEvent, initialChat, LOCAL, type ChatState } from './plan';
import {
  continuationId,
  conversationIdOf,
  emptyThread,
  newTurn,
  threadOf,
  turnIds,
  updateTurn,
  withoutTurn,
  withTurn,
  type Thread,
} from './thread';
import type { ConductorEvent, ConversationSummary, ErrorInfo } from './types';

/** How many conversations the list shows. */
export const CONVERSATION_LIMIT = 50;

const RUNNING_MESSAGE: Record<string, string> = {
  conversation: 'A question of this conversation is still running: stop it, then delete the conversation once it has ended.',
  question: 'This question is still running: stop it, then delete it once it has ended.',
};

function errorInfo(thrown: unknown, running?: keyof typeof RUNNING_MESSAGE): ErrorInfo {
  const error = toChorusError(thrown);
  const message = error.code === 'query_running' && running ? RUNNING_MESSAGE[running] : error.message;
  return { code: error.code, message };
}

export class ChatSession {
  /** The conversation on screen. */
  thread = $state.raw<Thread>(emptyThread());
  /** The conversations, the most recently continued first. */
  conversations = $state.raw<ConversationSummary[]>([]);
  /** The list has been loaded once. */
  listed = $state(false);
  /** Loading the list, or opening or deleting a conversation, failed. */
  conversationError = $state<ErrorInfo | null>(null);
  /** Deleting one question failed. */
  historyError = $state<ErrorInfo | null>(null);
  /** The turn whose question runs now. */
  runningKey = $state<number | null>(null);
  /** The conversation being opened. */
  opening = $state<string | null>(null);
  /** Round-trip times of the peers that ran parts, by peer id. */
  rtt = $state<Record<string, number | null>>({});

  #api: ChorusApi;
  /** Bumped whenever another conversation comes on screen: late answers about the old one are dropped. */
  #generation = 0;
  #listCalls = 0;
  #listFailed = false;
  /** Stop was asked for before the node named the question: stop it once it does. */
  #stopWanted: number | null = null;

  constructor(api: ChorusApi) {
    this.#api = api;
  }

  get running(): boolean {
    return this.runningKey !== null;
  }

  /** The conversation a running question belongs to (null while it is not known). */
  get runningConversation(): string | null {
    if (this.runningKey === null) return null;
    const turn = this.thread.turns.find((known) => known.key === this.runningKey);
    return turn?.chat.conversation ?? this.thread.conversation;
  }

  /** Asks `question` in the conversation on screen (the first question begins one). */
  async ask(question: string, onDeviceOnly: boolean): Promise<void> {
    const text = question.trim();
    if (!text || this.running) return;
    const conversation = continuationId(this.thread);
    const turn = newTurn(initialChat(text));
    this.thread = withTurn(this.thread, turn);
    this.runningKey = turn.key;
    this.#stopWanted = null;
    this.historyError = null;
    const generation = this.#generation;
    try {
      const started = await this.#api.ask(text, { onDeviceOnly, conversation }, (event) => this.#onEvent(turn.key, event));
      if (generation === this.#generation) {
        this.thread = updateTurn(this.thread, turn.key, (chat) => ({
          ...chat,
          queryId: chat.queryId ?? started.queryId,
          conversation: chat.conversation ?? started.conversation,
        }));
        if (this.thread.conversation === null && this.thread.turns.some((known) => known.key === turn.key)) {
          this.thread = { ...this.thread, conversation: started.conversation };
        }
      }
      if (this.#stopWanted === turn.key && this.runningKey === turn.key) void this.cancel();
      // The new question is in the journal now: list its conversation (as running).
      void this.refresh();
    } catch (thrown) {
      const error = errorInfo(thrown);
      if (conversation && error.code === 'unknown_query') {
        error.message = 'This conversation is no longer in the history (it was deleted): start a new conversation to ask again.';
      }
      this.thread = updateTurn(this.thread, turn.key, (chat) => ({ ...chat, status: 'error', stage: 'finished', error }));
      if (this.runningKey === turn.key) this.runningKey = null;
    }
  }

  #onEvent(key: number, event: ConductorEvent): void {
    this.thread = updateTurn(this.thread, key, (chat) => applyEvent(chat, event));
    if (event.event === 'query' && event.conversation != null && this.thread.conversation === null) {
      if (this.thread.turns.some((turn) => turn.key === key)) this.thread = { ...this.thread, conversation: queryIdOf(event.conversation) };
    }
    if (event.event === 'subtask_started' && event.executor !== LOCAL && !(event.executor in this.rtt)) {
      this.rtt = { ...this.rtt, [event.executor]: null };
      void this.#loadPeers();
    }
    if (event.event === 'done' || event.event === 'error') {
      if (this.runningKey === key) this.runningKey = null;
      void this.refresh();
    }
  }

  /** The turn running now. */
  get runningTurn(): ChatState | null {
    return this.thread.turns.find((turn) => turn.key === this.runningKey)?.chat ?? null;
  }

  /** Stops the running question; its stream ends with `cancelled`. */
  async cancel(): Promise<void> {
    const chat = this.runningTurn;
    if (!chat) return;
    const key = this.runningKey as number;
    if (!chat.queryId) {
      this.#stopWanted = key;
      return;
    }
    try {
      await this.#api.cancel(chat.queryId);
    } catch (thrown) {
      const error = errorInfo(thrown);
      this.thread = updateTurn(this.thread, key, (known) => ({ ...known, error }));
    }
  }

  /** An empty thread: the next question begins a conversation. */
  newConversation(): void {
    if (this.running) return;
    this.#generation++;
    this.thread = emptyThread();
    this.opening = null;
    this.historyError = null;
    if (!this.#listFailed) this.conversationError = null;
  }

  /** Shows a conversation from the journal; the next question continues it. Resolves true once it is on screen. */
  async open(summary: ConversationSummary): Promise<boolean> {
    if (this.running) return false;
    const generation = ++this.#generation;
    const id = conversationIdOf(summary);
    this.opening = id;
    this.conversationError = null;
    this.historyError = null;
    try {
      // Its latest question surely exists (its first may have been deleted).
      const records = await this.#api.conversationShow(queryIdOf(summary.last));
      if (generation !== this.#generation) return false;
      if (records.length === 0) throw { code: 'unknown_query', message: `conversation ${id} has no questions left` };
      this.thread = threadOf(records);
      return true;
    } catch (thrown) {
      if (generation !== this.#generation) return false;
      this.conversationError = errorInfo(thrown);
      if (this.conversationError.code === 'unknown_query') void this.refresh();
      return false;
    } finally {
      if (generation === this.#generation) this.opening = null;
    }
  }

  /** Deletes a whole conversation; resolves true once it is gone. */
  async deleteConversation(summary: ConversationSummary): Promise<boolean> {
    const id = conversationIdOf(summary);
    this.conversationError = null;
    try {
      const ids = await this.#api.conversationDelete(queryIdOf(summary.last));
      const shown = turnIds(this.thread);
      if (this.thread.conversation === id || ids.some((deleted) => shown.includes(queryIdOf(deleted)))) {
        this.#generation++;
        this.thread = emptyThread();
      }
      // Gone from the list at once; the refresh confirms it.
      this.conversations = this.conversations.filter((known) => conversationIdOf(known) !== id);
      return true;
    } catch (thrown) {
      this.conversationError = errorInfo(thrown, 'conversation');
      return false;
    } finally {
      await this.refresh();
    }
  }

  /** Deletes one question of the thread and its answer; resolves true once it is gone. */
  async deleteTurn(queryId: string): Promise<boolean> {
    this.historyError = null;
    try {
      await this.#api.historyDelete(queryId);
      this.thread = withoutTurn(this.thread, queryId);
      return true;
    } catch (thrown) {
      this.historyError = errorInfo(thrown, 'question');
      return false;
    } finally {
      await this.refresh();
    }
  }

  /** Reloads the list of conversations (only the latest call's answer counts). */
  async refresh(): Promise<void> {
    const mine = ++this.#listCalls;
    try {
      const list = await this.#api.conversations(CONVERSATION_LIMIT);
      if (mine !== this.#listCalls) return;
      this.conversations = list;
      this.listed = true;
      if (this.#listFailed) this.conversationError = null;
      this.#listFailed = false;
    } catch (thrown) {
      if (mine !== this.#listCalls) return;
      const error = toChorusError(thrown);
      this.conversationError = { code: error.code, message: `The conversations could not be loaded: ${error.message}` };
      this.#listFailed = true;
    }
  }

  /**
   * When the chat screen comes back: the list again, and the conversation on
   * screen as the journal has it now (history may have been deleted from
   * Settings, or expired, meanwhile).
   */
  async resume(): Promise<void> {
    void this.refresh();
    const last = continuationId(this.thread);
    if (!last || this.running) return;
    const generation = this.#generation;
    try {
      const records = await this.#api.conversationShow(last);
      if (generation !== this.#generation || this.running) return;
      const ids = records.map((record) => queryIdOf(record.id));
      if (ids.join() !== turnIds(this.thread).join()) this.thread = records.length ? threadOf(records) : emptyThread();
    } catch (thrown) {
      if (generation !== this.#generation || this.running) return;
      if (toChorusError(thrown).code === 'unknown_query') {
        this.#generation++;
        this.thread = emptyThread();
      }
    }
  }

  async #loadPeers(): Promise<void> {
    try {
      const peers = await this.#api.peers();
      this.rtt = { ...this.rtt, ...Object.fromEntries(peers.map((peer) => [peer.peer_id, peer.rtt_ms])) };
    } catch {
      // Round-trip times are a detail: the cards show the peer without them.
    }
  }
}
