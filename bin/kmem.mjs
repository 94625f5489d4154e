#!/usr/bin/env node
// The `kmem` command, from the compiled library in dist/. On a fresh clone (no node_modules, no
// dist/), or in a checkout whose src/ changed since the last build, it first runs the setup step
// (scripts/setup.mjs: npm dependencies, then the build), saying so on stderr; an installed package
// ships dist/ and skips this.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = new URL('../dist/cli/main.js', import.meta.url);
const setup = fileURLToPath(new URL('../scripts/setup.mjs', import.meta.url));
// In a checkout (scripts/ is not in the package), sources changed since the last build make dist/ stale.
const libraryBuild = fileURLToPath(new URL('../scripts/library-build.mjs', import.meta.url));
const stale = existsSync(libraryBuild) && existsSync(fileURLToPath(entry)) && (await import(libraryBuild)).libraryBuildDue(root) !== null;
if (!existsSync(fileURLToPath(entry)) || !existsSync(`${root}/node_modules/vega`) || stale) {
  if (!existsSync(setup)) {
    process.stderr.write('kmem: dist/ is missing and there is no scripts/setup.mjs to build it: reinstall the package\n');
    process.exit(1);
  }
  process.stderr.write(stale ? 'kmem: src/ changed since the last build: rebuilding dist/ with scripts/setup.mjs\n' : 'kmem: first run: setting up (npm dependencies, build) with scripts/setup.mjs\n');
  // The setup's output (npm's included) goes to stderr: stdout is the command's, which may be JSON in a pipe.
  const result = spawnSync(process.execPath, [setup], { cwd: root, stdio: ['ignore', 2, 'inherit'] });
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
