// A library-only install (`npm install --omit=optional`: no @thi.ng/malloc, vega, vega-lite or webgpu),
// as README describes it: the library's entry points load, the kmem command works, and only what needs
// a missing package fails, with a one-line error naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const HOOK = resolve(ROOT, 'test/helpers/without-optional.mjs');

function node(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', HOOK, '--import', 'tsx', ...args], { cwd: ROOT, encoding: 'utf8' });
}

test('without the optional packages the library loads and every kmem command but the ones that need them works', () => {
  const probe = node('-e', "import('vega').then(() => console.log('found'), (e) => console.log(e.code))");
  assert.equal(probe.stdout.trim(), 'ERR_MODULE_NOT_FOUND', 'the hook hides the optional packages');
  const entries = node('-e', "Promise.all(['./src/index.ts', './src/flash.ts', './src/gpu.ts', './src/node.ts'].map((p) => import(p))).then(() => console.log('loaded'))");
  assert.equal(entries.stdout.trim(), 'loaded', entries.stderr);
  const list = node('src/cli/main.ts', 'list');
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /message-queue/);
  const run = node('src/cli/main.ts', 'run', 'buddy-fragmentation', '--smoke', '-q');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /Answer:/);
  const mq = node('src/cli/main.ts', 'run', 'message-queue', '--smoke', '-q');
  assert.notEqual(mq.status, 0);
  assert.match(mq.stderr, /^kmem: the general-purpose allocator \(MemPool\) comparison needs the optional package @thi\.ng\/malloc, which is not installed \(Cannot find package '@thi\.ng\/malloc'[^\n]*\); expected it installed: npm install without --omit=optional\n$/);
});
