import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { createMockApi } from '../lib/mock';
import { PEER_A, PEER_B } from '../lib/scenarios';
import Network from './Network.svelte';

describe('Network', () => {
  it('shows this device, its reachability and the peers with RTT, specialists, status and standing', async () => {
    render(Network, { api: createMockApi({ delayMs: 1, settings: { privacy: 'network' } }), refreshMs: 0 });
    expect(await screen.findByTestId('network-peer-id')).toHaveTextContent('12D3KooWThisDevice');
    expect(screen.getByTestId('network-reachability')).toHaveAttribute('data-reachability', 'private');
    expect(screen.getByTestId('network-reachability')).toHaveTextContent('Behind NAT');

    const a = await screen.findByTestId(`peer-row-${PEER_A}`);
    expect(a).toHaveAttribute('data-connected', 'true');
    expect(within(a).getByTestId(`peer-rtt-${PEER_A}`)).toHaveTextContent('12 ms');
    expect(a).toHaveTextContent('finance.pricing, translate.fr');
    expect(a).toHaveTextContent('Serving');
    expect(a).toHaveTextContent('1 of 2 slots free');
    expect(within(a).getByTestId(`peer-standing-${PEER_A}`)).toHaveTextContent('+120 tokens');
    expect(within(a).getByTestId(`peer-measured-${PEER_A}`)).toHaveTextContent('4 tasks done, 0 failed, 40 tokens/s');
    expect(a).toHaveTextContent('80 tokens (1 task) given');
    expect(a).toHaveTextContent('200 tokens (4 tasks) received');

    const b = screen.getByTestId(`peer-row-${PEER_B}`);
    expect(b).toHaveAttribute('data-connected', 'false');
    expect(within(b).getByTestId(`peer-rtt-${PEER_B}`)).toHaveTextContent('unknown');
    expect(within(b).getByTestId(`peer-standing-${PEER_B}`)).toHaveTextContent('-35 tokens');
    expect(within(b).getByTestId(`peer-measured-${PEER_B}`)).toHaveTextContent(/0 tasks done, 1 failed, speed not yet known; ranked last until/);
  });

  it('says the network is off in on-device-only mode and asks no peers', async () => {
    const api = createMockApi({ delayMs: 1, settings: { privacy: 'on_device' } });
    const peers = vi.spyOn(api, 'peers');
    render(Network, { api, refreshMs: 0 });
    expect(await screen.findByTestId('network-running')).toHaveAttribute('data-running', 'false');
    expect(screen.queryByTestId('network-reachability')).not.toBeInTheDocument();
    expect(peers).not.toHaveBeenCalled();
  });

  it('refreshes on demand and shows errors', async () => {
    const api = createMockApi({ delayMs: 1, settings: { privacy: 'network' } });
    render(Network, { api, refreshMs: 0 });
    await screen.findByTestId(`peer-row-${PEER_A}`);
    vi.spyOn(api, 'networkInfo').mockRejectedValueOnce({ code: 'network_failed', message: 'the swarm stopped' });
    await userEvent.setup().click(screen.getByTestId('network-refresh'));
    expect(await screen.findByTestId('network-error')).toHaveAttribute('data-code', 'network_failed');
  });

  it('shows that no peers are known yet', async () => {
    render(Network, { api: createMockApi({ delayMs: 1, settings: { privacy: 'network' }, peers: [] }), refreshMs: 0 });
    expect(await screen.findByTestId('peers-empty')).toBeInTheDocument();
  });
});
