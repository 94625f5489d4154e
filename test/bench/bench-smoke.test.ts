// The benchmarks in smoke mode: every case runs and yields a finite time. Never a timed assertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureIsolated } from '../../bench/harness.ts';
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
  assert.match(markdown(results), /^\| group \| case \|/);
});

test('a case timed in a worker thread of its own (measureIsolated → case-worker.ts → findCase) reports finite figures; a suite without harness-timed cases is refused', async () => {
  const suite = SUITES.findIndex((s) => 'cases' in s);
  const { nsPerOp, iterations } = await measureIsolated(suite, 0, { smoke: true });
  assert.ok(Number.isFinite(nsPerOp) && nsPerOp > 0, `${nsPerOp} ns`);
  assert.ok(Number.isInteger(iterations) && iterations >= 1);
  const selfTimed = SUITES.findIndex((s) => 'results' in s);
  await assert.rejects(measureIsolated(selfTimed, 0, { smoke: true }), /has no harness-timed cases/);
});
