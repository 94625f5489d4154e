// The report's parallel runs: scenarios run in worker threads give the runs a run on this thread
// gives (their reproducible parts), in the order asked, whatever order they finish in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenariosInWorkers } from '../../src/lab/parallel-runs.ts';
import { findScenario } from '../../src/lab/registry.ts';
import { runScenario } from '../../src/lab/run.ts';
import { isReproducible } from '../../src/lab/scenario.ts';
import type { ScenarioRun } from '../../src/lab/run.ts';

const reproducible = (run: ScenarioRun): unknown => ({
  scenario: run.scenario,
  params: run.params,
  answer: run.result.answer,
  summary: run.result.summary,
  tables: run.result.tables.filter(isReproducible),
  plots: run.result.plots.filter(isReproducible),
});

test('scenarios run two at a time in worker threads match runs on this thread, reported in the order asked', async () => {
  // The slower one first, so that the second finishes first and must wait its turn.
  const names = ['dma-coherence', 'fork-during-dma', 'secrets'];
  const done: string[] = [];
  const progress = new Set<string>();
  const runs = await runScenariosInWorkers(names, { seed: 5, smoke: true, threads: 2, onDone: (run) => done.push(run.scenario), onProgress: (name) => progress.add(name) });
  assert.deepEqual(runs.map((r) => r.scenario), names);
  assert.deepEqual(done, names, 'onDone in the order asked');
  assert.deepEqual([...progress].sort(), [...names].sort(), 'every scenario reported progress');
  for (const [i, name] of names.entries()) {
    const here = await runScenario(findScenario(name), {}, { seed: 5, smoke: true });
    assert.deepEqual(reproducible(runs[i] as ScenarioRun), reproducible(here), `${name}: the same run in a worker thread and here`);
  }
});

test('a scenario that fails in a worker thread rejects with its name and the error, in one line', async () => {
  await assert.rejects(
    runScenariosInWorkers(['fork-during-dma', 'nonesuch'], { seed: 1, smoke: true, threads: 2 }),
    (error: Error) => error.name === 'ScenarioWorkerError' && /scenario 'nonesuch' failed in a worker thread: UnknownScenarioError: no scenario 'nonesuch'/.test(error.message) && !error.message.includes('\n'),
  );
});
