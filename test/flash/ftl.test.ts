import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockState } from '../../src/flash/block-table.ts';
import { FlashConfigError, FlashFullError, FlashMountError, LogicalAddressError } from '../../src/flash/errors.ts';
import { PageFtl } from '../../src/flash/ftl.ts';
import { drive, gcTestbed, logicalPagesFor } from '../../src/flash/steady-state.ts';
import { HotColdWorkload, SequentialWorkload, UniformWorkload } from '../../src/flash/workload.ts';
import { VICTIM_POLICIES } from '../../src/flash/victim.ts';
import { NandDevice } from '../../src/machine/nand.ts';
import { ObjectStore } from '../../src/flash/object-store.ts';
import { Prng } from '../../src/util/prng.ts';
import { fuzzPageFtl } from '../fuzz/flash-fuzz.ts';

const GEOMETRY = { blocks: 32, pagesPerBlock: 8, pageBytes: 32, spareBytes: 16 };

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

test('write, read back, overwrite, trim; nothing is written in place', () => {
  const device = NandDevice.create({ geometry: GEOMETRY });
  const ftl = PageFtl.format(device, { logicalPages: 100 });
  const out = new Uint8Array(3);
  assert.equal(ftl.read(5, out), false, 'never written');
  ftl.write(5, bytes(1, 2, 3));
  const first = ftl.l2p(5);
  assert.ok(ftl.read(5, out));
  assert.deepEqual(out, bytes(1, 2, 3));
  ftl.write(5, bytes(4, 5, 6));
  assert.notEqual(ftl.l2p(5), first, 'the new version went to a new page');
  assert.equal(ftl.copies(5), 2, 'the stale copy stays on the chip until its block is erased');
  ftl.read(5, out);
  assert.deepEqual(out, bytes(4, 5, 6));
  ftl.trim(5);
  assert.equal(ftl.read(5, out), false);
  assert.ok(ftl.l2p(5) <= -2, 'a tombstone records the TRIM');
  ftl.trim(5);
  assert.equal(ftl.stats().tombstoneWrites, 1, 'trimming an unmapped page writes nothing');
  ftl.validate();
});

test('misuse: out-of-range pages, oversized data, over-committed or malformed configurations', () => {
  const device = NandDevice.create({ geometry: GEOMETRY });
  const ftl = PageFtl.format(device, { logicalPages: 100 });
  ftl.write(1, bytes(9));
  const programs = device.programs;
  assert.throws(() => ftl.write(100), (e: unknown) => e instanceof LogicalAddressError && e.lpn === 100);
  assert.throws(() => ftl.write(-1), LogicalAddressError);
  assert.throws(() => ftl.write(2.5), LogicalAddressError);
  assert.throws(() => ftl.read(100), LogicalAddressError);
  assert.throws(() => ftl.trim(99, 2), LogicalAddressError);
  assert.throws(() => ftl.write(1, new Uint8Array(33)), /at most a page/);
  assert.equal(device.programs, programs);
  ftl.validate();
  const fresh = () => NandDevice.create({ geometry: GEOMETRY });
  assert.throws(() => PageFtl.format(fresh(), { logicalPages: 32 * 8 }), FlashConfigError);
  assert.throws(() => PageFtl.format(fresh(), { logicalPages: 10, policy: 'lru' as 'fifo' }), /expected one of fifo, greedy/);
  assert.throws(() => PageFtl.format(fresh(), { logicalPages: 10, gcFrontier: 'separate', lowWatermark: 1 }), /lowWatermark 1: expected an integer ≥ 2/);
  assert.throws(() => PageFtl.format(fresh(), { logicalPages: 10, lowWatermark: 3, highWatermark: 2 }), /highWatermark/);
  assert.throws(() => PageFtl.format(NandDevice.create({ geometry: { ...GEOMETRY, spareBytes: 8 } }), { logicalPages: 10 }), /16 spare bytes/);
});

test('every victim policy, shared and separate GC frontiers: fuzzed against a shadow, validated every step', () => {
  for (const policy of VICTIM_POLICIES) {
    for (const gcFrontier of ['shared', 'separate'] as const) {
      const report = fuzzPageFtl({ seed: 17, ops: 1500, validateEvery: 1, config: { policy, gcFrontier, hostStreams: gcFrontier === 'shared' ? 1 : 2 } });
      assert.ok(report.writeAmplification >= 1, `${policy}/${gcFrontier}: WA ${report.writeAmplification}`);
    }
  }
  for (let seed = 1; seed <= 12; seed++) fuzzPageFtl({ seed, ops: 3000, validateEvery: 10 });
});

