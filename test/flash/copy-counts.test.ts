// The page FTL's per-page copy counts: a byte each, with the rare count past 254 kept aside. Checked
// against a shadow of plain numbers through every operation, across the 254/255/256 boundary both
// ways, and in the FTL, where one page's copies pass 255 on a chip with large blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CopyCounts } from '../../src/flash/copy-counts.ts';
import { PageFtl } from '../../src/flash/ftl.ts';
import { NandDevice } from '../../src/machine/nand.ts';
import { InvariantError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';

test('copy counts follow a shadow across the byte boundary: inc, dec, add, validate after every step', () => {
  const counts = new CopyCounts(4);
  const shadow = [0, 0, 0, 0];
  const prng = new Prng(5);
  let saturatedSeen = 0;
  let crossedDown = 0;
  for (let i = 0; i < 20_000; i++) {
    const l = prng.int(4);
    const before = shadow[l]!;
    // Drift upwards for a while, then down, so every count crosses 255 in both directions.
    const up = i % 4000 < 2600;
    const r = prng.nextFloat();
    if (r < 0.45) {
      if (up || shadow[l] === 0) {
        counts.inc(l);
        shadow[l]!++;
      } else {
        counts.dec(l);
        shadow[l]!--;
      }
    } else if (r < 0.9 && shadow[l]! > 0) {
      if (up) {
        counts.inc(l);
        shadow[l]!++;
      } else {
        counts.dec(l);
        shadow[l]!--;
      }
    } else {
      const delta = prng.int(7) - 3;
      if (shadow[l]! + delta >= 0) {
        counts.add(l, delta);
        shadow[l]! += delta;
      }
    }
    counts.validate();
    for (let k = 0; k < 4; k++) assert.equal(counts.get(k), shadow[k], `step ${i}, page ${k}`);
    if (shadow.some((c) => c >= 255)) saturatedSeen++;
    if (before >= 255 && shadow[l]! < 255) crossedDown++;
  }
  assert.ok(saturatedSeen > 1000, `counts past 254 were exercised (${saturatedSeen} steps)`);
  assert.ok(crossedDown > 0, 'a count came back below 255');
});

test('a count cannot go below zero: InvariantError, nothing changed', () => {
  const counts = new CopyCounts(2);
  assert.throws(() => counts.dec(1), InvariantError);
  assert.equal(counts.get(1), 0);
  for (let i = 0; i < 255; i++) counts.inc(0);
  assert.throws(() => counts.add(0, -256), InvariantError);
  assert.equal(counts.get(0), 255);
  counts.validate();
});

test('in the FTL: one page written 600 times on a chip of 512-page blocks has 600 copies, and GC brings them back', () => {
  const device = NandDevice.create({ geometry: { blocks: 12, pagesPerBlock: 512, pageBytes: 16, spareBytes: 16 }, storePayload: false });
  const ftl = PageFtl.format(device, { logicalPages: 64, policy: 'fifo' });
  for (let i = 0; i < 600; i++) ftl.write(7);
  assert.equal(ftl.copies(7), 600);
  ftl.validate();
  for (let i = 0; i < 20_000; i++) ftl.write(i % 64);
  assert.ok(ftl.stats().gc.erases > 5, 'GC erased the blocks that held the copies');
  assert.ok(ftl.copies(7) < 255);
  ftl.trim(7);
  ftl.validate();
  const mounted = PageFtl.mount(NandDevice.over(device.buffer), { logicalPages: 64, policy: 'fifo' });
  assert.equal(mounted.copies(7), ftl.copies(7));
  mounted.validate();
});

test('in the FTL: copies() is counted from the first TRIM, mount or copies() call on, and then equals a count kept from the start', () => {
  const geometry = { blocks: 24, pagesPerBlock: 16, pageBytes: 16, spareBytes: 16 };
  const config = { logicalPages: 200, policy: 'greedy' as const };
  const lazy = PageFtl.format(NandDevice.create({ geometry, storePayload: false }), config);
  const eager = PageFtl.format(NandDevice.create({ geometry, storePayload: false }), config);
  eager.copies(0);
  const prng = new Prng(9);
  for (let i = 0; i < 3000; i++) {
    const l = prng.int(200);
    lazy.write(l);
    eager.write(l);
  }
  assert.ok(lazy.stats().gc.erases > 20, 'GC ran');
  assert.ok(lazy.copyCounts.low.every((c) => c === 0), 'a store that never trimmed counts nothing on its write path');
  lazy.validate();
  for (let l = 0; l < 200; l++) assert.equal(lazy.copies(l), eager.copies(l), `lpn ${l}`);
  assert.deepEqual(lazy.copyCounts.low, eager.copyCounts.low);
  // From now on both count as they go: TRIMs, whose tombstones GC keeps or drops by the counts.
  for (let i = 0; i < 3000; i++) {
    const l = prng.int(200);
    if (prng.chance(0.1)) {
      lazy.trim(l);
      eager.trim(l);
    } else {
      lazy.write(l);
      eager.write(l);
    }
  }
  assert.ok(lazy.tombstonesDropped > 0 && lazy.tombstoneWrites > 0);
  assert.deepEqual(lazy.copyCounts.low, eager.copyCounts.low);
  assert.deepEqual(lazy.stats(), eager.stats());
  lazy.validate();
  const trimmedFirst = PageFtl.format(NandDevice.create({ geometry, storePayload: false }), config);
  for (let l = 0; l < 200; l++) trimmedFirst.write(l);
  trimmedFirst.trim(3);
  assert.ok(trimmedFirst.copyCounts.low.some((c) => c > 0), 'the first TRIM counts them');
  trimmedFirst.validate();
});
