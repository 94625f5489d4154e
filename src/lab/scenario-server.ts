/**
 * Worker side of parallel-runs.ts: a worker thread that runs scenarios from the registry, one job
 * at a time, posting its progress and then the finished run (or the failure, in one line).
 */
import { parentPort } from 'node:worker_threads';
import type { ParamInput } from './params.ts';
import { findScenario } from './registry.ts';
import { runScenario } from './run.ts';
import type { ScenarioRun } from './run.ts';

export interface ScenarioJob {
  name: string;
  overrides: Record<string, ParamInput>;
  seed: number;
  smoke: boolean;
}

export type ScenarioServerMessage =
  | { kind: 'progress'; done: number; total: number; label?: string }
  | { kind: 'done'; run: ScenarioRun }
  | { kind: 'failed'; error: string };

const port = parentPort;
if (port === null) throw new Error('scenario-server.ts runs in a worker thread (lab/parallel-runs.ts starts it)');
port.on('message', (job: ScenarioJob) => {
  const post = (message: ScenarioServerMessage): void => port.postMessage(message);
  Promise.resolve()
    .then(() =>
      runScenario(findScenario(job.name), job.overrides, {
        seed: job.seed,
        smoke: job.smoke,
        onProgress: (done, total, label) => post({ kind: 'progress', done, total, ...(label === undefined ? {} : { label }) }),
      }),
    )
    .then(
    (run) => post({ kind: 'done', run }),
    (error: unknown) => post({ kind: 'failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
  );
});
