import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DmaLab, LineState } from '../../src/lab/views/dma-lab.ts';

function count(row: Uint8Array | undefined, state: LineState): number {
  return (row ?? new Uint8Array()).filter((s) => s === state).length;
}

test('DMA lab: without a sync the lines drawn stale are the lines the CPU reads wrong; with one, none', () => {
  const lab = new DmaLab(1);
  let rows = lab.lineStates();
  const seen = (): Uint8Array => rows[rows.length - 1] as Uint8Array;
  assert.equal(count(seen(), LineState.Clean), lab.lines, 'after dma_map_single every line is cached and clean');
  lab.deviceWrites(1000);
  rows = lab.lineStates();
  assert.equal(count(seen(), LineState.Stale), 16, 'a 1000-byte packet covers 16 lines');
  assert.equal(lab.cpuReads().staleLines, 16, 'and the CPU reads those 16 lines wrong');
  // With the sync the CPU reads what the device wrote.
  lab.deviceWrites();
  lab.syncForCpu();
  rows = lab.lineStates();
  assert.equal(count(seen(), LineState.Absent), lab.lines, 'dma_sync_single_for_cpu invalidated every line');
  assert.deepEqual(lab.cpuReads(), { staleWords: 0, staleLines: 0 });
  rows = lab.lineStates();
  assert.equal(count(seen(), LineState.Clean), lab.lines);
  lab.syncForDevice();
  // A scribble while the device owns the buffer: dirty lines, as the cache levels count them.
  lab.cpuWrites(256);
  rows = lab.lineStates();
  assert.equal(count(seen(), LineState.Dirty), 4);
  lab.levels().forEach((level, i) => {
    const s = level.stats();
    assert.equal(count(rows[i], LineState.Dirty), s.dirtyLines, `${s.name}: dirty lines drawn = dirty lines counted`);
    assert.equal(lab.lines - count(rows[i], LineState.Absent), s.validLines, `${s.name}: cached lines drawn = valid lines`);
  });
  lab.validate();
});
