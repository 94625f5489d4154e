// Figures docs/slab.md quotes from docs/benchmarks.md: recomputed from the table it names, so that
// the prose cannot drift from the measurement (it said 2.0× and 76× after the table gave 1.7× and 8.2×).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const doc = (name: string): string => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

test('docs/slab.md quotes the two-worker figures of the benchmarks.md table it names', () => {
  const slab = doc('slab.md').replace(/\s+/g, ' ');
  const claim = /Two workers on one arena: in benchmarks\.md's table "([^"]+)", rows "([^"]+)", a pair costs ([\d.]+) ns with one worker and ([\d.]+) ns aggregate with two: ([\d.]+)× one worker's throughput, and ([\d.]+)× that of a slab behind a global lock \(([\d.]+) ns\)/.exec(slab);
  assert.ok(claim !== null, 'the two-worker sentence of docs/slab.md, "Speed"');
  const [, heading, group, one, two, speedup, againstLock, lock] = claim;
  const benchmarks = doc('benchmarks.md');
  const start = benchmarks.indexOf(`## ${heading}\n`);
  assert.ok(start >= 0, `benchmarks.md has the section "${heading}"`);
  const end = benchmarks.indexOf('\n## ', start + 1);
  const section = benchmarks.slice(start, end < 0 ? undefined : end);
  const ns = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells[1] === group) ns.set(cells[2]!, cells[3]!);
  }
  assert.equal(ns.get('kmem cache, 1 worker'), one);
  assert.equal(ns.get('kmem cache, 2 workers'), two);
  assert.equal(ns.get('baseline: one slab behind a global Atomics lock, 2 workers'), lock);
  assert.equal((Number(one) / Number(two)).toFixed(1), speedup);
  assert.equal((Number(lock) / Number(two)).toFixed(1), againstLock);
});
