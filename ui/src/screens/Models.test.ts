import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { Downloads } from '../lib/downloads.svelte';
import { createMockApi } from '../lib/mock';
import Models from './Models.svelte';

const GEMMA = 'gemma3-270m-q4_k_m';
const QWEN = 'qwen2.5-1.5b-instruct-q4_k_m';

function setup() {
  const api = createMockApi({ delayMs: 1 });
  render(Models, { api, downloads: new Downloads(api) });
  return { api, user: userEvent.setup() };
}

describe('Models', () => {
  it('lists installed and available models with sizes, storage used and verification', async () => {
    setup();
    expect(await screen.findByTestId('models-storage-used')).toHaveTextContent('98.4 MB used by 1 model');
    const installed = screen.getByTestId('models-installed');
    const smol = within(installed).getByTestId('model-row-smollm2-135m-instruct-q4_1');
    expect(smol).toHaveTextContent('built in');
    expect(within(smol).queryByRole('button', { name: /Remove/ })).not.toBeInTheDocument();

    const available = screen.getByTestId('models-available');
    expect(within(available).getByTestId(`model-row-${GEMMA}`)).toHaveTextContent('253 MB');
    expect(screen.getByTestId(`model-verified-${GEMMA}`)).toHaveAttribute('data-verified', 'true');
    expect(screen.getByTestId(`model-verified-${QWEN}`)).toHaveTextContent('Unverified');

    expect(screen.getByTestId('specialist-row-general.assistant')).toHaveAttribute('data-runnable', 'true');
    expect(screen.getByTestId('specialist-row-translate.es')).toHaveAttribute('data-runnable', 'false');
  });

  it('installs a base model: the progress bar reaches done and the model moves to this device', async () => {
    const { api, user } = setup();
    const pull = vi.spyOn(api, 'pullModel');
    await user.click(await screen.findByRole('button', { name: 'Install Gemma 3 270M (pretrained base, Q4_K_M) (253 MB)' }));
    // A verified model installs at once, without the unverified allowance.
    expect(pull).toHaveBeenCalledWith(GEMMA, expect.any(Function), { allowUnverified: false });
    expect(screen.queryByRole('group', { name: /Confirm install/ })).not.toBeInTheDocument();
    const bar = await screen.findByTestId(`download-progress-${GEMMA}`);
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    await waitFor(() => expect(screen.getByTestId(`model-row-${GEMMA}`)).toHaveAttribute('data-installed', 'true'));
    expect(within(screen.getByTestId('models-installed')).getByTestId(`download-progress-${GEMMA}`)).toHaveAttribute('value', '100');
    expect(screen.getByTestId('models-storage-used')).toHaveTextContent('351 MB used by 2 models');
    expect(screen.getByTestId('specialist-row-translate.es')).toHaveAttribute('data-runnable', 'true');
  });

  it('asks before installing an unverified model, and installs it only once confirmed', async () => {
    const { api, user } = setup();
    const pull = vi.spyOn(api, 'pullModel');
    await user.click(await screen.findByTestId(`model-install-${QWEN}`));
    const warning = screen.getByRole('group', { name: 'Confirm install of unverified Qwen2.5 1.5B Instruct (Q4_K_M)' });
    expect(warning).toHaveTextContent('No sha256 is published for it');
    expect(warning).toHaveTextContent('a changed or malicious file would run as it is');
    expect(warning).toHaveTextContent('any later change to the file is refused');
    expect(pull).not.toHaveBeenCalled();

    // Cancel: nothing downloads.
    await user.click(within(warning).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('group', { name: /Confirm install/ })).not.toBeInTheDocument();
    expect(screen.queryByTestId(`download-progress-${QWEN}`)).not.toBeInTheDocument();
    expect(pull).not.toHaveBeenCalled();

    await user.click(screen.getByTestId(`model-install-${QWEN}`));
    await user.click(screen.getByRole('button', { name: 'Install unverified (986 MB)' }));
    expect(pull).toHaveBeenCalledWith(QWEN, expect.any(Function), { allowUnverified: true });
    const bar = await screen.findByTestId(`download-progress-${QWEN}`);
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    expect(screen.getByTestId(`download-verified-${QWEN}`)).toHaveAttribute('data-verified', 'false');
  });

  it('installs a specialist through its base model, marked unverified when no hash is known', async () => {
    const { user } = setup();
    await user.click(await screen.findByTestId('specialist-install-software.python'));
    const row = screen.getByTestId('specialist-row-software.python');
    expect(within(row).getByRole('group', { name: /Confirm install of unverified/ })).toHaveTextContent('is unverified');
    await user.click(screen.getByTestId('model-install-unverified-software.python'));
    const bar = await screen.findByTestId(`download-progress-${QWEN}`);
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    expect(screen.getByTestId(`download-verified-${QWEN}`)).toHaveAttribute('data-verified', 'false');
    await waitFor(() => expect(screen.getByTestId('specialist-row-software.python')).toHaveAttribute('data-runnable', 'true'));
  });

  it('removes an installed model after a confirmation', async () => {
    const { user } = setup();
    await user.click(await screen.findByTestId(`model-install-${GEMMA}`));
    await waitFor(() => expect(screen.getByTestId(`model-row-${GEMMA}`)).toHaveAttribute('data-installed', 'true'), { timeout: 3000 });

    await user.click(screen.getByRole('button', { name: 'Remove Gemma 3 270M (pretrained base, Q4_K_M)' }));
    expect(screen.getByRole('group', { name: /Confirm removal/ })).toHaveTextContent('free 253 MB');
    await user.click(screen.getByTestId(`model-remove-confirm-${GEMMA}`));
    await waitFor(() => expect(screen.getByTestId(`model-row-${GEMMA}`)).toHaveAttribute('data-installed', 'false'));
    expect(screen.queryByTestId(`download-progress-${GEMMA}`)).not.toBeInTheDocument();
    expect(screen.getByTestId('models-storage-used')).toHaveTextContent('98.4 MB used by 1 model');
  });

  it('filters the specialists', async () => {
    const { user } = setup();
    await user.type(await screen.findByLabelText('Filter specialists'), 'translat');
    const rows = within(screen.getByTestId('specialists')).getAllByRole('listitem');
    expect(rows.map((row) => row.dataset.testid)).toEqual(['specialist-row-translate.es', 'specialist-row-translate.fr']);
    await user.clear(screen.getByLabelText('Filter specialists'));
    await user.type(screen.getByLabelText('Filter specialists'), 'zzz');
    expect(screen.getByTestId('specialists')).toHaveTextContent('No specialist matches');
  });
});
