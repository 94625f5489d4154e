import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/util/prng.ts';
import { formatBytes, parseSizeBytes } from '../../src/util/units.ts';
import { MinHeap } from '../../src/util/min-heap.ts';
import { ArgumentError } from '../../src/util/errors.ts';

test('Prng: same seed, same stream; different seeds, different streams', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  assert.deepEqual(sa, Array.from({ length: 8 }, () => b.nextU32()));
  assert.notDeepEqual(sa, Array.from({ length: 8 }, () => c.nextU32()));
});

test('Prng: int(n) is uniform enough and in range', () => {
  const prng = new Prng(7);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const v = prng.int(10);
    assert.ok(v >= 0 && v < 10);
    counts[v] = (counts[v] ?? 0) + 1;
  }
  for (const count of counts) assert.ok(Math.abs(count - 10_000) < 500, `bucket ${count}`);
});

test('Prng: weighted() follows the weights', () => {
  const prng = new Prng(3);
  let hits = 0;
  for (let i = 0; i < 100_000; i++) if (prng.weighted([1, 3]) === 1) hits++;
  assert.ok(Math.abs(hits / 100_000 - 0.75) < 0.01);
});

test('parseSizeBytes reads units and refuses garbage', () => {
  assert.equal(parseSizeBytes('256MiB'), 256 * 1024 * 1024);
  assert.equal(parseSizeBytes('4 KiB'), 4096);
  assert.equal(parseSizeBytes('2M'), 2 * 1024 * 1024);
  assert.equal(parseSizeBytes('1GB'), 1e9);
  assert.equal(parseSizeBytes('4096'), 4096);
  assert.equal(parseSizeBytes(8192), 8192);
  assert.throws(() => parseSizeBytes('12 parsecs'), ArgumentError);
  assert.throws(() => parseSizeBytes('1.5'), ArgumentError);
  assert.throws(() => parseSizeBytes(-1), ArgumentError);
  assert.equal(formatBytes(64 << 20), '64 MiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
});

test('MinHeap pops in key order, across growth', () => {
  const heap = new MinHeap(2);
  const prng = new Prng(1);
  const keys: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const key = prng.nextFloat();
    keys.push(key);
    heap.push(key, i);
  }
  const sorted = keys.map((k, i) => [k, i] as const).sort((x, y) => x[0] - y[0]);
  for (const [key, index] of sorted) {
    assert.equal(heap.peekKey(), key);
    assert.equal(heap.pop(), index);
  }
  assert.equal(heap.size, 0);
  assert.equal(heap.peekKey(), Infinity);
});

test('MinHeap.popMax removes the largest key and keeps the heap ordered', () => {
  const heap = new MinHeap(4);
  const prng = new Prng(2);
  const live = new Map<number, number>();
  for (let i = 0; i < 500; i++) {
    const key = prng.int(100);
    heap.push(key, i);
    live.set(i, key);
    if (i % 3 === 2) {
      const max = Math.max(...live.values());
      const value = heap.popMax();
      assert.equal(live.get(value), max, 'a largest key comes out');
      live.delete(value);
    }
  }
  const rest = [...live.values()].sort((a, b) => a - b);
  for (const key of rest) {
    assert.equal(heap.peekKey(), key);
    live.delete(heap.pop());
  }
  assert.equal(heap.size, 0);
});
