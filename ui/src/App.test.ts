import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { createMockApi, type KeyValueStore } from './lib/mock';

function memoryStore(): KeyValueStore {
  const data = new Map<string, string>();
  return { getItem: (key) => data.get(key) ?? null, setItem: (key, value) => void data.set(key, value) };
}

beforeEach(() => {
  history.replaceState(null, '', '#');
});

describe('App', () => {
  it('runs onboarding on first start, then opens the chat', async () => {
    const api = createMockApi({ delayMs: 1 });
    render(App, { api });
    expect(await screen.findByRole('heading', { name: 'Welcome to Chorus' })).toBeInTheDocument();
    expect(screen.queryByRole('navigation', { name: 'Main' })).not.toBeInTheDocument();

    await userEvent.setup().click(screen.getByTestId('onboarding-skip'));
    expect(await screen.findByLabelText('Your question')).toBeInTheDocument();
    expect(screen.getByRole('navigation', { name: 'Main' })).toBeInTheDocument();
    expect(api.storedSettings.onboarded).toBe(true);
  });

  it('moves between the screens with the navigation, by mouse or keyboard', async () => {
    render(App, { api: createMockApi({ delayMs: 1, settings: { onboarded: true } }) });
    const user = userEvent.setup();
    await screen.findByLabelText('Your question');
    expect(screen.getByTestId('nav-chat')).toHaveAttribute('aria-current', 'page');

    await user.click(screen.getByTestId('nav-models'));
    expect(await screen.findByRole('heading', { level: 1, name: 'Models' })).toBeInTheDocument();
    expect(screen.getByTestId('nav-models')).toHaveAttribute('aria-current', 'page');
    expect(screen.getByTestId('nav-chat')).not.toHaveAttribute('aria-current');
    expect(location.hash).toBe('#/models');

    screen.getByTestId('nav-network').focus();
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('heading', { level: 1, name: 'Network' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: /Settings/ }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Settings' })).toBeInTheDocument();
  });

  it('keeps the privacy setting across a restart and uses it as the chat default', async () => {
    const store = memoryStore();
    const first = render(App, { api: createMockApi({ delayMs: 1, store, settings: { onboarded: true } }) });
    const user = userEvent.setup();
    await screen.findByLabelText('Your question');
    expect(screen.getByRole('switch', { name: 'On-device only' })).not.toBeChecked();
    await user.click(screen.getByTestId('nav-settings'));
    await user.click(await screen.findByRole('radio', { name: 'On-device only' }));
    await waitFor(() => expect(screen.getByTestId('privacy-indicator')).toHaveAttribute('data-privacy', 'on_device'));
    first.unmount();

    // A new process: the same store, nothing else.
    history.replaceState(null, '', '#');
    render(App, { api: createMockApi({ delayMs: 1, store }) });
    expect(await screen.findByTestId('privacy-indicator')).toHaveTextContent('On-device only');
    expect(screen.getByRole('switch', { name: 'On-device only' })).toBeChecked();
    await user.click(screen.getByTestId('nav-settings'));
    expect(await screen.findByRole('radio', { name: 'On-device only' })).toBeChecked();
  });

  it('keeps the conversation on screen while another screen is open, and continues it after', async () => {
    const api = createMockApi({ delayMs: 1, settings: { onboarded: true, privacy: 'on_device' } });
    const askSpy = vi.spyOn(api, 'ask');
    render(App, { api });
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Your question'), 'How do I split a bill three ways?');
    await user.click(screen.getByTestId('send-button'));
    // Away while it still runs: it goes on.
    await user.click(screen.getByTestId('nav-settings'));
    await user.click(screen.getByTestId('nav-chat'));
    await waitFor(() => expect(screen.getByTestId('turn-status-q1')).toHaveAttribute('data-status', 'done'));
    expect(screen.getByTestId('answer')).toHaveTextContent('Split the total by three');
    expect(screen.getByTestId('thread')).toHaveAttribute('data-conversation', 'q1');

    await user.type(screen.getByLabelText('Your question'), 'Make it shorter.');
    await user.click(screen.getByTestId('send-button'));
    expect(askSpy).toHaveBeenLastCalledWith('Make it shorter.', { onDeviceOnly: true, conversation: 'q1' }, expect.any(Function));
    await waitFor(() => expect(screen.getByTestId('turn-context-q2')).toHaveAttribute('data-follow-up', 'true'));
    await waitFor(() => expect(screen.getByTestId('chat-status')).toHaveAttribute('data-status', 'done'));

    // History deleted from Settings: the conversation leaves the chat too.
    await user.click(screen.getByTestId('nav-settings'));
    await user.click(await screen.findByTestId('history-clear'));
    await user.click(screen.getByTestId('history-clear-confirm'));
    await screen.findByTestId('history-cleared');
    await user.click(screen.getByTestId('nav-chat'));
    await waitFor(() => expect(screen.queryByTestId('turn-q1')).not.toBeInTheDocument());
    expect(screen.getByTestId('thread')).not.toHaveAttribute('data-conversation');
    expect(await screen.findByTestId('conversations-empty')).toBeInTheDocument();
  });

  it('opens the screen named in the address', async () => {
    history.replaceState(null, '', '#/network');
    render(App, { api: createMockApi({ delayMs: 1, settings: { onboarded: true } }) });
    expect(await screen.findByRole('heading', { level: 1, name: 'Network' })).toBeInTheDocument();
  });

  it('shows why it cannot start and tries again', async () => {
    const api = createMockApi({ delayMs: 1, settings: { onboarded: true } });
    vi.spyOn(api, 'getSettings').mockRejectedValueOnce({ code: 'store', message: 'the data folder is locked by another chorus' });
    render(App, { api, demo: true });
    expect(await screen.findByTestId('app-error')).toHaveTextContent('locked by another chorus');
    expect(screen.getByTestId('demo-badge')).toBeInTheDocument();
    await userEvent.setup().click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByLabelText('Your question')).toBeInTheDocument();
    expect(screen.queryByTestId('app-error')).not.toBeInTheDocument();
  });
});
