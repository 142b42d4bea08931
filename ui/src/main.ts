import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { insideTauri } from './lib/api';
import { createTauriApi } from './lib/tauri';

// Inside the Tauri shell the node answers. In a plain browser the mock does
// (demo data, its settings in localStorage), but only in development
// (`npm run dev`): `import.meta.env.DEV` is false in the production build
// (`npm run build`, what the app embeds), so this branch and the chunk it
// imports are left out of dist/. The component tests import the mock
// themselves.
const target = document.getElementById('app') as HTMLElement;

if (insideTauri()) {
  mount(App, { target, props: { api: createTauriApi(), demo: false } });
} else if (import.meta.env.DEV) {
  void import('./lib/mock').then(({ createMockApi }) => {
    mount(App, { target, props: { api: createMockApi({ store: window.localStorage }), demo: true } });
  });
} else {
  target.textContent = 'Chorus runs inside its app: this build has no node to talk to (npm run dev shows demo data).';
}
