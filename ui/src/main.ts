import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { insideTauri } from './lib/api';
import { createMockApi } from './lib/mock';
import { createTauriApi } from './lib/tauri';

// Inside the Tauri shell the node answers; in a plain browser (development)
// the mock does, keeping its settings in localStorage.
const tauri = insideTauri();
const api = tauri ? createTauriApi() : createMockApi({ store: window.localStorage });

mount(App, { target: document.getElementById('app') as HTMLElement, props: { api, demo: !tauri } });
