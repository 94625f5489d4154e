#!/usr/bin/env node
// The `kmem` command, from the compiled library in dist/. On a fresh clone (no node_modules, no
// dist/) it first runs the setup step (scripts/setup.mjs: npm dependencies, then the build), saying
// so on stderr; an installed package ships dist/ and skips this.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry)) || !existsSync(`${root}/node_modules/vega`)) {
  const setup = fileURLToPath(new URL('../scripts/setup.mjs', import.meta.url));
  if (!existsSync(setup)) {
    process.stderr.write('kmem: dist/ is missing and there is no scripts/setup.mjs to build it: reinstall the package\n');
    process.exit(1);
  }
  process.stderr.write('kmem: first run: setting up (npm dependencies, build) with scripts/setup.mjs\n');
  const result = spawnSync(process.execPath, [setup], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    process.stderr.write('kmem: the setup step failed (see above); run `npm run setup` in the kmem directory and try again\n');
    process.exit(1);
  }
}
// Output piped into `head` that closed early: stop quietly, as git and node do.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { cli } = await import(entry.href);
process.exitCode = await cli(process.argv.slice(2));
