// The house rule of DESIGN.md: dependencies point down only. Every import in src/ is read and its
// layer compared with the importer's; a higher layer imported from a lower one fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../../src');

/** Rank of each top-level folder of src/: a module may import its own rank or lower. */
const RANK: Record<string, number> = {
  util: 0,
  machine: 1,
  mm: 2,
  sync: 2,
  gpu: 3,
  flash: 3,
  lab: 4,
  cli: 5,
  web: 5,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function layerOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes('/') ? (rel.split('/')[0] ?? '') : '(root)';
}

test('every folder of src/ has a rank', () => {
  for (const name of readdirSync(SRC)) {
    if (statSync(join(SRC, name)).isDirectory()) assert.ok(name in RANK, `src/${name} has no rank in this test`);
  }
});

test('dependencies point down only', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const from = layerOf(file);
    if (from === '(root)') continue; // src/index.ts is the public face and may re-export any layer
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), match[1] ?? '');
      const to = layerOf(target);
      if ((RANK[to] ?? 99) > (RANK[from] ?? -1)) violations.push(`${relative(SRC, file)} (${from}) imports ${relative(SRC, target)} (${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the checker itself catches an upward import', () => {
  const from = layerOf(join(SRC, 'machine/ram.ts'));
  const to = layerOf(resolve(SRC, 'machine', '../mm/kernel.ts'));
  assert.ok((RANK[to] ?? 0) > (RANK[from] ?? 0));
});
