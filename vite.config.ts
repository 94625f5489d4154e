// The explorer (src/web) served by Vite. Cross-origin isolation (COOP + COEP) lets the page make a
// SharedArrayBuffer, so that Web Workers can attach to the same kernel as the page.
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: 'src/web',
  clearScreen: false,
  server: { host: '127.0.0.1', headers: isolation, strictPort: false },
  preview: { host: '127.0.0.1', headers: isolation },
  worker: { format: 'es' },
  build: { outDir: '../../dist-web', emptyOutDir: true, target: 'es2022' },
});
