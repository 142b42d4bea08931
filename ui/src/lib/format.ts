// Small formatting helpers shared by the screens.

import { LOCAL } from './plan';

/** Decimal units, as the CLI prints them: 98.4 MB. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes)) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms == null) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export function formatEta(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

/** `12D3KooWQm5s…XyH7a`: enough to tell peers apart. */
export function shortPeerId(peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 10)}…${peerId.slice(-5)}` : peerId;
}

export function executorLabel(executor: string | null): string {
  if (!executor) return 'not started';
  return executor === LOCAL ? 'this device' : `peer ${shortPeerId(executor)}`;
}

/** "a, b ,c" → ["a", "b", "c"]. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter(Boolean);
}

/** "10:54" today, "Dec 5, 2026" another day (the local way to write them). */
export function formatWhen(unixMs: number, now: number = Date.now()): string {
  const when = new Date(unixMs);
  const today = new Date(now);
  const sameDay = when.toDateString() === today.toDateString();
  return sameDay
    ? when.toLocaleTimeString(undefined, { timeStyle: 'short' })
    : when.toLocaleDateString(undefined, { dateStyle: 'medium' });
}
