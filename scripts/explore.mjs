#!/usr/bin/env node
// `npm run explore`: the explorer (src/web) on Vite's dev server, on 127.0.0.1 only, cross-origin
// isolated so that worker CPUs can share the kernel. Prints the URL; Ctrl-C stops it. The report and
// `npm start` point at port 5173 (src/cli/report/html.ts EXPLORER_URL).
import { createServer } from 'vite';

const port = Number(process.env.KMEM_EXPLORE_PORT ?? 5173);
const server = await createServer({ configFile: new URL('../vite.config.ts', import.meta.url).pathname, server: { port }, logLevel: 'warn' });
await server.listen();
const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${port}/`;
console.log(`kmem explorer: ${url}`);
console.log('Open it in a browser (Chromium, Firefox); Ctrl-C stops the server.');
