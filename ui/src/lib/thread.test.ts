import { describe, expect, it } from 'vitest';
import { initialChat, type ChatState } from './plan';
import { simpleScenario } from './scenarios';
import {
  contextNotice,
  continuationId,
  countTurns,
  emptyThread,
  newTurn,
  statusText,
  threadOf,
  turnIds,
  updateTurn,
  withoutTurn,
  withTurn,
} from './thread';
import type { QueryRecord } from './types';

const chat = (queryId: string | null, part: Partial<ChatState> = {}): ChatState => ({ ...initialChat('q?'), queryId, ...part });

const record = (id: number, conversation: number): QueryRecord => ({
  id,
  conversation,
  text: `question ${id}`,
  mode: 'on_device',
  status: 'done',
  started_at_ms: 0,
  ended_at_ms: 1,
  plan: null,
  answer: `answer ${id}`,
  error: null,
  subtasks: [],
  events: simpleScenario(`q${id}`)
    .filter((event) => event.event !== 'token' && event.event !== 'query')
    .map((event, seq) => ({ seq, at_ms: seq, event })),
});

describe('thread', () => {
  it('rebuilds a conversation from the journal, oldest first, named by its first question', () => {
    const thread = threadOf([record(3, 3), record(5, 3)]);
    expect(thread.conversation).toBe('q3');
    expect(thread.turns.map((turn) => [turn.chat.queryId, turn.chat.status, turn.chat.conversation])).toEqual([
      ['q3', 'done', 'q3'],
      ['q5', 'done', 'q3'],
    ]);
    expect(new Set(thread.turns.map((turn) => turn.key)).size).toBe(2);
    // A conversation whose first question was deleted keeps its id.
    expect(threadOf([record(5, 3)]).conversation).toBe('q3');
    expect(threadOf([])).toEqual(emptyThread());
  });

  it('continues with the latest journaled question', () => {
    let thread = withTurn(emptyThread(), newTurn(chat('q1')));
    thread = withTurn(thread, newTurn(chat('q2')));
    expect(continuationId(thread)).toBe('q2');
    // A question refused before the journal had it (no id) does not count…
    thread = withTurn(thread, newTurn(chat(null, { status: 'error' })));
    expect(continuationId(thread)).toBe('q2');
    expect(turnIds(thread)).toEqual(['q1', 'q2']);
    // …and makes way for the next question.
    thread = withTurn(thread, newTurn(chat(null)));
    expect(thread.turns).toHaveLength(3);
    expect(continuationId(emptyThread())).toBeNull();
  });

  it('changes one turn, and drops one; with none left it is a new conversation', () => {
    const first = newTurn(chat('q1'));
    const second = newTurn(chat('q2'));
    const thread = { conversation: 'q1', turns: [first, second] };
    const changed = updateTurn(thread, second.key, (known) => ({ ...known, answer: 'new' }));
    expect(changed.turns[1].chat.answer).toBe('new');
    expect(changed.turns[0]).toBe(first);
    expect(updateTurn(thread, 999, (known) => known)).toBe(thread);

    const without = withoutTurn(thread, 'q1');
    expect(without).toEqual({ conversation: 'q1', turns: [second] });
    expect(withoutTurn(without, 'q2')).toEqual(emptyThread());
  });

  it('words the status of a turn', () => {
    expect(statusText(chat('q1', { status: 'done', ms: 1200 }))).toBe('Done in 1.2 s.');
    expect(statusText(chat('q1', { status: 'error', error: { code: 'cancelled', message: '' } }))).toBe('Cancelled.');
    expect(statusText(chat('q1', { status: 'error', error: { code: 'interrupted', message: '' } }))).toContain('Interrupted');
    expect(statusText(chat('q1', { status: 'running', stage: 'answering' }))).toBe('Answering…');
    expect(countTurns(1)).toBe('1 turn');
    expect(countTurns(3)).toBe('3 turns');
  });
});

describe('contextNotice', () => {
  it('a follow-up that carried the only earlier turn', () => {
    expect(contextNotice({ follow_up: true, turns: 1, carried: 1, reason: 'a follow-up (it opens with "and"): carries the last question and answer' })).toEqual({
      headline: 'Read as a follow-up of this conversation.',
      reason: 'Why: a follow-up (it opens with "and"): carries the last question and answer.',
      notUsed: null,
      resolved: null,
    });
  });

  it('says how many earlier turns were not used', () => {
    expect(contextNotice({ follow_up: true, turns: 4, carried: 1, reason: 'x' }).notUsed).toBe(
      '3 earlier turns were not used: only the last answer goes with a follow-up.',
    );
    expect(contextNotice({ follow_up: true, turns: 2, carried: 1, reason: 'x' }).notUsed).toBe(
      '1 earlier turn was not used: only the last answer goes with a follow-up.',
    );
    const fresh = contextNotice({ follow_up: false, turns: 2, carried: 0, reason: 'the question stands on its own.' });
    expect(fresh.headline).toBe('Read as a question of its own: answered without the conversation.');
    expect(fresh.notUsed).toBe('2 earlier turns were not used: this question was answered on its own.');
    expect(fresh.reason).toBe('Why: the question stands on its own.');
  });

  it('shows the question a follow-up was rewritten into', () => {
    const notice = contextNotice({ follow_up: true, turns: 1, carried: 1, reason: 'rewritten', resolved: ' How do I split a bill four ways? ' });
    expect(notice.headline).toBe('Read as a follow-up, and rewritten into a question of its own.');
    expect(notice.resolved).toBe('How do I split a bill four ways?');
  });
});
