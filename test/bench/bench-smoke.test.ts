// The benchmarks in smoke mode: every case runs and yields a finite time. Never a timed assertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markdown, runBench } from '../../bench/main.ts';

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
