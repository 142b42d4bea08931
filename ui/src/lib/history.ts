// How long past questions are kept (Settings → History → Keep history):
// the setting `history_days`, where `null` is forever, the default.

/** The most days the node accepts (a hundred years). */
export const MAX_HISTORY_DAYS = 36500;

/** The choices offered, forever first. */
export const KEEP_CHOICES: readonly (number | null)[] = [null, 7, 30, 90, 365];

/** A value for a `<select>`: `forever` or the number of days. */
export function keepValue(days: number | null): string {
  return days === null ? 'forever' : String(days);
}

/** The setting a `<select>` value stands for; `undefined` for a value that is none. */
export function parseKeep(value: string): number | null | undefined {
  if (value === 'forever') return null;
  const days = Number(value);
  return Number.isInteger(days) && days >= 1 && days <= MAX_HISTORY_DAYS ? days : undefined;
}

export function keepLabel(days: number | null): string {
  if (days === null) return 'Forever (default)';
  return days === 1 ? '1 day' : `${days} days`;
}

/** The choices, with `current` among them when it is not one of the usual ones. */
export function keepChoices(current: number | null): (number | null)[] {
  if (KEEP_CHOICES.includes(current)) return [...KEEP_CHOICES];
  const days = [...KEEP_CHOICES.filter((choice): choice is number => choice !== null), current as number];
  return [null, ...days.sort((a, b) => a - b)];
}

/** What the setting does, in one or two sentences for the hint under the control. */
export function describeKeep(days: number | null): string {
  if (days === null) return 'Forever: past questions stay on this device until you delete them.';
  return (
    `Questions asked more than ${keepLabel(days)} ago are deleted from this device when Chorus starts and once a day while it runs. ` +
    'Choosing this deletes the older ones now.'
  );
}

/** "1 past question", "3 past questions". */
export function countQuestions(count: number): string {
  return `${count} past question${count === 1 ? '' : 's'}`;
}
