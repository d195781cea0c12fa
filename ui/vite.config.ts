import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// The build goes into the Python package, which serves it at / (server/ui.py).
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: '../src/errorscope/server/static',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:5151', '/media': 'http://127.0.0.1:5151' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
