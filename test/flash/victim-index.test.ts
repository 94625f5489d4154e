// The cost-benefit policies search the per-valid-count buckets' oldest blocks instead of every closed
// block (victim.ts, block-table.ts). Checked three ways: the lazily kept oldest block of every bucket
// against a brute-force minimum after every operation of a random schedule; LFS's victims against a
// scan of every closed block at every choice of a real run (the same victim), exact ties included;
// and the write
// amplification of fixed-seed runs against what the full scans gave before the index (LFS: the same
// programs exactly; F2FS: within 2 %, since among equal integer costs it now takes another block).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockState, BlockTable } from '../../src/flash/block-table.ts';
import type { BucketTime } from '../../src/flash/block-table.ts';
import { measureSteadyState } from '../../src/flash/steady-state.ts';
import { createVictimPolicy } from '../../src/flash/victim.ts';
import type { SteadyStateOptions } from '../../src/flash/steady-state.ts';
import { HotColdWorkload } from '../../src/flash/workload.ts';
import { Prng } from '../../src/util/prng.ts';

test("the buckets' oldest blocks (by youngest and by mtime) match a brute-force minimum after every operation", () => {
  const units = 6;
  const blocks = 40;
  const t = new BlockTable({ blocks, unitsPerBlock: units, freeOrder: 'fifo', buckets: false, oldestBy: ['youngest', 'mtime'], eraseCounts: new Uint32Array(blocks) });
  for (let b = 0; b < blocks; b++) t.addFree(b);
  const prng = new Prng(11);
  let clock = 1;
  const check = (): void => {
    t.validate();
    for (const by of ['youngest', 'mtime'] as BucketTime[]) {
      const time = by === 'youngest' ? t.youngest : t.mtime;
      for (let v = 0; v <= units; v++) {
        let least = Infinity;
        for (let b = 0; b < blocks; b++) if (t.state[b] === BlockState.Closed && t.valid[b] === v) least = Math.min(least, time[b] as number);
        const o = t.oldestIn(v, by);
        if (least === Infinity) assert.equal(o, -1, `bucket ${v} is empty`);
        else assert.equal(time[o], least, `bucket ${v} by ${by}: block ${o} at ${time[o]}, the least is ${least}`);
      }
    }
  };
  for (let step = 0; step < 3000; step++) {
    const op = prng.int(4);
    if (op === 0 && t.nrFree > 0) {
      // A block fills (random valid count and times, some equal) and closes.
      const b = t.takeFree();
      t.valid[b] = 1 + prng.int(units);
      t.youngest[b] = clock - prng.int(50);
      t.mtime[b] = clock - prng.int(50);
      t.close(b, clock++);
    } else if (op === 1 && t.nrClosed > 0) {
      // A host overwrite invalidates a unit: F2FS moves the mtime first, then the count drops.
      const b = t.closedList[prng.int(t.nrClosed)] as number;
      if ((t.valid[b] as number) > 0) {
        t.touchMtime(b, clock++, 1);
        t.invalidate(b);
      }
    } else if (op === 2 && t.nrClosed > 0) {
      // A victim: the oldest of some bucket (what the policies take) or any block.
      const v = prng.int(units + 1);
      const oldest = t.oldestIn(v, prng.int(2) === 0 ? 'youngest' : 'mtime');
      const b = oldest !== -1 ? oldest : (t.closedList[prng.int(t.nrClosed)] as number);
      t.open(b);
      t.valid[b] = 0;
      t.addFree(b);
    }
    check();
  }
});

