import { describe, expect, it } from 'vitest';
import { ChorusError, insideTauri } from './api';
import { COMMANDS, createTauriApi, type TauriCore } from './tauri';
import { DEFAULT_SETTINGS } from './mock';
import type { ConductorEvent, PullProgress } from './types';
import doc from '../../COMMANDS.md?raw';

class FakeChannel<T> {
  onmessage: (message: T) => void;
  constructor(onmessage?: (message: T) => void) {
    this.onmessage = onmessage ?? (() => {});
  }
}

/** A fake `invoke` that records calls and answers from `replies`. */
function fakeCore(replies: Record<string, (args: Record<string, unknown>) => unknown>) {
  const calls: { command: string; args: Record<string, unknown> | undefined }[] = [];
  const core: TauriCore = {
    invoke: async <T,>(command: string, args?: Record<string, unknown>) => {
      calls.push({ command, args });
      const reply = replies[command];
      if (!reply) throw { code: 'unknown_command', message: `no ${command}` };
      return reply(args ?? {}) as T;
    },
    Channel: FakeChannel as unknown as TauriCore['Channel'],
  };
  return { core, calls };
}

describe('tauriApi', () => {
  it('asks over the `ask` command and streams events through a Channel', async () => {
    const { core, calls } = fakeCore({
      ask: (args) => {
        const channel = args.onEvent as FakeChannel<ConductorEvent>;
        channel.onmessage({ event: 'query', query_id: 'q9', conversation: 'q9' });
        channel.onmessage({ event: 'token', text: 'Hi' });
        return { query_id: 'q9', conversation: 'q9' };
      },
    });
    const seen: ConductorEvent[] = [];
    const result = await createTauriApi(core).ask('hello?', { onDeviceOnly: true }, (event) => seen.push(event));
    expect(result).toEqual({ queryId: 'q9', conversation: 'q9' });
    expect(calls[0].command).toBe('ask');
    // A question that begins a conversation says so with an explicit null.
    expect(calls[0].args).toMatchObject({ question: 'hello?', onDeviceOnly: true, conversation: null });
    expect(calls[0].args?.onEvent).toBeInstanceOf(FakeChannel);
    expect(seen.map((event) => event.event)).toEqual(['query', 'token']);
  });

  it('continues a conversation: passes its id and resolves with the conversation the shell names', async () => {
    const { core, calls } = fakeCore({ ask: () => ({ query_id: 12, conversation: 9 }) });
    const result = await createTauriApi(core).ask('Make it shorter.', { onDeviceOnly: false, conversation: 'q11' }, () => {});
    expect(calls[0].args).toMatchObject({ question: 'Make it shorter.', onDeviceOnly: false, conversation: 'q11' });
    // Bare numbers from serde read as journal ids.
    expect(result).toEqual({ queryId: 'q12', conversation: 'q9' });
  });

  it('lists, shows and deletes conversations', async () => {
    const summary = { id: 3, title: 'Plan a trip', turns: 2, last: 'q5', status: 'done', started_at_ms: 1, last_at_ms: 2 };
    const { core, calls } = fakeCore({
      conversations: () => [summary],
      conversation_show: () => [],
      conversation_delete: () => ({ ids: [3, 'q5'] }),
    });
    const api = createTauriApi(core);
    await expect(api.conversations(7)).resolves.toEqual([summary]);
    await expect(api.conversationShow('q5')).resolves.toEqual([]);
    await expect(api.conversationDelete('q5')).resolves.toEqual(['q3', 'q5']);
    expect(calls.map((call) => [call.command, call.args])).toEqual([
      ['conversations', { limit: 7 }],
      ['conversation_show', { conversationId: 'q5' }],
      ['conversation_delete', { conversationId: 'q5' }],
    ]);
  });

  it('pulls with a progress Channel and passes the outcome through', async () => {
    const outcome = { requested: 'translate.es', id: 'gemma3-270m-q4_k_m', path: '/m', bytes: 10, sha256: 'a', verified: true, already_present: false, resumed: false };
    const { core, calls } = fakeCore({
      pull_model: (args) => {
        (args.onProgress as FakeChannel<PullProgress>).onmessage({ event: 'progress', downloaded: 5, total: 10, bytes_per_second: 5, eta_seconds: 1 });
        return outcome;
      },
    });
    const progress: PullProgress[] = [];
    await expect(createTauriApi(core).pullModel('translate.es', (p) => progress.push(p))).resolves.toEqual(outcome);
    expect(calls[0]).toMatchObject({ command: 'pull_model', args: { id: 'translate.es', allowUnverified: false } });
    expect(progress).toHaveLength(1);
    // An unverified model goes only with the person's explicit consent.
    await createTauriApi(core).pullModel('software.python', () => {}, { allowUnverified: true });
    expect(calls[1]).toMatchObject({ command: 'pull_model', args: { id: 'software.python', allowUnverified: true } });
  });

  it('uses the documented command names and argument names', async () => {
    const { core, calls } = fakeCore(Object.fromEntries(COMMANDS.map((command) => [command, () => ({ ids: [] })])));
    const api = createTauriApi(core);
    const profile = { profession: 'marketer', skills: [], languages: ['es'], interests: [], storage_budget_bytes: 1, memory_bytes: null };
    await api.cancel('q1');
    await api.history(5);
    await api.historyShow('q1');
    await api.historyDelete('q1');
    await api.historyClear();
    await api.conversations(4);
    await api.conversationShow('q2');
    await api.conversationDelete('q2');
    await api.recommend(profile);
    await api.listModels();
    await api.pauseDownload('m');
    await api.removeModel('m');
    await api.networkInfo();
    await api.peers();
    await api.localApi();
    await api.getSettings();
    await api.setSettings(DEFAULT_SETTINGS);
    expect(calls.map((call) => [call.command, call.args])).toEqual([
      ['cancel', { queryId: 'q1' }],
      ['history', { limit: 5 }],
      ['history_show', { queryId: 'q1' }],
      ['history_delete', { queryId: 'q1' }],
      ['history_clear', undefined],
      ['conversations', { limit: 4 }],
      ['conversation_show', { conversationId: 'q2' }],
      ['conversation_delete', { conversationId: 'q2' }],
      ['recommend', { profile }],
      ['list_models', undefined],
      ['pause_download', { id: 'm' }],
      ['remove_model', { id: 'm' }],
      ['network_info', undefined],
      ['peers', undefined],
      ['local_api', undefined],
      ['get_settings', undefined],
      ['set_settings', { settings: DEFAULT_SETTINGS }],
    ]);
  });

  it('resolves deletions with the ids the shell deleted', async () => {
    const { core } = fakeCore({
      history_delete: (args) => ({ ids: [args.queryId] }),
      history_clear: () => ({ ids: ['q1', 'q2'] }),
    });
    const api = createTauriApi(core);
    await expect(api.historyDelete('q7')).resolves.toEqual(['q7']);
    await expect(api.historyClear()).resolves.toEqual(['q1', 'q2']);
  });

  it('turns rejections into ChorusError with the code the shell sent', async () => {
    const { core } = fakeCore({
      remove_model: () => {
        throw { code: 'not_installed', message: 'gemma is not installed' };
      },
      peers: () => {
        throw 'a bare string';
      },
    });
    const api = createTauriApi(core);
    await expect(api.removeModel('gemma')).rejects.toEqual(new ChorusError('not_installed', 'gemma is not installed'));
    await expect(api.removeModel('gemma')).rejects.toHaveProperty('code', 'not_installed');
    await expect(api.peers()).rejects.toHaveProperty('code', 'internal');
  });

  it('is picked only inside Tauri', () => {
    expect(insideTauri()).toBe(false);
    (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {};
    expect(insideTauri()).toBe(true);
    delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
  });
});

/**
 * The argument names COMMANDS.md gives each command: the second column of
 * the table under "## Commands" (`` `onDeviceOnly: boolean` ``; "none").
 */
function documentedArguments(): Map<string, string[]> {
  const section = doc.slice(doc.indexOf('## Commands'), doc.indexOf('### `Settings`'));
  const table = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    // Cells are split at `|`, but not at an escaped `\|` inside a type.
    const cells = line.split(/(?<!\\)\|/);
    const command = /^\s*`(\w+)`\s*$/.exec(cells[1] ?? '')?.[1];
    if (command) table.set(command, [...(cells[2] ?? '').matchAll(/`(\w+)\??:/g)].map((match) => match[1]));
  }
  return table;
}

describe('COMMANDS.md', () => {
  it('documents every command the UI invokes', () => {
    for (const command of COMMANDS) expect(doc).toContain(`\`${command}\``);
    expect([...documentedArguments().keys()].sort()).toEqual([...COMMANDS].sort());
  });

  it('names exactly the arguments the UI sends to each command', async () => {
    const { core, calls } = fakeCore({
      ...Object.fromEntries(COMMANDS.map((command) => [command, () => ({ ids: [] })])),
      ask: () => ({ query_id: 'q1', conversation: 'q1' }),
    });
    const api = createTauriApi(core);
    const profile = { profession: '', skills: [], languages: [], interests: [], storage_budget_bytes: 1, memory_bytes: null };
    await api.ask('hi', { onDeviceOnly: true, conversation: 'q1' }, () => {});
    await api.cancel('q1');
    await api.history(1);
    await api.historyShow('q1');
    await api.conversations(1);
    await api.conversationShow('q1');
    await api.conversationDelete('q1');
    await api.historyDelete('q1');
    await api.historyClear();
    await api.recommend(profile);
    await api.listModels();
    await api.pullModel('m', () => {});
    await api.pauseDownload('m');
    await api.removeModel('m');
    await api.networkInfo();
    await api.peers();
    await api.localApi();
    await api.getSettings();
    await api.setSettings(DEFAULT_SETTINGS);
    expect(calls.map((call) => call.command)).toEqual([...COMMANDS]);
    const documented = documentedArguments();
    for (const call of calls) {
      expect([call.command, Object.keys(call.args ?? {}).sort()]).toEqual([call.command, [...(documented.get(call.command) ?? [])].sort()]);
    }
    // The table is read as meant: `ask` has its four, `history_clear` none.
    expect(documented.get('ask')).toEqual(['question', 'onDeviceOnly', 'conversation', 'onEvent']);
    expect(documented.get('history_clear')).toEqual([]);
  });
});
