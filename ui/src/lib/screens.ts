/** The app's main screens, as the navigation and the URL hash name them. */
export type Screen = 'chat' | 'models' | 'network' | 'settings';

export const SCREENS: readonly Screen[] = ['chat', 'models', 'network', 'settings'];

export function screenFromHash(hash: string): Screen | null {
  const name = hash.replace(/^#\/?/, '');
  return (SCREENS as readonly string[]).includes(name) ? (name as Screen) : null;
}
