import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario } from '../../src/lab/run.ts';
import { forkDuringDma } from '../../src/lab/scenarios/fork-during-dma.ts';

test('fork-during-dma: naive loses DMAs; early-copy copies pinned pages at fork and defer-write waits, and neither loses one', async () => {
  const run = await runScenario(forkDuringDma, { ops: '3000' }, { seed: 11 });
  const rows = run.result.tables.find((t) => t.id === 'policies')?.rows ?? [];
  const row = (policy: string): Record<string, unknown> => {
    const r = rows.find((x) => x.policy === policy);
    assert.ok(r !== undefined, policy);
    return r;
  };
  assert.ok((row('naive').lostDmas as number) > 0, 'naive copy-on-write loses data');
  assert.equal(row('naive').pagesCopiedAtFork, 0);
  assert.equal(row('early-copy').lostDmas, 0);
  assert.ok((row('early-copy').pagesCopiedAtFork as number) > 0);
  assert.equal(row('early-copy').waitedUs, 0);
  assert.equal(row('defer-write').lostDmas, 0);
  assert.ok((row('defer-write').waitedUs as number) > 0 && (row('defer-write').writesWaited as number) > 0);
  assert.equal(row('defer-write').pagesCopiedAtFork, 0);
});
