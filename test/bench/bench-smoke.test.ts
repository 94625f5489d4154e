// The benchmarks in smoke mode: every case runs and yields a finite time. Never a timed assertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchClock, measureInterleaved, measureIsolated, median, rankValue, roundOrder, SAMPLE_ROUNDS, timing } from '../../bench/harness.ts';
import { markdown, runBench } from '../../bench/main.ts';
import { SUITES } from '../../bench/suites.ts';

test('every benchmark case runs (smoke mode)', async () => {
  const results = await runBench({ smoke: true });
  assert.ok(results.length > 0);
  for (const r of results) {
    assert.ok(Number.isFinite(r.nsPerOp) && r.nsPerOp > 0, `${r.group} / ${r.name}`);
  }
  for (const group of new Set(results.map((r) => r.group))) {
    assert.ok(results.some((r) => r.group === group && r.relative === 1), `group '${group}' has a baseline`);
  }
  assert.match(markdown(results), /^\| group \| case \| ns per op \| middle half of samples \(ns\) \|/);
  // Harness-timed cases carry their quartiles (one sample in smoke mode: all three figures are it).
  const timed = results.filter((r) => r.quartilesNsPerOp !== undefined);
  assert.ok(timed.length > 0);
  for (const r of timed) assert.deepEqual(r.quartilesNsPerOp, [r.nsPerOp, r.nsPerOp], `${r.group} / ${r.name}`);
});

test('a case\'s figure is the median of its samples, and its middle half their quartiles, each a sample that was measured', () => {
  assert.deepEqual(timing([5, 1, 4, 2, 3, 9, 7, 8, 6], 10), { nsPerOp: 5, quartilesNsPerOp: [3, 7], iterations: 10 });
  // A machine in two states: the median says one, the middle half shows both.
  assert.deepEqual(timing([44, 70, 45, 71, 44, 69, 72, 46, 70], 1).quartilesNsPerOp, [45, 70]);
  assert.equal(median([4, 1, 3, 2]), 3, 'of an even count, the upper middle value');
  assert.ok(Number.isNaN(rankValue([], 0.25)));
  const row = markdown([{ group: 'g', name: 'n', unit: 'op', nsPerOp: 48.5, quartilesNsPerOp: [44.1, 70.2], relative: 1, iterations: 1 }]).split('\n')[2];
  assert.equal(row, '| g | n | 48.5 | 44.1–70.2 | 20.6 M | 1.00 |');
});

test('a case timed in a worker thread of its own (measureIsolated → case-worker.ts → findCase) reports finite figures; a suite without harness-timed cases is refused', async () => {
  const suite = SUITES.findIndex((s) => 'cases' in s);
  const { nsPerOp, iterations } = await measureIsolated(suite, 0, { smoke: true });
  assert.ok(Number.isFinite(nsPerOp) && nsPerOp > 0, `${nsPerOp} ns`);
  assert.ok(Number.isInteger(iterations) && iterations >= 1);
  const selfTimed = SUITES.findIndex((s) => 'results' in s);
  await assert.rejects(measureIsolated(selfTimed, 0, { smoke: true }), /has no harness-timed cases/);
});

test('a group is sampled interleaved: each round samples every case once, and every case leads some round', async () => {
  for (const count of [1, 2, 3, 7]) {
    const leaders = new Set<number>();
    for (let round = 0; round < Math.max(SAMPLE_ROUNDS, count); round++) {
      const order = roundOrder(count, round);
      assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i), `round ${round} of ${count}`);
      leaders.add(order[0] as number);
    }
    assert.equal(leaders.size, count);
  }
  const suite = SUITES.findIndex((s) => 'cases' in s);
  const timed = await measureInterleaved(suite, [0, 1], { smoke: true });
  assert.equal(timed.length, 2);
  for (const t of timed) assert.ok(Number.isFinite(t.nsPerOp) && t.nsPerOp > 0);
});

test('KMEM_BENCH_CLOCK picks wall (default) or process CPU time; anything else is refused by name', () => {
  const saved = process.env.KMEM_BENCH_CLOCK;
  try {
    delete process.env.KMEM_BENCH_CLOCK;
    assert.equal(benchClock(), 'wall');
    process.env.KMEM_BENCH_CLOCK = 'cpu';
    assert.equal(benchClock(), 'cpu');
    process.env.KMEM_BENCH_CLOCK = 'cycles';
    assert.throws(() => benchClock(), /KMEM_BENCH_CLOCK is 'cycles', expected 'wall' or 'cpu'/);
  } finally {
    if (saved === undefined) delete process.env.KMEM_BENCH_CLOCK;
    else process.env.KMEM_BENCH_CLOCK = saved;
  }
});
