// Model downloads of the whole app (onboarding and the models screen share
// them), keyed by the id asked for. Pausing stops the pull and keeps its
// partial file; resuming pulls again, which continues from it.

import { toChorusError, type ChorusApi, type PullOptions } from './api';
import type { ErrorInfo, PullOutcome } from './types';

export type DownloadState = 'downloading' | 'paused' | 'done' | 'failed';

export interface Download {
  id: string;
  state: DownloadState;
  downloaded: number;
  total: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
  /** Whether the installed file matched a published sha256 (once done). */
  verified: boolean | null;
  /** The person agreed to install it without a published sha256 (kept for resume and retry). */
  allowUnverified: boolean;
  error: ErrorInfo | null;
  outcome: PullOutcome | null;
}

export class Downloads {
  items: Record<string, Download> = $state({});
  #api: ChorusApi;
  /** Called after a download finishes, e.g. to reload the model list. */
  onInstalled: ((outcome: PullOutcome) => void) | null = null;

  constructor(api: ChorusApi) {
    this.#api = api;
  }

  get(id: string): Download | undefined {
    return this.items[id];
  }

  /**
   * Starts (or resumes) a download; resolves when it ends, however it ends.
   * `allowUnverified` only after the person confirmed an unverified model;
   * a resume or retry keeps what was agreed.
   */
  async start(id: string, options: PullOptions = {}): Promise<void> {
    const current = this.items[id];
    if (current?.state === 'downloading' || current?.state === 'done') return;
    const allowUnverified = options.allowUnverified ?? current?.allowUnverified ?? false;
    this.items[id] = {
      id,
      state: 'downloading',
      downloaded: current?.downloaded ?? 0,
      total: current?.total ?? null,
      bytesPerSecond: 0,
      etaSeconds: null,
      verified: null,
      allowUnverified,
      error: null,
      outcome: null,
    };
    try {
      const outcome = await this.#api.pullModel(
        id,
        (progress) => {
          const item = this.items[id];
          if (!item || item.state !== 'downloading') return;
          item.downloaded = progress.downloaded;
          item.total = progress.total;
          item.bytesPerSecond = progress.bytes_per_second;
          item.etaSeconds = progress.eta_seconds;
        },
        { allowUnverified },
      );
      const item = this.items[id];
      item.state = 'done';
      item.downloaded = outcome.bytes;
      item.total = outcome.bytes;
      item.etaSeconds = 0;
      item.verified = outcome.verified;
      item.outcome = outcome;
      this.onInstalled?.(outcome);
    } catch (thrown) {
      const error = toChorusError(thrown);
      const item = this.items[id];
      if (error.code === 'cancelled') {
        item.state = 'paused';
      } else {
        item.state = 'failed';
        item.error = { code: error.code, message: error.message };
      }
    }
  }

  async pause(id: string): Promise<void> {
    const item = this.items[id];
    if (item?.state !== 'downloading') return;
    try {
      await this.#api.pauseDownload(id);
    } catch (thrown) {
      const error = toChorusError(thrown);
      item.error = { code: error.code, message: error.message };
    }
  }

  resume(id: string): Promise<void> {
    return this.start(id);
  }

  /** Forgets a finished or failed download (after a removal, say). */
  forget(id: string): void {
    if (this.items[id]?.state !== 'downloading') delete this.items[id];
  }
}
