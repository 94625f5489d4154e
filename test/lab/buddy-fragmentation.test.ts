import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario } from '../../src/lab/run.ts';
import { buddyFragmentation } from '../../src/lab/scenarios/buddy-fragmentation.ts';

test('buddy-fragmentation: grouping by mobility keeps more pageblocks free of unmovable pages', async () => {
  const run = await runScenario(buddyFragmentation, { ramBytes: '128MiB', steps: '300000', samples: '3' }, { seed: 3 });
  const summary = run.result.tables.find((t) => t.id === 'summary');
  assert.ok(summary !== undefined);
  const [grouped, ungrouped] = summary.rows;
  assert.ok(grouped !== undefined && ungrouped !== undefined);
  assert.ok((grouped.movableOnly as number) > 2 * (ungrouped.movableOnly as number), JSON.stringify(summary.rows));
  assert.ok((grouped.mixed as number) < (ungrouped.mixed as number));
  assert.ok((grouped.order9 as number) >= 1);
});
