// The README's worker example runs as a new user would run it: plain Node, importing 'kmem'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

test('examples/shared-cache.mjs: two workers share one kernel', () => {
  const run = spawnSync(process.execPath, ['examples/shared-cache.mjs'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /worker 1: 100000 alloc\+free pairs, checksum 100000/);
  assert.match(run.stdout, /worker 2: 100000 alloc\+free pairs, checksum 200000/);
  assert.match(run.stdout, /^message +\d+ +\d+ +256 +16 +1 : tunables/m);
});
