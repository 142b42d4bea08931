import { describe, expect, it } from 'vitest';
import { createMockApi, MOCK_LOCAL_API } from './mock';
import { contextFor, followUpCue, listConversations } from './mock-conversations';
import type { ConductorEvent, QueryRecord } from './types';

/** Asks through the mock and resolves with every event once the stream ends. */
function askAll(api: ReturnType<typeof createMockApi>, question: string, conversation: string | null = null) {
  return new Promise<{ queryId: string; conversation: string; events: ConductorEvent[] }>((resolve, reject) => {
    const events: ConductorEvent[] = [];
    let started: { queryId: string; conversation: string } | null = null;
    let ended = false;
    const finish = () => started && ended && resolve({ ...started, events });
    api
      .ask(question, { onDeviceOnly: true, conversation }, (event) => {
        events.push(event);
        if (event.event === 'done' || event.event === 'error') {
          ended = true;
          finish();
        }
      })
      .then((result) => {
        started = result;
        finish();
      }, reject);
  });
}

const record = (id: number, conversation: number, answer: string | null = 'An answer.'): QueryRecord => ({
  id,
  conversation,
  text: `question ${id}`,
  mode: 'on_device',
  status: 'done',
  started_at_ms: id * 1000,
  ended_at_ms: id * 1000 + 500,
  plan: null,
  answer,
  error: null,
  subtasks: [],
  events: [],
});

describe('mock conversations', () => {
  it('groups queries into conversations, the most recently continued first', () => {
    const list = listConversations([record(1, 1), record(2, 2), record(3, 1), record(4, 4)], 10);
    expect(list.map((c) => [c.id, c.turns, c.last, c.title])).toEqual([
      ['q4', 1, 'q4', 'question 4'],
      ['q1', 2, 'q3', 'question 1'],
      ['q2', 1, 'q2', 'question 2'],
    ]);
    expect(list[1]).toMatchObject({ started_at_ms: 1000, last_at_ms: 3000 });
    expect(listConversations([record(1, 1), record(2, 2)], 1)).toHaveLength(1);
  });

  it('reads follow-ups as the node does, roughly', () => {
    expect(followUpCue('Make it shorter.')).toBe('"make it" points back');
    expect(followUpCue('And in French?')).toBe('it opens with "and"');
    expect(followUpCue('Why is that?')).toBe('it opens with "why"');
    expect(followUpCue('How do I split a bill three ways?')).toBeNull();
  });

  it('says how many earlier turns a follow-up leaves out', () => {
    const three = [record(1, 1), record(2, 1), record(3, 1)];
    expect(contextFor('Make it shorter.', three)).toEqual({
      event: 'context',
      follow_up: true,
      turns: 3,
      carried: 1,
      reason: 'a follow-up ("make it" points back): carries the last question and answer; 2 earlier turn(s) not carried',
    });
    expect(contextFor('How do I split a bill?', three)).toMatchObject({ follow_up: false, turns: 3, carried: 0 });
    expect(contextFor('Make it shorter.', [record(1, 1, null)])).toMatchObject({ follow_up: false, carried: 0 });
  });
});

describe('mock API: conversations', () => {
  it('begins a conversation, continues it with a context event, and deletes all its turns', async () => {
    const api = createMockApi({ delayMs: 0 });
    const first = await askAll(api, 'How do I split a bill three ways?');
    expect(first).toMatchObject({ queryId: 'q1', conversation: 'q1' });
    expect(first.events[0]).toEqual({ event: 'query', query_id: 'q1', conversation: 'q1' });
    expect(first.events.some((event) => event.event === 'context')).toBe(false);

    await askAll(api, 'Write a plan, with prices'); // another conversation, q2
    const second = await askAll(api, 'Make it shorter.', 'q1');
    expect(second).toMatchObject({ queryId: 'q3', conversation: 'q1' });
    expect(second.events.slice(0, 3).map((event) => event.event)).toEqual(['query', 'context', 'analysis']);
    expect(second.events[0]).toEqual({ event: 'query', query_id: 'q3', conversation: 'q1' });
    expect(second.events[1]).toMatchObject({ follow_up: true, turns: 1, carried: 1 });
    const done = second.events[second.events.length - 1];
    expect(done?.event === 'done' && done.answer).toBe('In short: Split the total by three: each person pays a third, rounded to the cent.');

    const list = await api.conversations();
    expect(list.map((c) => [c.id, c.turns])).toEqual([['q1', 2], ['q2', 1]]);
    // Any of its questions names the conversation.
    expect((await api.conversationShow('q3')).map((r) => r.id)).toEqual(['q1', 'q3']);
    const context = (await api.conversationShow('q1'))[1].events.find((entry) => entry.event.event === 'context');
    expect(context?.event).toMatchObject({ follow_up: true });

    await expect(api.conversationDelete('q3')).resolves.toEqual(['q1', 'q3']);
    expect((await api.conversations()).map((c) => c.id)).toEqual(['q2']);
    await expect(api.historyShow('q1')).rejects.toHaveProperty('code', 'unknown_query');
    await expect(api.conversationShow('q1')).rejects.toHaveProperty('code', 'unknown_query');
    await expect(api.conversationDelete('q1')).rejects.toHaveProperty('code', 'unknown_query');
    await expect(api.ask('And then?', { onDeviceOnly: true, conversation: 'q1' }, () => {})).rejects.toHaveProperty('code', 'unknown_query');
  });

  it('refuses to delete a conversation while one of its questions runs', async () => {
    const api = createMockApi({ delayMs: 20 });
    const { queryId } = await api.ask('How do I split a bill?', { onDeviceOnly: true }, () => {});
    await expect(api.conversationDelete(queryId)).rejects.toHaveProperty('code', 'query_running');
    await api.cancel(queryId);
    await expect(api.conversationDelete(queryId)).resolves.toEqual([queryId]);
  });
});

describe('mock API: local API', () => {
  it('is off by default and gives a URL and a key once switched on', async () => {
    const api = createMockApi({ delayMs: 0 });
    expect(api.storedSettings.local_api).toBe(false);
    await expect(api.localApi()).resolves.toEqual({ enabled: false, running: false, url: null, key: null, error: null });
    await api.setSettings({ ...api.storedSettings, local_api: true });
    await expect(api.localApi()).resolves.toEqual({ enabled: true, running: true, ...MOCK_LOCAL_API, error: null });
  });

  it('says why it could not start', async () => {
    const api = createMockApi({ delayMs: 0, settings: { local_api: true }, localApiError: 'port 11435 is taken' });
    await expect(api.localApi()).resolves.toMatchObject({ enabled: true, running: false, url: null, key: null, error: 'port 11435 is taken' });
  });
});
