/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// The mock API (src/lib/mock.ts, mock-*.ts and its scripted scenarios) is for
// development and tests only: main.ts loads it under `import.meta.env.DEV`.
// The production build, which the app embeds, fails if anything pulls it in.
const MOCK_MODULES = /\/src\/lib\/(mock|mock-[\w-]+|scenarios)\.ts$/;

function noMockInProduction(): Plugin {
  return {
    name: 'chorus:no-mock-in-production',
    apply: 'build',
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        const mock = chunk.type === 'chunk' ? Object.keys(chunk.modules).find((id) => MOCK_MODULES.test(id)) : undefined;
        if (mock) {
          this.error(`${chunk.fileName} contains ${mock}: the mock API is for development and tests only (import.meta.env.DEV)`);
        }
      }
    },
  };
}

// Static build into dist/ with relative asset paths, so the Tauri shell (or
// any file server) can load index.html from wherever it keeps it.
export default defineConfig({
  plugins: [svelte(), svelteTesting(), noMockInProduction()],
  base: './',
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: 'dist', target: 'es2021', emptyOutDir: true },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.ts'],
    include: ['src/**/*.test.ts'],
    reporters: ['default', './test-summary.ts'],
  },
});
