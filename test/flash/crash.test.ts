// Power cuts at random points — mid-program, mid-copy-back, mid-erase, mid-GC — on images in memory
// and in files: every acknowledged write survives, nothing older comes back (test/fuzz/flash-crash.ts).
// The long sweep (≥ 1000 cuts per store and image kind): npm run flash:crash-sweep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageFtl } from '../../src/flash/ftl.ts';
import { NandDevice, PageState, PowerLossError } from '../../src/machine/nand.ts';
import { crashSweep } from '../fuzz/flash-crash.ts';
import type { CrashSweepReport } from '../fuzz/flash-crash.ts';

function assertCoverage(r: CrashSweepReport, cuts: number): void {
  assert.equal(r.cuts, cuts);
  assert.equal(r.lost + r.stale, 0, JSON.stringify(r));
  assert.ok(r.acknowledgedChecked > 0);
  assert.ok((r.interrupted.erase ?? 0) > 0 && r.duringGc > 0, `cuts hit erases and GC: ${JSON.stringify(r)}`);
}

test('page store: 240 power cuts (200 in memory, 40 on file images), no acknowledged write lost', () => {
  let badBlocks = 0;
  for (const [image, cuts, seed] of [['memory', 200, 1], ['file', 40, 2]] as const) {
    const r = crashSweep({ seed, cuts, store: 'page', image });
    assertCoverage(r, cuts);
    assert.ok((r.interrupted['copy-back'] ?? 0) > 0, `cuts hit copy-backs: ${JSON.stringify(r)}`);
    badBlocks += r.badBlocks;
  }
  assert.ok(badBlocks > 0, 'blocks wore out on some images');
});

test('object store: 300 power cuts, every put and delete acknowledged by durableVersion survives', () => {
  let badBlocks = 0;
  for (const [image, cuts, seed] of [['memory', 260, 3], ['file', 40, 4]] as const) {
    const r = crashSweep({ seed, cuts, store: 'object', image });
    assertCoverage(r, cuts);
    assert.ok(r.implicitlyAcknowledged > 0, `acknowledgements by a full page buffer, not a flush, were checked: ${JSON.stringify(r)}`);
    badBlocks += r.badBlocks;
  }
  assert.ok(badBlocks > 0, 'blocks wore out on some images');
});

test("a TRIM whose tombstone shares a victim with its stale data stays trimmed when the victim's erase is cut", () => {
  // Block F holds lpn 0's data D, then its tombstone T, then pages overwritten since: T is F's only
  // live page, and D (stale) is still in F. GC must copy T before erasing F: an erase cut part-way
  // can leave D readable and T erased, and mount would then bring lpn 0 back.
  const config = { logicalPages: 40, policy: 'greedy', highWatermark: 15 } as const;
  let dangerous = 0;
  for (let seed = 0; seed < 120; seed++) {
    const device = NandDevice.create({ geometry: { blocks: 16, pagesPerBlock: 8, pageBytes: 8, spareBytes: 16 } });
    const ftl = PageFtl.format(device, config);
    ftl.write(0, Uint8Array.of(1));
    ftl.trim(0);
    const f = Math.floor(ftl.l2p(0) <= -2 ? (-2 - ftl.l2p(0)) / 8 : -1);
    for (let l = 1; l <= 6; l++) ftl.write(l);
    for (let l = 1; l <= 6; l++) ftl.write(l);
    assert.equal(ftl.table.valid[f], 1, 'the tombstone is the only live page of its block');
    const erase = device.eraseBlock.bind(device);
    device.eraseBlock = (block) => {
      assert.equal(block, f, 'the victim is the block of the TRIM');
      device.armPowerCut(1, seed);
      return erase(block);
    };
    assert.throws(() => ftl.idle(1), (e: unknown) => e instanceof PowerLossError && e.operation === 'erase');
    const again = NandDevice.over(device.buffer);
    if (again.pageState(f, 0) === PageState.Programmed && again.pageState(f, 1) === PageState.Erased) dangerous++;
    const mounted = PageFtl.mount(again, config);
    mounted.validate();
    assert.equal(mounted.read(0), false, `seed ${seed}: the trimmed page came back after the cut erase`);
  }
  assert.ok(dangerous > 0, 'some cuts left the stale data readable and the original tombstone erased');
});
