import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HotColdWorkload, OpBatch, SequentialWorkload, UniformWorkload, ZipfWorkload } from '../../src/flash/workload.ts';
import { InPlaceStore } from '../../src/flash/in-place.ts';
import { LogicalAddressError } from '../../src/flash/errors.ts';
import { NandDevice } from '../../src/machine/nand.ts';

function histogram(w: { next(b: OpBatch): number }, pages: number, batches: number): Float64Array {
  const h = new Float64Array(pages);
  const batch = new OpBatch(4096);
  for (let i = 0; i < batches; i++) {
    const n = w.next(batch);
    for (let k = 0; k < n; k++) h[batch.lpn[k] as number]!++;
  }
  return h;
}

test('uniform covers the space evenly; sequential wraps', () => {
  const h = histogram(new UniformWorkload(100, 1), 100, 10);
  for (const n of h) assert.ok(n > 300 && n < 520, `${n}`);
  const batch = new OpBatch(8);
  const seq = new SequentialWorkload(5, 3);
  seq.next(batch);
  assert.deepEqual(Array.from(batch.lpn), [3, 4, 0, 1, 2, 3, 4, 0]);
});

test('hot/cold r/f sends a fraction r of the writes to a fraction f of the pages, hinting hot ones', () => {
  const w = new HotColdWorkload(1000, 0.9, 0.1, 2);
  const batch = new OpBatch(20000);
  w.next(batch);
  let hot = 0;
  for (let i = 0; i < batch.count; i++) {
    const isHot = (batch.lpn[i] as number) < 100;
    assert.equal(batch.temperature[i], isHot ? 1 : 0);
    if (isHot) hot++;
  }
  assert.ok(Math.abs(hot / batch.count - 0.9) < 0.01, `${hot / batch.count}`);
  assert.throws(() => new HotColdWorkload(10, 1.5, 0.1, 1), /expected r in \[0, 1\]/);
});

test('Zipf: rank k has probability ∝ 1/k^s', () => {
  const h = histogram(new ZipfWorkload(1000, 1, 3), 1000, 25);
  const sorted = Array.from(h).sort((a, b) => b - a);
  const ratio = (sorted[0] as number) / (sorted[1] as number);
  assert.ok(ratio > 1.8 && ratio < 2.2, `rank 1 / rank 2 = ${ratio}, expected 2`);
  const harmonic = Array.from({ length: 1000 }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b);
  assert.ok(Math.abs((sorted[0] as number) / (25 * 4096) - 1 / harmonic) < 0.01);
});

test('the in-place baseline: reads back what it wrote, refuses pages out of range', () => {
  const device = NandDevice.create({ geometry: { blocks: 4, pagesPerBlock: 4, pageBytes: 8, spareBytes: 8 } });
  const store = new InPlaceStore(device, 14);
  const out = new Uint8Array(2);
  store.write(5, Uint8Array.of(1, 2));
  store.write(4, Uint8Array.of(3, 4));
  store.write(5, Uint8Array.of(5, 6));
  assert.ok(store.read(5, out));
  assert.deepEqual(out, Uint8Array.of(5, 6));
  assert.ok(store.read(4, out));
  assert.deepEqual(out, Uint8Array.of(3, 4), 'the rewrite kept the block\'s other page');
  assert.equal(store.stats().blockRewrites, 2, 'both updates of programmed pages rewrote the block');
  assert.equal(store.stats().fillerPrograms, 1, 'page 4 was programmed empty to reach page 5 in order');
  store.trim(4);
  assert.equal(store.read(4, out), false);
  assert.throws(() => store.write(14), LogicalAddressError);
  assert.throws(() => new InPlaceStore(device, 17), /expected an integer in \[1, 16\]/);
  store.validate();
});

test('the in-place baseline: a TRIM that runs past the last page throws and trims nothing', () => {
  const device = NandDevice.create({ geometry: { blocks: 4, pagesPerBlock: 4, pageBytes: 8, spareBytes: 8 } });
  const store = new InPlaceStore(device, 14);
  const out = new Uint8Array(2);
  for (const lpn of [12, 13]) store.write(lpn, Uint8Array.of(lpn, 1));
  assert.throws(() => store.trim(13, 3), LogicalAddressError);
  assert.ok(store.read(13, out), 'page 13 is still there: the call that threw changed nothing');
  assert.deepEqual(out, Uint8Array.of(13, 1));
  assert.throws(() => store.trim(12, -1), LogicalAddressError);
  assert.throws(() => store.trim(12, 1.5), LogicalAddressError);
  assert.equal(store.stats().trims, 0);
  store.trim(12, 2);
  assert.equal(store.read(12, out) || store.read(13, out), false);
  assert.equal(store.stats().trims, 2);
  store.validate();
});
