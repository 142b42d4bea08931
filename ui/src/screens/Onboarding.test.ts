import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { Downloads } from '../lib/downloads.svelte';
import { createMockApi, type MockOptions } from '../lib/mock';
import Onboarding from './Onboarding.svelte';

function setup(options: MockOptions = {}) {
  const api = createMockApi({ delayMs: 1, ...options });
  const downloads = new Downloads(api);
  const onfinish = vi.fn();
  render(Onboarding, { api, downloads, onfinish });
  return { api, downloads, onfinish, user: userEvent.setup() };
}

async function fillProfile(user: ReturnType<typeof userEvent.setup>, storageGb = '2') {
  await user.type(screen.getByLabelText('Profession'), 'marketer');
  await user.type(screen.getByLabelText(/^Skills/), 'pricing, copywriting');
  await user.type(screen.getByLabelText(/^Languages/), 'en, es');
  await user.type(screen.getByLabelText(/^Interests/), 'startups');
  const storage = screen.getByLabelText('Storage for models (GB)');
  await user.clear(storage);
  await user.type(storage, storageGb);
}

describe('Onboarding', () => {
  it('recommends specialists with reasons and sizes, downloads them with progress to verified', async () => {
    const { api, onfinish, user } = setup();
    const recommend = vi.spyOn(api, 'recommend');
    expect(screen.getByTestId('onboarding-recommend')).toBeDisabled();
    await fillProfile(user);
    await user.click(screen.getByTestId('onboarding-recommend'));

    expect(recommend).toHaveBeenCalledWith({
      profession: 'marketer',
      skills: ['pricing', 'copywriting'],
      languages: ['en', 'es'],
      interests: ['startups'],
      storage_budget_bytes: 2_000_000_000,
      memory_bytes: null,
    });
    const list = await screen.findByTestId('recommendations');
    const items = within(list).getAllByRole('listitem').filter((item) => item.dataset.testid?.startsWith('recommendation-'));
    expect(items.length).toBeGreaterThanOrEqual(2);
    expect(items.length).toBeLessThanOrEqual(5);
    const spanish = screen.getByTestId('recommendation-translate.es');
    expect(spanish).toHaveTextContent('matches your profile: es');
    expect(spanish).toHaveTextContent('253 MB to download');
    expect(within(spanish).getByTestId('recommendation-verified-translate.es')).toHaveAttribute('data-verified', 'true');
    expect(screen.getByTestId('recommendation-marketing.strategy')).toHaveTextContent('already on this device');

    // Every recommendation starts chosen; one can be left out.
    const copywriting = screen.getByRole('checkbox', { name: 'Copywriter' });
    expect(copywriting).toBeChecked();
    await user.click(copywriting);
    expect(copywriting).not.toBeChecked();

    await user.click(screen.getByTestId('onboarding-download'));
    const bar = await screen.findByTestId('download-progress-gemma3-270m-q4_k_m');
    expect(bar).toHaveAccessibleName('Download of gemma3-270m-q4_k_m');
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    expect(bar).toHaveAttribute('value', '100');
    expect(screen.getByTestId('download-verified-gemma3-270m-q4_k_m')).toHaveTextContent('Verified');
    // smollm2 is already installed: only the missing base model downloads.
    expect(within(screen.getByTestId('onboarding-downloads')).getAllByRole('progressbar')).toHaveLength(1);

    await user.click(screen.getByTestId('onboarding-finish'));
    expect(onfinish).toHaveBeenCalledWith(expect.objectContaining({ profession: 'marketer', languages: ['en', 'es'] }));
  });

  it('pauses and resumes a download', async () => {
    const { api, user } = setup({ delayMs: 20, pullSteps: 60 });
    const pull = vi.spyOn(api, 'pullModel');
    await fillProfile(user);
    await user.click(screen.getByTestId('onboarding-recommend'));
    await user.click(await screen.findByTestId('onboarding-download'));

    const bar = await screen.findByTestId('download-progress-gemma3-270m-q4_k_m');
    await waitFor(() => expect(Number(bar.getAttribute('value'))).toBeGreaterThan(0));
    await user.click(screen.getByRole('button', { name: 'Pause download of gemma3-270m-q4_k_m' }));
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'paused'));
    const pausedAt = Number(bar.getAttribute('value'));
    expect(pausedAt).toBeLessThan(100);
    expect(screen.getByTestId('download-state-gemma3-270m-q4_k_m')).toHaveTextContent('Paused');

    await user.click(screen.getByTestId('download-resume-gemma3-270m-q4_k_m'));
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    expect(pull).toHaveBeenCalledTimes(2);
    await expect(pull.mock.results[1].value).resolves.toMatchObject({ resumed: true, verified: true });
  });

  it('shows a failed verification and lets the user retry', async () => {
    const { user } = setup({ failingPulls: ['gemma3-270m-q4_k_m'] });
    await fillProfile(user);
    await user.click(screen.getByTestId('onboarding-recommend'));
    await user.click(await screen.findByTestId('onboarding-download'));
    const bar = await screen.findByTestId('download-progress-gemma3-270m-q4_k_m');
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'failed'));
    expect(screen.getByRole('alert')).toHaveTextContent('sha256 does not match');
    expect(screen.getByTestId('download-retry-gemma3-270m-q4_k_m')).toBeInTheDocument();
  });

  it('downloads an unverified model only once the person agreed, after a warning', async () => {
    const { api, user } = setup();
    const pull = vi.spyOn(api, 'pullModel');
    await user.type(screen.getByLabelText('Profession'), 'developer');
    await user.type(screen.getByLabelText(/^Skills/), 'python');
    await user.click(screen.getByTestId('onboarding-recommend'));
    await screen.findByTestId('recommendation-software.python');
    expect(screen.getByTestId('recommendation-verified-software.python')).toHaveAttribute('data-verified', 'false');

    const warning = screen.getByRole('group', { name: 'Unverified models' });
    expect(warning).toHaveTextContent('qwen2.5-1.5b-instruct-q4_k_m');
    expect(warning).toHaveTextContent('a changed or malicious file would run as it is');
    const download = screen.getByTestId('onboarding-download');
    expect(download).toBeDisabled();

    // Leaving it out unblocks the rest; choosing it again asks again.
    await user.click(screen.getByRole('checkbox', { name: 'Python developer' }));
    expect(screen.queryByRole('group', { name: 'Unverified models' })).not.toBeInTheDocument();
    expect(download).toBeEnabled();
    await user.click(screen.getByRole('checkbox', { name: 'Python developer' }));
    expect(download).toBeDisabled();

    await user.click(screen.getByRole('checkbox', { name: 'Install it anyway' }));
    expect(download).toBeEnabled();
    await user.click(download);
    expect(pull).toHaveBeenCalledWith('qwen2.5-1.5b-instruct-q4_k_m', expect.any(Function), { allowUnverified: true });
    const bar = await screen.findByTestId('download-progress-qwen2.5-1.5b-instruct-q4_k_m');
    await waitFor(() => expect(bar).toHaveAttribute('data-state', 'done'), { timeout: 3000 });
    expect(screen.getByTestId('download-verified-qwen2.5-1.5b-instruct-q4_k_m')).toHaveTextContent('Unverified');
  });

  it('says when nothing fits the storage budget', async () => {
    const { user } = setup();
    await fillProfile(user, '0.05');
    await user.click(screen.getByTestId('onboarding-recommend'));
    const error = await screen.findByTestId('onboarding-error');
    expect(error).toHaveAttribute('data-code', 'nothing_fits');
    expect(screen.getByLabelText('Profession')).toHaveValue('marketer');
  });

  it('can be skipped', async () => {
    const { onfinish, user } = setup();
    await user.click(screen.getByTestId('onboarding-skip'));
    expect(onfinish).toHaveBeenCalledWith(null);
  });
});