test('the victims GC takes: greedy the fewest valid pages of all closed blocks, FIFO the oldest it can clean', () => {
  for (const policy of ['greedy', 'fifo'] as const) {
    const ftl = gcTestbed(64, 16, logicalPagesFor(1.3, 64, 16, { policy }), { policy });
    const table = ftl.table;
    let victims = 0;
    ftl.victimObserver = (victim, kind) => {
      // At selection time the victim is still a closed block, in every index.
      assert.equal(kind, 'foreground');
      assert.equal(table.state[victim], BlockState.Closed);
      victims++;
      for (let i = 0; i < table.nrClosed; i++) {
        const b = table.closedList[i] as number;
        if (policy === 'greedy') assert.ok((table.valid[victim] as number) <= (table.valid[b] as number), `greedy took block ${victim} (${table.valid[victim]} valid) over block ${b} (${table.valid[b]})`);
        else if ((table.valid[b] as number) < table.unitsPerBlock) assert.ok((table.closedAt[victim] as number) <= (table.closedAt[b] as number), `FIFO took block ${victim} over the older block ${b}`);
      }
      if (policy === 'fifo') assert.equal(victim, table.ageHead, 'full blocks were moved to the young end (requeued), so the victim heads the list');
    };
    drive(ftl, new SequentialWorkload(ftl.logicalPages), ftl.logicalPages);
    drive(ftl, new UniformWorkload(ftl.logicalPages, 5), 3 * ftl.logicalPages);
    assert.ok(victims > 100, `${policy}: ${victims} victims observed`);
    if (policy === 'fifo') assert.ok(ftl.gcStats().passedOver > 0, 'FIFO passed over a full block (the requeue path ran)');
    ftl.validate();
  }
});

test('TRIM lowers write amplification: trimmed pages are not copied, and tombstones die with their data', () => {
  const run = (trimShare: number) => {
    const ftl = gcTestbed(128, 16, logicalPagesFor(1.15, 128, 16), { policy: 'greedy', seed: 3 });
    const L = ftl.logicalPages;
    drive(ftl, new SequentialWorkload(L), L);
    const writes = new UniformWorkload(L, 4);
    const prng = new Prng(5);
    for (let round = 0; round < 40; round++) {
      drive(ftl, writes, L / 10);
      for (let i = 0; i < (L / 10) * trimShare; i++) ftl.trim(prng.int(L));
    }
    ftl.validate();
    return ftl.stats();
  };
  const plain = run(0);
  const withTrim = run(0.5);
  assert.ok(withTrim.tombstoneWrites > 0 && withTrim.tombstonesDropped > 0, JSON.stringify(withTrim));
  assert.ok(withTrim.writeAmplification < plain.writeAmplification, `WA with TRIM ${withTrim.writeAmplification} < without ${plain.writeAmplification}`);
});

test('hot/cold separation: temperature classes get their own frontiers', () => {
  const config = { policy: 'greedy', hostStreams: 2, gcFrontier: 'separate' } as const;
  const ftl = gcTestbed(128, 16, logicalPagesFor(1.2, 128, 16, config), config);
  const L = ftl.logicalPages;
  drive(ftl, new SequentialWorkload(L), L);
  drive(ftl, new HotColdWorkload(L, 0.9, 0.1, 6), 4 * L);
  const hotPages = Math.round(0.1 * L);
  let hotBlocks = 0;
  for (let ppn = 0; ppn < ftl.device.pages; ppn++) {
    const lpn = ftl.p2l[ppn] as number;
    if (lpn < 0 || ftl.table.stream[Math.floor(ppn / 16)] !== 1) continue;
    hotBlocks++;
    assert.ok(lpn < hotPages, `block ${Math.floor(ppn / 16)}, written by the hot stream, holds cold page ${lpn}`);
  }
  assert.ok(hotBlocks > 0);
  ftl.validate();
});

