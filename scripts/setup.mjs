#!/usr/bin/env node
// Idempotent setup: the first step of `npm start`, `npm test`, `npm run bench` and `npm run fuzz`.
//
// Each step checks cheaply whether its work is already done and does it only when it is not. A step
// that cannot install what it needs says so, says why, and says what will not work without it; only
// the npm dependencies are fatal (nothing runs without them). Plain JavaScript with no dependencies:
// it runs before `npm ci` has installed anything.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './setup-chromium.mjs';
import { ensureLavapipe } from './setup-lavapipe.mjs';
import { libraryBuildDue, markLibraryBuilt } from './library-build.mjs';
import { nodeVersionProblem } from './node-version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
// --deps-only: just the npm dependencies (what `npm run kmem` needs before tsx exists).
const depsOnly = process.argv.includes('--deps-only');
const say = (line) => { if (!quiet) process.stderr.write(`setup: ${line}\n`); };

/** npm dependencies: `npm ci` whenever package-lock.json differs from what was last installed. */
function npmDependencies() {
  const lockPath = join(root, 'package-lock.json');
  const stampPath = join(root, 'node_modules', '.kmem-setup-stamp');
  const lock = existsSync(lockPath) ? readFileSync(lockPath) : null;
  const want = lock === null ? 'no-lock' : createHash('sha256').update(lock).digest('hex');
  if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === want) return;
  const args = lock === null ? ['install', '--no-audit', '--no-fund'] : ['ci', '--no-audit', '--no-fund'];
  say(`installing npm dependencies (npm ${args[0]})`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    process.stderr.write(`setup: FAILED: npm ${args[0]} exited with ${result.status}; nothing can run without the npm dependencies.\n`);
    process.exit(1);
  }
  const installed = existsSync(lockPath) ? createHash('sha256').update(readFileSync(lockPath)).digest('hex') : 'no-lock';
  writeFileSync(stampPath, installed);
}

/** The compiled library in dist/ (what `import 'kmem'` and bin/kmem.mjs load): rebuilt when src/ changed. */
function buildLibrary() {
  const newest = libraryBuildDue(root);
  if (newest === null) return;
  say('building the library into dist/ (tsc -p tsconfig.build.json)');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    process.stderr.write('setup: FAILED: the TypeScript build failed (see above); the examples and bin/kmem.mjs need dist/.\n');
    process.exit(1);
  }
  markLibraryBuilt(root, newest);
}

/** A WebGPU adapter for src/gpu: Mesa's lavapipe where there is no GPU (setup-lavapipe.mjs). Never fatal. */
function webgpuAdapter() {
  try {
    ensureLavapipe({ root, say });
  } catch (error) {
    say(`GPU: the lavapipe step failed (${error instanceof Error ? error.message : String(error)}); the GPU tests and scenario may not run`);
  }
}

/** Debian's chromium for the report screenshot (setup-chromium.mjs). Never fatal. */
function browser() {
  try {
    ensureChromium({ say });
  } catch (error) {
    say(`browser: the chromium step failed (${error instanceof Error ? error.message : String(error)}); the report screenshot test will be skipped`);
  }
}

const nodeProblem = nodeVersionProblem(process.versions.node);
if (nodeProblem !== null) {
  process.stderr.write(`setup: FAILED: ${nodeProblem}.\n`);
  process.exit(1);
}
npmDependencies();
if (!depsOnly) {
  buildLibrary();
  webgpuAdapter();
  browser();
}
