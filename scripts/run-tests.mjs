#!/usr/bin/env node
// Runs every test file under test/ (or the ones named) with node's test runner and tsx.
// Node 20's runner does not discover .ts files by itself, so the files are listed here.
// A test that runs past 5 minutes fails (a hung worker would otherwise hang CI until its limit).
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const named = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = (named.length > 0 ? named : ['test']).flatMap((name) =>
  statSync(join(root, name)).isDirectory() ? collect(join(root, name), []) : [name],
);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...flags, ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
