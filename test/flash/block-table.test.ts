import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockState, BlockTable } from '../../src/flash/block-table.ts';
import { createVictimPolicy } from '../../src/flash/victim.ts';
import { InvariantError } from '../../src/util/errors.ts';

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
