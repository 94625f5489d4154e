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

test('Prng: sample() draws distinct elements in draw order, the front of a Fisher–Yates shuffle; shuffle() permutes in place from the back', () => {
  const items = Array.from({ length: 50 }, (_, i) => i * 3);
  const picked = new Prng(9).sample(items, 20);
  assert.equal(picked.length, 20);
  assert.equal(new Set(picked).size, 20);
  assert.ok(picked.every((x) => items.includes(x)));
  assert.deepEqual(items, Array.from({ length: 50 }, (_, i) => i * 3), 'the input is left as it was');
  assert.deepEqual(new Prng(9).sample(items, 99).sort((a, b) => a - b), items, 'all of them when asked for more');
  assert.deepEqual(new Prng(9).sample(items, 0), []);
  // The draws: position i takes the element at i + int(n - i).
  const ref = new Prng(9);
  const pool = items.slice();
  const expected: number[] = [];
  for (let i = 0; i < 20; i++) {
    const pick = i + ref.int(pool.length - i);
    [pool[i], pool[pick]] = [pool[pick] as number, pool[i] as number];
    expected.push(pool[i] as number);
  }
  assert.deepEqual(picked, expected);

  const order = new Prng(4).shuffle(Int32Array.from({ length: 40 }, (_, i) => i));
  assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  assert.notDeepEqual([...order], Array.from({ length: 40 }, (_, i) => i));
  // The draws: from the back, position k swaps with int(k + 1).
  const back = new Prng(4);
  const list = Array.from({ length: 40 }, (_, i) => i);
  for (let k = list.length - 1; k > 0; k--) {
    const j = back.int(k + 1);
    [list[k], list[j]] = [list[j] as number, list[k] as number];
  }
  assert.deepEqual([...order], list);
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
