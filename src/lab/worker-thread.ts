/**
 * Runs a lab module in a worker thread — a CPU of the emulated machine — and resolves with the
 * first message it posts (its report). A TypeScript module (kmem run from source, through tsx) is
 * loaded behind a two-line bootstrap that registers tsx in the new thread first: Node 20 does not
 * carry module hooks into workers. A compiled .js module is loaded directly.
 *
 * `onExit` runs when the worker exits for any reason (its report posted, an error, terminate()):
 * the place to offline its CPU in the sync domain, so that a dead worker holds up no grace period.
 */
import { Worker } from 'node:worker_threads';

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.__tsxApi).then((api) => { api.register(); return import(workerData.__module); });
`;

export interface LabWorker<T> {
  readonly worker: Worker;
  /** The worker's report: its first message. Rejects if it fails or exits without one. */
  readonly report: Promise<T>;
}

export function startLabWorker<T>(module: URL, workerData: object, onExit?: (code: number) => void): LabWorker<T> {
  const ts = module.pathname.endsWith('.ts');
  const worker = ts
    ? new Worker(BOOTSTRAP, { eval: true, workerData: { ...workerData, __module: module.href, __tsxApi: import.meta.resolve('tsx/esm/api') } })
    : new Worker(module, { workerData });
  const report = new Promise<T>((resolve, reject) => {
    let settled = false;
    worker.once('message', (message: T) => {
      settled = true;
      resolve(message);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      onExit?.(code);
      if (!settled) reject(new Error(`worker ${module.pathname} exited with code ${code} before reporting`));
    });
  });
  return { worker, report };
}

/** Polls (without blocking the thread) until `word` of `control` reaches `value`, or throws after `timeoutMs`. */
export async function waitForWord(control: Int32Array, word: number, value: number, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (Atomics.load(control, word) < value) {
    if (Date.now() - start > timeoutMs) throw new Error(`lab workers: control word ${word} is ${Atomics.load(control, word)} after ${timeoutMs} ms, expected ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
