// Vite build of the operators' web UI: static files in dist/, served by the API at `/`.
// `npm run dev -w @sync-analyzer/web` proxies the API from SYNC_ANALYZER_URL (default :8080).
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const api = process.env.SYNC_ANALYZER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The API's CSP allows scripts from 'self' only: no inline polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: Object.fromEntries(['/api', '/health', '/admin', '/metrics'].map((p) => [p, { target: api, changeOrigin: false }])),
  },
});