test("LFS cost-benefit from the buckets picks the victim a scan of every closed block picks, at every choice", () => {
  const units = 32;
  let choices = 0;
  const result = measureSteadyState({
    policy: 'cost-benefit',
    alpha: 1.2,
    blocks: 96,
    pagesPerBlock: units,
    warmupPasses: 2,
    measurePasses: 1,
    seed: 7,
    store: { hostStreams: 2 },
    workload: (pages, seed) => new HotColdWorkload(pages, 0.9, 0.1, seed),
  });
  const { ftl, device } = result;
  ftl.victimObserver = (victim) => {
    const table = ftl.table;
    const clock = device.programs + device.copybacks; // the store's clock: every program took the next number
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < table.nrClosed; i++) {
      const b = table.closedList[i] as number;
      const u = (table.valid[b] as number) / units;
      const score = ((1 - u) * (clock - (table.youngest[b] as number))) / (1 + u);
      if (score > bestScore) {
        bestScore = score;
        best = b;
      }
    }
    assert.equal(victim, best, `choice ${choices}: the scan picks block ${best}`);
    choices++;
  };
  const prng = new Prng(3);
  for (let i = 0; i < 40_000; i++) ftl.write(prng.int(ftl.logicalPages), null, prng.int(10) === 0 ? 0 : 1);
  assert.ok(choices > 500, `${choices} choices compared`);
  ftl.validate();
});

test('LFS: buckets whose winners score exactly alike give the block a scan meets first', () => {
  for (const emptierFirst of [false, true]) {
    const units = 4;
    const t = new BlockTable({ blocks: 8, unitsPerBlock: units, freeOrder: 'fifo', buckets: false, oldestBy: ['youngest'], eraseCounts: new Uint32Array(8) });
    for (let b = 0; b < 8; b++) t.addFree(b);
    const close = (valid: number, youngest: number): number => {
      const b = t.takeFree();
      t.valid[b] = valid;
      t.youngest[b] = youngest;
      t.close(b, youngest);
      return b;
    };
    // At clock 100: an empty block written at 40 scores 60; a quarter-full one written at 0 scores
    // (3/4)·100/(5/4) = 60 as well. Three full blocks make the bucket search worth it (5 ≥ Np + 1).
    const pair = emptierFirst ? [close(0, 40), close(1, 0)] : [close(1, 0), close(0, 40)];
    for (let i = 0; i < 3; i++) close(units, 50 + i);
    assert.equal(createVictimPolicy('cost-benefit', { seed: 1 }).select(t, 100), pair[0], `the first closed of the tied pair (${emptierFirst ? 'the empty one' : 'the quarter-full one'})`);
  }
});

// Programs during the measurement of these runs with the full scans (before the bucket index),
// 128 blocks × 32 pages, α 1.2, 2 + 2 passes, seed 3.
const BEFORE: { layout: string; store: SteadyStateOptions['store']; hotCold: boolean; lfs: number; f2fs: number }[] = [
  { layout: 'uniform, one log', store: {}, hotCold: false, lfs: 20125, f2fs: 20610 },
  { layout: 'hot/cold 90/10, GC copies by temperature', store: { hostStreams: 2, gcFrontier: 'shared' }, hotCold: true, lfs: 11252, f2fs: 11418 },
  { layout: 'hot/cold 90/10, GC apart', store: { hostStreams: 2, gcFrontier: 'separate' }, hotCold: true, lfs: 14461, f2fs: 14027 },
];

test('write amplification on fixed seeds: LFS cost-benefit exactly as with the full scan, F2FS within 2 %', () => {
  for (const { layout, store, hotCold, lfs, f2fs } of BEFORE) {
    for (const [policy, before] of [['cost-benefit', lfs], ['f2fs-cb', f2fs]] as const) {
      const r = measureSteadyState({
        policy,
        alpha: 1.2,
        blocks: 128,
        pagesPerBlock: 32,
        warmupPasses: 2,
        measurePasses: 2,
        seed: 3,
        ...(store === undefined ? {} : { store }),
        ...(hotCold ? { workload: (pages: number, seed: number) => new HotColdWorkload(pages, 0.9, 0.1, seed) } : {}),
      });
      if (policy === 'cost-benefit') assert.equal(r.programs, before, `${policy}, ${layout}`);
      else assert.ok(Math.abs(r.programs / before - 1) < 0.02, `${policy}, ${layout}: ${r.programs} programs, ${before} before`);
    }
  }
});
