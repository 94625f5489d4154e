// The emulation against the analytic models, under uniformly random single-page overwrites in steady
// state (steady-state.ts: sequential fill, 4 logical-space passes of warm-up, then the measurement).
// Sizes are the smallest the research notes found robust (docs/flash.md, "Validation"): worst seed
// errors over 20 seeds were 0.24 % (FIFO, 1024 blocks, 8 passes) and 0.64 % (greedy, 512 blocks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waFifo, waGreedy } from '../../src/flash/analytic.ts';
import { InPlaceStore } from '../../src/flash/in-place.ts';
import { drive, gcTestbed, logicalPagesFor, measureSteadyState } from '../../src/flash/steady-state.ts';
import { SequentialWorkload, UniformWorkload } from '../../src/flash/workload.ts';
import { NandDevice } from '../../src/machine/nand.ts';

const ALPHAS = [1.07, 1.1, 1.15, 1.2, 1.28, 1.5, 2.0];

test('FIFO: WA = α / (α + W0(−α·e^−α)) within 0.5 % at every α', () => {
  for (const alpha of ALPHAS) {
    const r = measureSteadyState({ policy: 'fifo', alpha, pagesPerBlock: 64, blocks: 1024, measurePasses: 8, seed: 1 });
    const model = waFifo(r.alpha);
    const error = r.writeAmplification / model - 1;
    assert.ok(Math.abs(error) < 0.005, `α ${alpha}: WA ${r.writeAmplification.toFixed(4)}, model ${model.toFixed(4)}, error ${(error * 100).toFixed(3)} %`);
  }
});

test('greedy: WA = A_FIFO(kα)/k, k = 1 + 1/(2·Np), within 2 % for Np = 64, 128, 256', () => {
  for (const np of [64, 128, 256]) {
    for (const alpha of ALPHAS) {
      const r = measureSteadyState({ policy: 'greedy', alpha, pagesPerBlock: np, blocks: 512, measurePasses: 4, seed: 2 });
      const model = waGreedy(r.alpha, np);
      const error = r.writeAmplification / model - 1;
      assert.ok(Math.abs(error) < 0.02, `Np ${np} α ${alpha}: WA ${r.writeAmplification.toFixed(4)}, model ${model.toFixed(4)}, error ${(error * 100).toFixed(3)} %`);
    }
  }
});

test('sequential overwrites: WA = 1 exactly (no page is ever copied), FIFO and greedy; in place it is Np', () => {
  for (const policy of ['fifo', 'greedy'] as const) {
    const L = logicalPagesFor(1.1, 512, 64, { policy });
    const ftl = gcTestbed(512, 64, L, { policy });
    drive(ftl, new SequentialWorkload(L), L);
    const before = ftl.device.programs + ftl.device.copybacks;
    drive(ftl, new SequentialWorkload(L), 4 * L);
    assert.equal(ftl.device.programs + ftl.device.copybacks - before, 4 * L, `${policy}: programs = host writes`);
    assert.equal(ftl.gcCopies, 0);
    ftl.validate();
  }
  const device = NandDevice.create({ geometry: { blocks: 64, pagesPerBlock: 64, pageBytes: 4096, spareBytes: 16 }, storePayload: false });
  const inPlace = new InPlaceStore(device, logicalPagesFor(1.1, 64, 64));
  const L = inPlace.logicalPages;
  drive(inPlace, new SequentialWorkload(L), L);
  assert.equal(inPlace.stats().writeAmplification, 1, 'the first pass programs erased pages in order');
  // Once every page is written, an update of a page rewrites its whole block: Np programs (the
  // last, partial block's own page count for its pages).
  const full = Math.floor(L / 64);
  const rest = L - full * 64;
  const perPass = full * 64 * 64 + rest * rest;
  let before = device.programs;
  drive(inPlace, new SequentialWorkload(L), L);
  assert.equal(device.programs - before, perPass, 'a sequential pass: every write rewrites its block');
  before = device.programs;
  drive(inPlace, new UniformWorkload(L, 3), L);
  const wa = (device.programs - before) / L;
  assert.ok(Math.abs(wa / (perPass / L) - 1) < 0.01, `in place, uniform random: WA ${wa}, expected ${perPass / L} (≈ Np = 64)`);
  inPlace.validate();
});
