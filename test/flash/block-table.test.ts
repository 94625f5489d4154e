import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockState, BlockTable } from '../../src/flash/block-table.ts';
import { PageFtl } from '../../src/flash/ftl.ts';
import { ObjectStore } from '../../src/flash/object-store.ts';
import { createVictimPolicy, f2fsCbCost } from '../../src/flash/victim.ts';
import { NandDevice } from '../../src/machine/nand.ts';
import { InvariantError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';

function table(freeOrder: 'fifo' | 'least-worn', eraseCounts = new Uint32Array(8)): BlockTable {
  const t = new BlockTable({ blocks: 8, unitsPerBlock: 4, freeOrder, buckets: true, eraseCounts });
  for (let b = 0; b < 8; b++) t.addFree(b);
  return t;
}

test('the free pool hands out blocks in erase order (fifo) or least-erased first (least-worn)', () => {
  const fifo = table('fifo');
  assert.deepEqual([fifo.takeFree(), fifo.takeFree(), fifo.takeFree()], [0, 1, 2]);
  const counts = Uint32Array.from([5, 3, 9, 1, 7, 2, 8, 4]);
  const worn = table('least-worn', counts);
  assert.deepEqual(Array.from({ length: 4 }, () => worn.takeFree()), [3, 5, 1, 7]);
  worn.validate();
  assert.equal(worn.nrFree, 4);
  assert.equal(worn.takeMostWornFree(), 2, 'static levelling takes the most-erased free block (9 erases)');
  assert.equal(worn.takeFree(), 0, 'the rest still come least-erased first');
  worn.validate();
  const ring = table('fifo', counts);
  assert.deepEqual([ring.takeMostWornFree(), ring.takeMostWornFree(), ring.takeFree()], [2, 6, 0], 'the head takes the place of each block taken');
  ring.validate();
});

test('closing, invalidating and choosing victims keep the buckets, age list and closed set exact', () => {
  const t = table('fifo');
  const clock = { now: 0 };
  for (let i = 0; i < 6; i++) {
    const b = t.takeFree();
    t.valid[b] = 4;
    t.close(b, clock.now++);
  }
  t.invalidate(3);
  t.invalidate(3);
  t.invalidateUnits(5, 3);
  t.validate();
  assert.equal(t.fewestValid(), 5);
  assert.equal(t.ageHead, 0);
  const greedy = createVictimPolicy('greedy', { seed: 1 });
  const fifo = createVictimPolicy('fifo', { seed: 1 });
  const dChoices = createVictimPolicy('d-choices', { seed: 1, d: 64 });
  const costBenefit = createVictimPolicy('cost-benefit', { seed: 1 });
  assert.equal(greedy.select(t, 10), 5);
  assert.equal(fifo.select(t, 10), 0);
  assert.equal(dChoices.select(t, 10), 5, 'with many samples d-choices finds the emptiest');
  assert.equal(costBenefit.select(t, 10), 5, 'equal ages: the emptiest wins');
  t.open(5);
  assert.equal(t.state[5], BlockState.Open);
  assert.equal(t.fewestValid(), 3);
  t.requeue(0, 20);
  assert.equal(t.ageHead, 1);
  t.validate();
  assert.deepEqual(t.validHistogram(), [0, 0, 1, 0, 4]);
});

test('cost-benefit weighs age: an old, fuller block beats a young, emptier one', () => {
  const t = table('fifo');
  const old = t.takeFree();
  t.valid[old] = 3;
  t.youngest[old] = 0;
  t.close(old, 0);
  const young = t.takeFree();
  t.valid[young] = 2;
  t.youngest[young] = 990;
  t.close(young, 990);
  // (1 − 0.75)·1000/1.75 = 142.9 vs (1 − 0.5)·10/1.5 = 3.3
  assert.equal(createVictimPolicy('cost-benefit', { seed: 1 }).select(t, 1000), old);
  assert.equal(createVictimPolicy('greedy', { seed: 1 }).select(t, 1000), young);
  t.mtime[old] = 0;
  t.mtime[young] = 990;
  assert.equal(createVictimPolicy('f2fs-cb', { seed: 1 }).select(t, 1000), old);
});

test("f2fs-cb: F2FS's get_cb_cost() in its integer arithmetic", () => {
  const UINT_MAX = 0xffffffff;
  // gc.c: u = vblocks·100 >> log_blocks_per_seg; age = 100 − 100·(mtime − min)/(max − min);
  // cost = UINT_MAX − 100·(100 − u)·age/(100 + u), every division truncating.
  assert.equal(f2fsCbCost(128, 512, 300, 100, 1100), UINT_MAX - 4800, 'u 25, age 80: 600000/125');
  assert.equal(f2fsCbCost(300, 512, 1000, 100, 1100), UINT_MAX - 265, 'u 58 (58.6), age 10: 42000/158 = 265.8');
  assert.equal(f2fsCbCost(0, 512, 100, 100, 1100), UINT_MAX - 10000, 'empty and oldest');
  assert.equal(f2fsCbCost(512, 512, 100, 100, 1100), UINT_MAX, 'full: no benefit');
  assert.equal(f2fsCbCost(10, 512, 500, 500, 500), UINT_MAX, 'no age range: age 0');
});

test("f2fs-cb: update_segment_mtime() on the written block and on the block an overwrite invalidates", () => {
  // segment.c: mtime = (mtime·valid + t) / (valid + 1) (div_u64), valid as before the change.
  const t = table('fifo');
  const b = t.takeFree();
  t.valid[b] = 1;
  t.addMtime(b, 100, 1);
  assert.equal(t.mtime[b], 100, 'the first write sets it');
  t.valid[b] = 2;
  t.addMtime(b, 201, 1);
  assert.equal(t.mtime[b], 150, '(100·1 + 201) / 2 = 150.5, truncated');
  t.touchMtime(b, 300, 1);
  assert.equal(t.mtime[b], 200, 'an overwrite elsewhere: (150·2 + 300) / 3');

  // Two closed blocks of 4 units, both written at time 0. At 1000 host overwrites invalidate two of
  // Y's three valid units. Y is emptier, but its data is still being updated: F2FS prefers X.
  const u = table('fifo');
  const x = u.takeFree();
  const y = u.takeFree();
  u.valid[x] = 2;
  u.valid[y] = 3;
  u.close(x, 0);
  u.close(y, 0);
  for (let k = 0; k < 2; k++) {
    u.touchMtime(y, 1000, 1);
    u.invalidate(y);
  }
  assert.equal(u.mtime[y], 500, '(0·3 + 1000)/4 = 250, then (250·2 + 1000)/3 = 500');
  // X: u 50, age 100, benefit 100·50·100/150 = 3333; Y: u 25, age 50, benefit 100·75·50/125 = 3000.
  assert.equal(f2fsCbCost(2, 4, 0, 0, 1000), 0xffffffff - 3333);
  assert.equal(f2fsCbCost(1, 4, 500, 0, 1000), 0xffffffff - 3000);
  assert.equal(createVictimPolicy('f2fs-cb', { seed: 1 }).select(u, 1000), x);
  u.mtime[y] = 0;
  assert.equal(createVictimPolicy('f2fs-cb', { seed: 1 }).select(u, 1000), y, 'without the invalidation update Y would look old and win');
});

test('f2fs-cb bookkeeping in the stores: a host overwrite or delete ages the old block, GC copies take the time of the copy', () => {
  const device = NandDevice.create({ geometry: { blocks: 32, pagesPerBlock: 8, pageBytes: 8, spareBytes: 16 } });
  const ftl = PageFtl.format(device, { logicalPages: 200, policy: 'f2fs-cb' });
  for (let l = 0; l < 100; l++) ftl.write(l);
  const a = Math.floor(ftl.l2p(0) / 8);
  const before = ftl.table.mtime[a] as number;
  const now = device.programs + device.copybacks;
  ftl.write(0);
  assert.equal(ftl.table.mtime[a], Math.floor((before * 8 + now) / 9), 'the overwritten block: (mtime·8 + now) / 9');
  const b5 = Math.floor(ftl.l2p(5) / 8);
  const [mtime5, valid5] = [ftl.table.mtime[b5] as number, ftl.table.valid[b5] as number];
  const trimAt = device.programs + device.copybacks;
  ftl.trim(5);
  assert.equal(ftl.table.mtime[b5], Math.floor((mtime5 * valid5 + trimAt) / (valid5 + 1)), 'a TRIM too');

  // GC copies (to a separate GC frontier) average in the time of the copy, not the victim's mtime: a
  // GC block's mtime is at least the sequence number of its first page (its first copy).
  const gcChip = NandDevice.create({ geometry: { blocks: 32, pagesPerBlock: 8, pageBytes: 8, spareBytes: 16 } });
  const gcFtl = PageFtl.format(gcChip, { logicalPages: 160, policy: 'f2fs-cb', gcFrontier: 'separate' });
  for (let l = 0; l < 160; l++) gcFtl.write(l);
  const prng = new Prng(3);
  for (let i = 0; i < 600; i++) gcFtl.write(prng.int(160));
  let gcBlocks = 0;
  for (let b = 0; b < 32; b++) {
    if (gcFtl.table.stream[b] !== gcFtl.gcStream || gcFtl.table.state[b] !== BlockState.Closed) continue;
    gcBlocks++;
    const firstCopy = gcChip.spareWords[b * 8 * 4 + 2] as number;
    assert.ok((gcFtl.table.mtime[b] as number) >= firstCopy, `GC block ${b}: mtime ${gcFtl.table.mtime[b]}, first copy at ${firstCopy}`);
  }
  assert.ok(gcFtl.gcCopies > 0 && gcBlocks > 0, `${gcFtl.gcCopies} GC copies in ${gcBlocks} blocks`);

  const chip = NandDevice.create({ geometry: { blocks: 24, pagesPerBlock: 8, pageBytes: 256, spareBytes: 16 } });
  const store = ObjectStore.format(chip, { maxObjects: 64, policy: 'f2fs-cb' });
  const first = store.table.state.indexOf(BlockState.Open);
  for (let id = 0; id < 64; id++) store.put(id, new Uint8Array(40));
  const [mtime, valid] = [store.table.mtime[first] as number, store.table.valid[first] as number];
  const at = chip.programs;
  store.delete(0);
  assert.equal(store.table.mtime[first], Math.floor((mtime * valid + at * 8) / (valid + 8)), 'a delete: (mtime·v + now·8 units) / (v + 8), object 0 a 64-byte record in the first block');
});

test('validate() catches a corrupted table', () => {
  const t = table('fifo');
  const b = t.takeFree();
  t.valid[b] = 2;
  t.close(b, 0);
  t.valid[b] = 3;
  assert.throws(() => t.validate(), InvariantError);
  t.valid[b] = 2;
  t.validate();
  t.state[7] = BlockState.Closed;
  assert.throws(() => t.validate(), InvariantError);
});

test('policy options are checked', () => {
  assert.throws(() => createVictimPolicy('d-choices', { seed: 1, d: 0 }), /positive integer/);
  assert.throws(() => createVictimPolicy('f2fs-cb', { seed: 1, maxSearch: -1 }), /positive integer/);
  assert.throws(() => createVictimPolicy('oldest' as 'fifo', { seed: 1 }), /expected one of/);
});

test("F2FS's mtime average for one unit (addMtime, addMtimeEach) is ⌊(mtime·v + t) / (v + 1)⌋ exactly, division skipped or not", () => {
  const t = new BlockTable({ blocks: 1, unitsPerBlock: 128, freeOrder: 'fifo', buckets: false, eraseCounts: new Uint32Array(1) });
  const prng = new Prng(16);
  let skipped = 0;
  for (let i = 0; i < 20_000; i++) {
    const v = prng.int(128);
    // Times near the mtime (the quotient 0: no division), far after it, and before it.
    const m = prng.int(1 << 30);
    const spread = prng.pick([v + 1, 1000, 1 << 24]);
    const now = Math.max(0, m - spread + prng.int(3 * spread));
    if (v > 0 && now - m >= 0 && now - m <= v) skipped++;
    t.mtime[0] = m;
    t.valid[0] = v + 1;
    t.addMtime(0, now, 1);
    assert.equal(t.mtime[0], v === 0 ? now : Math.floor((m * v + now) / (v + 1)), `mtime ${m}, ${v} units, a unit at ${now}`);
    const run = 1 + prng.int(8);
    t.mtime[0] = m;
    t.valid[0] = v + run;
    t.addMtimeEach(0, now, run);
    let expected = m;
    for (let j = 0; j < run; j++) expected = v + j <= 0 ? now + j : Math.floor((expected * (v + j) + now + j) / (v + j + 1));
    assert.equal(t.mtime[0], expected, `mtime ${m}, ${v} units, ${run} units from ${now}`);
  }
  assert.ok(skipped > 1000, `the case without a division was drawn ${skipped} times`);
});
