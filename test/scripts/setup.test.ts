// The setup step itself (scripts/setup.mjs, scripts/library-build.mjs): each step is done only when
// its stamp says it is due, and a step that cannot do its work says so. Run on a copy of scripts/ in
// a temporary root, with a stand-in `npm` on PATH that records its calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { libraryBuildDue, markLibraryBuilt } from '../../scripts/library-build.mjs';
import { MIN_NODE, nodeVersionProblem } from '../../scripts/node-version.mjs';

const ROOT = resolve(import.meta.dirname, '../..');

/** A root with scripts/, a package-lock.json and node_modules/, and a bin/ holding a stand-in npm. */
function sandbox(t: { after: (fn: () => void) => void }): { root: string; calls: string; run: (npmStatus: number) => ReturnType<typeof spawnSync> } {
  const root = mkdtempSync(join(tmpdir(), 'kmem-setup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(ROOT, 'scripts'), join(root, 'scripts'), { recursive: true });
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3}\n');
  mkdirSync(join(root, 'node_modules'));
  mkdirSync(join(root, 'bin'));
  const calls = join(root, 'npm-calls');
  const npm = join(root, 'bin', 'npm');
  writeFileSync(npm, `#!/bin/sh\necho "$@" >> '${calls}'\nexit "$NPM_STATUS"\n`);
  chmodSync(npm, 0o755);
  const run = (npmStatus: number): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [join(root, 'scripts', 'setup.mjs'), '--deps-only'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH ?? ''}`, NPM_STATUS: String(npmStatus) },
    });
  return { root, calls, run };
}

test('setup --deps-only runs npm ci when the lock file changed, writes its stamp, and is silent and npm-free after', { skip: process.platform === 'win32' }, (t) => {
  const { root, calls, run } = sandbox(t);
  const first = run(0);
  assert.equal(first.status, 0, String(first.stderr));
  assert.match(String(first.stderr), /setup: installing npm dependencies \(npm ci\)/);
  assert.equal(readFileSync(calls, 'utf8').trim(), 'ci --no-audit --no-fund');
  const lockHash = createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
  assert.equal(readFileSync(join(root, 'node_modules', '.kmem-setup-stamp'), 'utf8'), lockHash);
  const second = run(0);
  assert.equal(second.status, 0);
  assert.equal(String(second.stderr), '', 'nothing to do, nothing said');
  assert.equal(readFileSync(calls, 'utf8').trim().split('\n').length, 1, 'npm not run again');
  // A changed lock file is installed again.
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}\n');
  assert.equal(run(0).status, 0);
  assert.equal(readFileSync(calls, 'utf8').trim().split('\n').length, 2);
});

test('setup says why it stops when npm fails, exits 1, and writes no stamp', { skip: process.platform === 'win32' }, (t) => {
  const { root, run } = sandbox(t);
  const failed = run(3);
  assert.equal(failed.status, 1);
  assert.match(String(failed.stderr), /setup: FAILED: npm ci exited with 3; nothing can run without the npm dependencies\./);
  assert.equal(existsSync(join(root, 'node_modules', '.kmem-setup-stamp')), false);
});

test('the library build is due until dist/ is stamped with the newest source, and again once a source is newer', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kmem-build-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'src', 'mm'), { recursive: true });
  mkdirSync(join(root, 'dist'));
  const old = join(root, 'src', 'a.ts');
  const nested = join(root, 'src', 'mm', 'b.ts');
  writeFileSync(old, '');
  writeFileSync(nested, '');
  utimesSync(old, 1_000, 1_000);
  utimesSync(nested, 2_000, 2_000);
  const newest = libraryBuildDue(root);
  assert.equal(newest, 2_000_000, 'no stamp: due, named by the newest file (nested ones included)');
  markLibraryBuilt(root, newest);
  assert.equal(libraryBuildDue(root), null, 'stamped: current');
  utimesSync(old, 3_000, 3_000);
  assert.equal(libraryBuildDue(root), 3_000_000, 'a source newer than the stamp: due again');
});

test('setup refuses a Node.js older than the one kmem needs, and package.json says the same', () => {
  assert.equal(nodeVersionProblem(process.versions.node), null, 'this Node.js');
  assert.equal(nodeVersionProblem('20.16.0'), null);
  assert.equal(nodeVersionProblem('22.1.0'), null);
  assert.match(nodeVersionProblem('20.15.1') ?? '', /needs Node\.js 20\.16\.0 or later.*this is 20\.15\.1/);
  assert.match(nodeVersionProblem('18.20.0') ?? '', /needs Node\.js/);
  assert.match(nodeVersionProblem('banana') ?? '', /not a version number/);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, `>=${MIN_NODE}`);
  // The kernel's reason for the floor: the API it reads the host's CPUs and thread ids through.
  assert.equal(typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule, 'function');
});
