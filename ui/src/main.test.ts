import { screen } from '@testing-library/svelte';
import { expect, it } from 'vitest';

// main.ts loads the mock only in development (and here: Vitest runs with
// `import.meta.env.DEV` true); the production build leaves it out.
it('mounts the app on the mock, with the demo badge, in a plain browser during development', async () => {
  expect(import.meta.env.DEV).toBe(true);
  document.body.innerHTML = '<div id="app"></div>';
  await import('./main');
  expect(await screen.findByTestId('demo-badge')).toHaveTextContent('Demo data');
  expect(await screen.findByRole('heading', { name: 'Welcome to Chorus' })).toBeInTheDocument();
});
