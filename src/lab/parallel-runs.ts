/**
 * Runs scenarios in worker threads, several at once: the report's way to use every core for the
 * scenarios whose figures do not come from the wall clock (Scenario.wallClock unset). Each worker
 * (scenario-server.ts) takes the next scenario from the list when it is free; runs are returned,
 * and `onDone` called, in the list's order whatever order they finish in, so output is the same as
 * one after another. A run's figures do not depend on where it ran: every scenario is
 * deterministic for its seed apart from its timing and scheduling items (scenario.ts), and the
 * scenarios sent here have none. A run's elapsed time is its own wall time, shared CPUs included.
 */
import type { Worker } from 'node:worker_threads';
import { InvariantError } from '../util/errors.ts';
import type { ParamInput } from './params.ts';
import type { ScenarioRun } from './run.ts';
import type { ScenarioJob, ScenarioServerMessage } from './scenario-server.ts';
import { newLabWorker } from './worker-thread.ts';

const SERVER = new URL('./scenario-server.ts', import.meta.url);
/** Worker threads at most, whatever is asked (each holds a scenario's machine in memory). */
export const PARALLEL_RUNS_MAX = 16;

export class ScenarioWorkerError extends InvariantError {
  override name = 'ScenarioWorkerError';
}

export interface ParallelRunOptions {
  seed: number;
  smoke: boolean;
  /** Worker threads (at most the number of scenarios and PARALLEL_RUNS_MAX). */
  threads: number;
  overrides?: Readonly<Record<string, Record<string, ParamInput>>>;
  onProgress?: (name: string, done: number, total: number, label?: string) => void;
  /** Called once per run, in the order of `names`. */
  onDone?: (run: ScenarioRun) => void;
}

export async function runScenariosInWorkers(names: readonly string[], options: ParallelRunOptions): Promise<ScenarioRun[]> {
  if (!Number.isInteger(options.threads) || options.threads < 1) throw new InvariantError(`parallel runs: ${options.threads} threads; expected a whole number ≥ 1`);
  const threads = Math.min(options.threads, names.length, PARALLEL_RUNS_MAX);
  const runs: (ScenarioRun | undefined)[] = names.map(() => undefined);
  let next = 0;
  let reported = 0;
  const report = (): void => {
    for (let run = runs[reported]; run !== undefined; run = runs[reported]) {
      options.onDone?.(run);
      reported++;
    }
  };
  const workers: Worker[] = [];
  const serve = async (): Promise<void> => {
    const worker = newLabWorker(SERVER, {});
    workers.push(worker);
    try {
      for (let i = next++; i < names.length; i = next++) {
        const name = names[i] as string;
        const job: ScenarioJob = { name, overrides: options.overrides?.[name] ?? {}, seed: options.seed, smoke: options.smoke };
        runs[i] = await new Promise<ScenarioRun>((resolve, reject) => {
          const onMessage = (message: ScenarioServerMessage): void => {
            if (message.kind === 'progress') {
              options.onProgress?.(name, message.done, message.total, message.label);
              return;
            }
            cleanup();
            if (message.kind === 'done') resolve(message.run);
            else reject(new ScenarioWorkerError(`scenario '${name}' failed in a worker thread: ${message.error}`));
          };
          const onError = (error: Error): void => {
            cleanup();
            reject(new ScenarioWorkerError(`scenario '${name}': its worker thread failed: ${error.message}`));
          };
          const onExit = (code: number): void => {
            cleanup();
            reject(new ScenarioWorkerError(`scenario '${name}': its worker thread exited with code ${code} before finishing`));
          };
          const cleanup = (): void => {
            worker.off('message', onMessage);
            worker.off('error', onError);
            worker.off('exit', onExit);
          };
          worker.on('message', onMessage);
          worker.once('error', onError);
          worker.once('exit', onExit);
          worker.postMessage(job);
        });
        report();
      }
    } finally {
      await worker.terminate();
    }
  };
  try {
    await Promise.all(Array.from({ length: threads }, serve));
  } catch (error) {
    // One failed: the others take no more scenarios and stop now.
    next = names.length;
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  }
  return runs.map((run, i) => {
    if (run === undefined) throw new InvariantError(`parallel runs: scenario '${names[i]}' has no run; expected every one finished`);
    return run;
  });
}