test('wear levelling narrows the erase-count spread; static levelling moves cold data to worn blocks, also with dynamic levelling and after a mount', () => {
  const geometry = { blocks: 64, pagesPerBlock: 16, pageBytes: 4096, spareBytes: 16 };
  const L = logicalPagesFor(1.25, 64, 16, { lowWatermark: 2 });
  const run = (ftl: PageFtl, passes: number) => drive(ftl, new HotColdWorkload(L, 0.95, 0.05, 8), passes * L);
  const worn = (config: Parameters<typeof gcTestbed>[3]) => {
    const device = NandDevice.create({ geometry, storePayload: false });
    const ftl = PageFtl.format(device, { ...config, logicalPages: L });
    drive(ftl, new SequentialWorkload(L), L);
    run(ftl, 30);
    ftl.validate();
    const s = device.stats().eraseCounts;
    return { device, ftl, spread: s.max - s.min, gc: ftl.gcStats() };
  };
  const none = worn({ policy: 'greedy', lowWatermark: 2 });
  const levelled = worn({ policy: 'greedy', lowWatermark: 2, staticWearLevelling: 20 });
  assert.ok(levelled.spread < none.spread / 2, `erase-count spread ${levelled.spread} with static levelling vs ${none.spread} without`);
  // With dynamic levelling too, moved cold data must not land on the young block just freed (it
  // would rest there, and the spread would trigger a move at nearly every erase).
  const both = worn({ policy: 'greedy', lowWatermark: 2, staticWearLevelling: 20, freeBlockOrder: 'least-worn' });
  assert.ok(both.spread < none.spread / 2, `spread ${both.spread} with dynamic + static levelling vs ${none.spread} without`);
  assert.ok(both.gc.staticMoves < both.gc.erases / 10, `${both.gc.staticMoves} static moves in ${both.gc.erases} erases`);

  // A chip worn unevenly without levelling, mounted with it: levelling starts from the chip's counts.
  const config = { policy: 'greedy', lowWatermark: 2, staticWearLevelling: 20, logicalPages: L } as const;
  const mounted = PageFtl.mount(NandDevice.over(none.device.buffer), config);
  run(mounted, 0.5);
  assert.ok(mounted.gcStats().staticMoves > 0, 'the first checks after the mount find the spread');
  run(mounted, 30);
  mounted.validate();
  const after = none.device.stats().eraseCounts;
  assert.ok(after.max - after.min < none.spread / 2, `spread ${after.max - after.min} after levelling the mounted chip, ${none.spread} before`);
});

test('FlashFullError comes before the write: the call that throws stores nothing, and the full chip still mounts', () => {
  const device = NandDevice.create({ geometry: { blocks: 40, pagesPerBlock: 8, pageBytes: 8, spareBytes: 16 }, enduranceCycles: 30 });
  const config = { logicalPages: 120, policy: 'greedy' } as const;
  const ftl = PageFtl.format(device, config);
  const acked = new Int32Array(120).fill(-1);
  const data = new Uint8Array(4);
  const out = new Uint8Array(4);
  const value = (store: PageFtl, lpn: number): number => (store.read(lpn, out) ? new DataView(out.buffer).getInt32(0, true) : -1);
  let refused = -1;
  for (let i = 0; refused < 0; i++) {
    const lpn = (i * 7919) % 120;
    new DataView(data.buffer).setInt32(0, i, true);
    try {
      ftl.write(lpn, data);
      acked[lpn] = i;
    } catch (error) {
      if (!(error instanceof FlashFullError)) throw error;
      refused = lpn;
    }
  }
  const stats = ftl.gcStats();
  assert.ok(stats.eraseFailures > 0 && stats.badBlocks === stats.eraseFailures, 'worn-out blocks were retired until the data no longer fit');
  ftl.validate();
  for (let l = 0; l < 120; l++) assert.equal(value(ftl, l), acked[l], `lpn ${l}${l === refused ? ' (the refused write)' : ''} reads its last stored version`);
  // The refused write left a frontier with room: a long TRIM uses it, then stops at a named page.
  let stoppedAt = -1;
  try {
    ftl.trim(0, 120);
  } catch (error) {
    assert.ok(error instanceof FlashFullError);
    stoppedAt = Number(/trim of lpn (\d+) \(page \d+ of 120 from lpn 0; those before it are trimmed\)/.exec(error.message)?.[1]);
  }
  assert.ok(stoppedAt > 0, 'the TRIM trimmed some pages, then was refused');
  for (let l = 0; l < stoppedAt; l++) acked[l] = -1;
  for (let l = 0; l < 120; l++) assert.equal(value(ftl, l), acked[l], `after the refused TRIM, lpn ${l}`);
  ftl.validate();
  const mounted = PageFtl.mount(NandDevice.over(device.buffer), config);
  mounted.validate();
  for (let l = 0; l < 120; l++) assert.equal(value(mounted, l), acked[l], `after mount, lpn ${l}`);
  assert.throws(() => mounted.write(0, data), FlashFullError, 'mounted short of room: it reads, and refuses writes');
  for (let l = 0; l < 120; l++) assert.equal(value(mounted, l), acked[l]);
  mounted.validate();
});

test('mount refuses a chip another store formatted, or a smaller logical space', () => {
  const device = NandDevice.create({ geometry: { ...GEOMETRY, pageBytes: 64 } });
  const objects = ObjectStore.format(device, { maxObjects: 4 });
  objects.put(1, bytes(1));
  objects.flush();
  assert.throws(() => PageFtl.mount(NandDevice.over(device.buffer), { logicalPages: 10 }), FlashMountError);
  const d2 = NandDevice.create({ geometry: GEOMETRY });
  PageFtl.format(d2, { logicalPages: 100 }).write(90);
  assert.throws(() => PageFtl.mount(NandDevice.over(d2.buffer), { logicalPages: 50 }), /outside this store's 50 pages/);
});
