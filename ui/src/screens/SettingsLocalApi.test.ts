import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import { describe, expect, it, vi } from 'vitest';
import { createMockApi, DEFAULT_SETTINGS, MOCK_LOCAL_API, type MockOptions } from '../lib/mock';
import type { Settings as SettingsValue } from '../lib/types';
import Settings from './Settings.svelte';

function setup(settings: Partial<SettingsValue> = {}, options: MockOptions = {}) {
  const initial = { ...DEFAULT_SETTINGS, onboarded: true, ...settings };
  const api = createMockApi({ delayMs: 1, settings: initial, ...options });
  const onchange = vi.fn();
  render(Settings, { api, settings: initial, onchange });
  return { api, onchange, user: userEvent.setup() };
}

describe('Settings: Local API for other apps', () => {
  it('is off by default, and shows the address and the key, hidden until shown, once switched on', async () => {
    const { api, onchange, user } = setup();
    const toggle = screen.getByRole('switch', { name: 'Local API for other apps' });
    expect(toggle).not.toBeChecked();
    expect(toggle).toHaveAccessibleDescription(/OpenAI-compatible clients.*nothing leaves this device through it that the privacy setting above would not already allow/);
    expect(screen.queryByTestId('settings-local-api-url')).not.toBeInTheDocument();

    await user.click(toggle);
    const url = await screen.findByTestId('settings-local-api-url');
    expect(api.storedSettings.local_api).toBe(true);
    expect(onchange).toHaveBeenLastCalledWith(expect.objectContaining({ local_api: true }));
    expect(screen.getByTestId('settings-status')).toHaveTextContent('Saved.');
    expect(url).toHaveTextContent(MOCK_LOCAL_API.url);
    expect(url).toHaveAttribute('data-url', MOCK_LOCAL_API.url);

    const key = screen.getByTestId('settings-local-api-key');
    expect(key).not.toHaveTextContent(MOCK_LOCAL_API.key);
    expect(key).not.toHaveAttribute('data-key');
    expect(document.body.textContent).not.toContain(MOCK_LOCAL_API.key);
    const reveal = screen.getByTestId('settings-local-api-key-reveal');
    expect(reveal).toHaveAttribute('aria-pressed', 'false');
    await user.click(reveal);
    expect(reveal).toHaveAttribute('aria-pressed', 'true');
    expect(key).toHaveTextContent(MOCK_LOCAL_API.key);
    expect(key).toHaveAttribute('data-key', MOCK_LOCAL_API.key);
    await user.click(reveal);
    expect(key).not.toHaveAttribute('data-key');

    await user.click(screen.getByTestId('settings-local-api-copy'));
    expect(screen.getByTestId('settings-local-api-copy')).toHaveTextContent('Copied.');
    await expect(navigator.clipboard.readText()).resolves.toBe(MOCK_LOCAL_API.key);

    // Off again: nothing about it is shown.
    await user.click(toggle);
    await waitFor(() => expect(api.storedSettings.local_api).toBe(false));
    await waitFor(() => expect(screen.queryByTestId('settings-local-api-url')).not.toBeInTheDocument());
    expect(screen.queryByTestId('settings-local-api-key')).not.toBeInTheDocument();
  });

  it('shows where it listens when it is already on', async () => {
    setup({ local_api: true });
    expect(screen.getByRole('switch', { name: 'Local API for other apps' })).toBeChecked();
    expect(await screen.findByTestId('settings-local-api-url')).toHaveAttribute('data-url', MOCK_LOCAL_API.url);
  });

  it('reads settings without the field (an older version) as off, and saves it as such', async () => {
    const { local_api: _dropped, ...older } = DEFAULT_SETTINGS;
    const api = createMockApi({ delayMs: 1 });
    const setSpy = vi.spyOn(api, 'setSettings');
    render(Settings, { api, settings: older as SettingsValue, onchange: () => {} });
    expect(screen.getByRole('switch', { name: 'Local API for other apps' })).not.toBeChecked();
    await userEvent.setup().click(screen.getByRole('switch', { name: 'Only when idle' }));
    await waitFor(() => expect(setSpy).toHaveBeenCalled());
    expect(setSpy.mock.calls[0][0]).toMatchObject({ local_api: false, only_when_idle: true });
  });

  it('says why it could not start', async () => {
    const { user } = setup({}, { localApiError: 'port 11435 is taken by another program' });
    await user.click(screen.getByRole('switch', { name: 'Local API for other apps' }));
    const error = await screen.findByTestId('settings-local-api-error');
    expect(error).toHaveAttribute('role', 'alert');
    expect(error).toHaveTextContent('The API could not start: port 11435 is taken by another program');
    expect(screen.queryByTestId('settings-local-api-url')).not.toBeInTheDocument();
    expect(screen.queryByTestId('settings-local-api-key')).not.toBeInTheDocument();
  });

  it('says so when the node cannot tell where it listens, and when the setting is refused', async () => {
    const { api, user } = setup();
    vi.spyOn(api, 'localApi').mockRejectedValueOnce({ code: 'internal', message: 'the shell is busy' });
    await user.click(screen.getByRole('switch', { name: 'Local API for other apps' }));
    const error = await screen.findByTestId('settings-local-api-error');
    expect(error).toHaveAttribute('data-code', 'internal');
    expect(error).toHaveTextContent('the shell is busy');
    // Checking again finds it.
    await user.click(screen.getByRole('button', { name: 'Check again' }));
    expect(await screen.findByTestId('settings-local-api-url')).toBeInTheDocument();

    await user.click(screen.getByRole('switch', { name: 'Local API for other apps' }));
    await waitFor(() => expect(api.storedSettings.local_api).toBe(false));
    vi.spyOn(api, 'setSettings').mockRejectedValueOnce({ code: 'invalid_settings', message: 'no API here' });
    await user.click(screen.getByRole('switch', { name: 'Local API for other apps' }));
    expect(await screen.findByTestId('settings-error')).toHaveAttribute('data-code', 'invalid_settings');
    await waitFor(() => expect(screen.getByRole('switch', { name: 'Local API for other apps' })).not.toBeChecked());
    expect(screen.queryByTestId('settings-local-api-url')).not.toBeInTheDocument();
  });

  it('has no accessibility violations with the address and the key shown', async () => {
    const { user } = setup({ local_api: true });
    await screen.findByTestId('settings-local-api-url');
    await user.click(screen.getByTestId('settings-local-api-key-reveal'));
    const result = await axe.run(document.body, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      rules: { 'color-contrast': { enabled: false } },
    });
    expect(result.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.html).join(' | ')}`)).toEqual([]);
  });
});
