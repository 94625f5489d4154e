import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hotColdWa, lambertW0, optimalHotColdSplit, waAgarwal, waFifo, waGreedy } from '../../src/flash/analytic.ts';

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

test("optimal hot/cold split: Agarwal's pool model has a closed form the search must hit (hand-checked values)", () => {
  // r = 0.9, f = 0.1, α = 1.2: S = √0.09 + √0.09 = 0.6, A_opt = 1/2 + 0.36/(2 · 0.2) = 1.4, at
  // α_h − 1 = 1 and α_c − 1 = 1/9 (Lagrange: (α_h − 1) = √(r/(λf)), λ = (S/ρ)² = 9); check (H1):
  // 0.1 · 2 + 0.9 · (1 + 1/9) = 1.2.
  const split = optimalHotColdSplit(1.2, 0.9, 0.1, waAgarwal);
  assert.ok(Math.abs(split.wa - 1.4) < 1e-9, `${split.wa}`);
  assert.ok(Math.abs(split.alphaHot - 2) < 1e-5, `${split.alphaHot}`);
  assert.ok(Math.abs(split.alphaCold - (1 + 1 / 9)) < 1e-6, `${split.alphaCold}`);
  // The proportional split costs the uniform figure: 1/2 + 1/(2 · 0.2) = 3.
  assert.ok(Math.abs(hotColdWa(1.2, 0.9, 0.1, 1.2, waAgarwal).wa - 3) < 1e-12);
  // r = 0.8, f = 0.2, α = 1.5: S = 0.4 + 0.4, A_opt = 1/2 + 0.64/1 = 1.14.
  assert.ok(Math.abs(optimalHotColdSplit(1.5, 0.8, 0.2, waAgarwal).wa - 1.14) < 1e-9);
});

test('optimal hot/cold split under the greedy model: symmetric traffic needs no shift; skew moves space to the hot pool and lowers WA', () => {
  const greedy = (a: number): number => waGreedy(a, 64);
  for (const alpha of [1.1, 1.2, 2]) {
    // r = f is uniform traffic: the best split is the proportional one, A = A_greedy(α).
    const even = optimalHotColdSplit(alpha, 0.3, 0.3, greedy);
    assert.ok(Math.abs(even.alphaHot - alpha) < 1e-5 && Math.abs(even.wa - greedy(alpha)) < 1e-9, `α ${alpha}: ${JSON.stringify(even)}`);
    let previous = greedy(alpha);
    for (const [r, f] of [[0.7, 0.3], [0.8, 0.2], [0.9, 0.1], [0.95, 0.05]] as const) {
      const best = optimalHotColdSplit(alpha, r, f, greedy);
      assert.ok(best.wa < previous, `α ${alpha}, ${r}/${f}: ${best.wa} should be below ${previous} (more skew, lower optimum)`);
      assert.ok(best.alphaHot > alpha && best.alphaCold < alpha && best.alphaCold > 1, `hot pool gets more than its share: ${JSON.stringify(best)}`);
      assert.ok(Math.abs(f * best.alphaHot + (1 - f) * best.alphaCold - alpha) < 1e-12, '(H1)');
      // (H3): the marginal costs balance (central differences).
      const d = (x: number): number => (greedy(x + 1e-6) - greedy(x - 1e-6)) / 2e-6;
      const lhs = r * (1 - f) * d(best.alphaHot);
      const rhs = f * (1 - r) * d(best.alphaCold);
      assert.ok(Math.abs(lhs / rhs - 1) < 1e-3, `(H3) at ${r}/${f}, α ${alpha}: ${lhs} vs ${rhs}`);
      // Nothing on a fine grid does better.
      const hi = (alpha - 1 + f) / f;
      for (let i = 1; i < 400; i++) assert.ok(hotColdWa(alpha, r, f, 1 + ((hi - 1) * i) / 400, greedy).wa >= best.wa - 1e-12);
      previous = best.wa;
    }
  }
  assert.throws(() => optimalHotColdSplit(1, 0.9, 0.1, greedy), RangeError);
  assert.throws(() => optimalHotColdSplit(1.2, 0.9, 1, greedy), RangeError);
});
