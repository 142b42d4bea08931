import { describe, expect, it, vi } from 'vitest';
import { ChatSession } from './chat.svelte';
import { createMockApi } from './mock';

const until = async (check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('ChatSession', () => {
  it('stops a question asked for before the node named it', async () => {
    const api = createMockApi({ delayMs: 20 });
    const cancel = vi.spyOn(api, 'cancel');
    const chat = new ChatSession(api);
    const asking = chat.ask('How do I split a bill?', true);
    expect(chat.running).toBe(true);
    expect(chat.thread.turns[0].chat.queryId).toBeNull();
    await chat.cancel();
    expect(cancel).not.toHaveBeenCalled();
    await asking;
    await until(() => !chat.running);
    expect(cancel).toHaveBeenCalledWith('q1');
    expect(chat.thread.turns[0].chat).toMatchObject({ status: 'error', error: { code: 'cancelled' } });
  });

  it('says so when the conversation it continues is gone', async () => {
    const api = createMockApi({ delayMs: 1 });
    const chat = new ChatSession(api);
    await chat.ask('How do I split a bill?', true);
    await until(() => !chat.running);
    await api.conversationDelete('q1');
    await chat.ask('Make it shorter.', true);
    expect(chat.running).toBe(false);
    const last = chat.thread.turns[chat.thread.turns.length - 1].chat;
    expect(last.error?.code).toBe('unknown_query');
    expect(last.error?.message).toContain('start a new conversation');
    // Coming back to the chat finds it gone, and starts afresh.
    await chat.resume();
    expect(chat.thread.turns).toEqual([]);
    expect(chat.thread.conversation).toBeNull();
  });

  it('keeps only the latest list when two loads cross', async () => {
    const api = createMockApi({ delayMs: 1 });
    const chat = new ChatSession(api);
    const first = { id: 'q1', title: 'old', turns: 1, last: 'q1', status: 'done' as const, started_at_ms: 0, last_at_ms: 0 };
    let release: (value: (typeof first)[]) => void = () => {};
    vi.spyOn(api, 'conversations')
      .mockImplementationOnce(() => new Promise((resolve) => (release = resolve)))
      .mockResolvedValueOnce([]);
    const slow = chat.refresh();
    await chat.refresh();
    release([first]);
    await slow;
    expect(chat.conversations).toEqual([]);
    expect(chat.listed).toBe(true);
  });
});
