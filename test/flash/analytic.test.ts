import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lambertW0, waAgarwal, waFifo, waGreedy } from '../../src/flash/analytic.ts';

test('Lambert W0 solves w·e^w = x on the principal branch', () => {
  for (const x of [-1 / Math.E, -0.3678, -0.3, -0.1, 0, 0.5, 1, Math.E, 10, 1e6]) {
    const w = lambertW0(x);
    assert.ok(w >= -1, `W0(${x}) = ${w} is on the principal branch`);
    assert.ok(Math.abs(w * Math.exp(w) - x) <= 1e-12 * Math.max(1, Math.abs(x)), `W0(${x}) = ${w}`);
  }
  assert.equal(lambertW0(-1 / Math.E), -1);
  assert.ok(Number.isNaN(lambertW0(-0.5)));
  assert.ok(Math.abs(lambertW0(1) - 0.5671432904097838) < 1e-15, 'the omega constant');
});

test('FIFO write amplification is the root of 1 − e^(−α/A) = 1/A (Desnoyers)', () => {
  for (const alpha of [1.07, 1.1, 1.15, 1.2, 1.28, 1.5, 2, 3]) {
    const a = waFifo(alpha);
    assert.ok(Math.abs(1 - Math.exp(-alpha / a) - 1 / a) < 1e-12, `α ${alpha}: A ${a}`);
  }
  // Values from the research notes (Halley iteration cross-checked by bisection).
  assert.ok(Math.abs(waFifo(1.07) - 7.81716) < 1e-5);
  assert.ok(Math.abs(waFifo(2) - 1.255001) < 1e-6);
  assert.equal(waFifo(1), Infinity);
});

test('greedy (Eq. 12) lies below FIFO and tends to it as blocks grow; Agarwal–Marrow is the closed form (1+ρ)/2ρ', () => {
  for (const alpha of [1.07, 1.2, 2]) {
    assert.ok(waGreedy(alpha, 64) < waGreedy(alpha, 256) && waGreedy(alpha, 256) < waFifo(alpha));
    assert.ok(Math.abs(waGreedy(alpha, 1e9) - waFifo(alpha)) < 1e-6);
  }
  assert.ok(Math.abs(waGreedy(1.07, 64) - 7.001355) < 1e-5);
  assert.ok(Math.abs(waGreedy(1.1, 128) - 5.450659) < 1e-5);
  assert.ok(Math.abs(waAgarwal(1.3) - 1.3 / 0.6) < 1e-12, "(1 + 0.3) / (2 · 0.3)");
});
