import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamError, camel, kebab, resolveParams } from '../../src/lab/params.ts';
import { defineScenario } from '../../src/lab/scenario.ts';

const scenario = defineScenario({
  name: 'example',
  title: 'example',
  question: 'example',
  params: {
    ramBytes: { kind: 'size', default: 1 << 20, min: 4096, description: 'RAM' },
    count: { kind: 'int', default: 3, min: 1, max: 10, description: 'count' },
    ratio: { kind: 'number', default: 0.5, min: 0, max: 1, description: 'ratio' },
    policy: { kind: 'enum', values: ['greedy', 'fifo'] as const, default: 'greedy', description: 'policy' },
    verbose: { kind: 'bool', default: false, description: 'verbose' },
    alphas: { kind: 'numbers', default: [1.1, 1.2], min: 1, description: 'alphas' },
  },
  run: () => ({ summary: [], tables: [], plots: [] }),
});

test('defaults, then overrides from strings', () => {
  assert.deepEqual(resolveParams(scenario), { ramBytes: 1 << 20, count: 3, ratio: 0.5, policy: 'greedy', verbose: false, alphas: [1.1, 1.2] });
  const values = resolveParams(scenario, { ramBytes: '2MiB', count: '7', ratio: '0.25', policy: 'fifo', verbose: 'true', alphas: '1.07,2' });
  assert.deepEqual(values, { ramBytes: 2 << 20, count: 7, ratio: 0.25, policy: 'fifo', verbose: true, alphas: [1.07, 2] });
});

test('bad names and values are ParamErrors naming the valid choices', () => {
  assert.throws(() => resolveParams(scenario, { nope: '1' }), (e: unknown) => e instanceof ParamError && /--ram-bytes, --count/.test(e.message));
  assert.throws(() => resolveParams(scenario, { policy: 'lru' }), /not one of greedy, fifo/);
  assert.throws(() => resolveParams(scenario, { count: '11' }), /out of range/);
  assert.throws(() => resolveParams(scenario, { count: '2.5' }), /not an integer/);
  assert.throws(() => resolveParams(scenario, { ratio: 'abc' }), /not a number/);
  assert.throws(() => resolveParams(scenario, { verbose: 'maybe' }), /not a boolean/);
  assert.throws(() => resolveParams(scenario, { ramBytes: 'huge' }), ParamError);
  assert.throws(() => resolveParams(scenario, { alphas: '1.1,0.5' }), /out of range/);
});

test('kebab and camel case round-trip', () => {
  assert.equal(kebab('ramBytes'), 'ram-bytes');
  assert.equal(camel('ram-bytes'), 'ramBytes');
});
