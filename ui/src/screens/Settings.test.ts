import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { createMockApi, DEFAULT_SETTINGS } from '../lib/mock';
import type { Settings as SettingsValue } from '../lib/types';
import Settings from './Settings.svelte';

function setup(settings: Partial<SettingsValue> = {}) {
  const initial = { ...DEFAULT_SETTINGS, onboarded: true, ...settings };
  const api = createMockApi({ delayMs: 1, settings: initial });
  const onchange = vi.fn();
  const onredoonboarding = vi.fn();
  render(Settings, { api, settings: initial, onchange, onredoonboarding });
  return { api, onchange, onredoonboarding, user: userEvent.setup() };
}

const saved = () => waitFor(() => expect(screen.getByTestId('settings-status')).toHaveTextContent('Saved.'));

describe('Settings', () => {
  it('switches privacy to on-device only and saves it at once', async () => {
    const { api, onchange, user } = setup({ privacy: 'network' });
    expect(screen.getByRole('radio', { name: 'Network allowed' })).toBeChecked();
    await user.click(screen.getByRole('radio', { name: 'On-device only' }));
    await saved();
    expect(api.storedSettings.privacy).toBe('on_device');
    expect(onchange).toHaveBeenLastCalledWith(expect.objectContaining({ privacy: 'on_device' }));
    expect(screen.getByTestId('settings-privacy-on_device')).toBeChecked();
  });

  it('saves the contribution switches and limits', async () => {
    const { api, user } = setup();
    await user.click(screen.getByRole('switch', { name: 'Only when charging' }));
    await saved();
    expect(api.storedSettings.only_when_charging).toBe(true);

    await user.click(screen.getByRole('switch', { name: 'Only when idle' }));
    await waitFor(() => expect(api.storedSettings.only_when_idle).toBe(true));

    const slots = screen.getByLabelText('Max concurrent tasks');
    await user.clear(slots);
    await user.type(slots, '3');
    await user.tab();
    await waitFor(() => expect(api.storedSettings.max_slots).toBe(3));

    const threads = screen.getByLabelText('Threads');
    await user.clear(threads);
    await user.type(threads, '4');
    await user.tab();
    await waitFor(() => expect(api.storedSettings.threads).toBe(4));

    await user.click(screen.getByRole('switch', { name: 'Serve others' }));
    await waitFor(() => expect(api.storedSettings.serve).toBe(false));
    expect(screen.getByLabelText('Max concurrent tasks')).toBeDisabled();
    expect(screen.getByRole('switch', { name: 'Only when idle' })).toBeDisabled();
  });

  it('refuses a bad thread count without saving it', async () => {
    const { api, user } = setup();
    const threads = screen.getByLabelText('Threads');
    await user.clear(threads);
    await user.type(threads, '0');
    await user.tab();
    expect(await screen.findByTestId('settings-error')).toHaveAttribute('data-code', 'invalid_settings');
    expect(api.storedSettings.threads).toBe(2);
  });

  it('shows the node refusing a value and goes back to what is stored', async () => {
    const { api, user } = setup({ privacy: 'network' });
    vi.spyOn(api, 'setSettings').mockRejectedValueOnce({ code: 'store', message: 'the settings file is read-only' });
    await user.click(screen.getByRole('radio', { name: 'On-device only' }));
    expect(await screen.findByTestId('settings-error')).toHaveTextContent('read-only');
    await waitFor(() => expect(screen.getByRole('radio', { name: 'Network allowed' })).toBeChecked());
  });

  it('saves bootstrap peers one per line and checks their form', async () => {
    const { api, user } = setup();
    const box = screen.getByLabelText('Bootstrap peers');
    await user.type(box, 'not-an-address');
    await user.tab();
    expect(await screen.findByTestId('settings-bootstrap-error')).toHaveTextContent('not a peer address');
    expect(box).toHaveAttribute('aria-invalid', 'true');

    await user.clear(box);
    await user.type(box, '/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWA{Enter}/dns4/relay.example/tcp/4001/p2p/12D3KooWB');
    await user.tab();
    await waitFor(() =>
      expect(api.storedSettings.bootstrap_peers).toEqual([
        '/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWA',
        '/dns4/relay.example/tcp/4001/p2p/12D3KooWB',
      ]),
    );
    expect(screen.queryByTestId('settings-bootstrap-error')).not.toBeInTheDocument();
  });

  it('saves the data folder and offers onboarding again', async () => {
    const { api, onredoonboarding, user } = setup();
    const dir = screen.getByLabelText('Data folder');
    expect(dir).toHaveValue('~/.local/share/chorus');
    await user.clear(dir);
    await user.type(dir, '/data/chorus');
    await user.tab();
    await waitFor(() => expect(api.storedSettings.data_dir).toBe('/data/chorus'));
    await user.click(screen.getByTestId('settings-onboarding'));
    expect(onredoonboarding).toHaveBeenCalled();
  });

  it('keeps history forever by default, says so, and saves a number of days', async () => {
    const { api, user } = setup();
    const keep = screen.getByLabelText('Keep history');
    expect(keep).toHaveValue('forever');
    expect(within(keep as HTMLElement).getByRole('option', { selected: true })).toHaveTextContent('Forever (default)');
    expect(screen.getByTestId('settings-history-days-hint')).toHaveTextContent('until you delete them');
    await user.selectOptions(keep, '30');
    await saved();
    expect(api.storedSettings.history_days).toBe(30);
    expect(screen.getByTestId('settings-history-days-hint')).toHaveTextContent('more than 30 days ago are deleted');
    await user.selectOptions(screen.getByLabelText('Keep history'), 'forever');
    await waitFor(() => expect(api.storedSettings.history_days).toBeNull());
  });

  it('shows a stored number of days that is not among the usual choices', () => {
    setup({ history_days: 45 });
    expect(screen.getByLabelText('Keep history')).toHaveValue('45');
  });

  it('deletes all history after a confirmation', async () => {
    const initial = { ...DEFAULT_SETTINGS, onboarded: true };
    const history = [1, 2].map((n) => ({
      id: `q${n}`,
      text: `question ${n}`,
      mode: 'on_device',
      status: 'done' as const,
      started_at_ms: 1_700_000_000_000 + n,
      ended_at_ms: 1_700_000_000_100 + n,
      plan: null,
      answer: 'ok',
      error: null,
      subtasks: [],
      events: [],
    }));
    const api = createMockApi({ delayMs: 1, settings: initial, history });
    render(Settings, { api, settings: initial, onchange: vi.fn() });
    const user = userEvent.setup();
    await user.click(screen.getByTestId('history-clear'));
    await user.click(screen.getByTestId('history-clear-cancel'));
    expect(await api.history()).toHaveLength(2);
    await user.click(screen.getByTestId('history-clear'));
    expect(screen.getByRole('group', { name: 'Confirm deleting all history' })).toHaveTextContent('A question still running is kept.');
    await user.click(screen.getByTestId('history-clear-confirm'));
    expect(await screen.findByTestId('history-cleared')).toHaveTextContent('Deleted 2 past questions.');
    expect(await api.history()).toEqual([]);
  });
});
