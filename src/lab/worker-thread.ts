/**
 * Runs a lab module in a worker thread — a CPU of the emulated machine — and resolves with the
 * first message it posts (its report). A TypeScript module (kmem run from source, through tsx) is
 * loaded behind a two-line bootstrap that registers tsx in the new thread first: Node 20 does not
 * carry module hooks into workers. A compiled .js module is loaded directly.
 *
 * `onExit` runs when the worker exits for any reason (its report posted, an error, terminate()):
 * the place to offline its CPU in the sync domain, so that a dead worker holds up no grace period.
 *
 * A lab server (startLabServer) is a worker that stays: it answers each job posted to it with one
 * message, so that a scenario running many short experiments pays a worker's start — a new
 * isolate, tsx, the kernel's modules, about a quarter of a second of CPU — once per worker rather
 * than once per experiment.
 */
import { existsSync } from 'node:fs';
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

/**
 * A worker thread running `module` (TypeScript through tsx, or compiled JavaScript) with
 * `workerData`. Compiled code still names its workers' modules `.ts` (tsc rewrites imports, not
 * URLs): where that file is absent and its `.js` sibling is there (dist/), the `.js` runs.
 */
export function newLabWorker(source: URL, workerData: object): Worker {
  const compiled = new URL(source.href.replace(/\.ts$/, '.js'));
  const module = source.pathname.endsWith('.ts') && !existsSync(source) && existsSync(compiled) ? compiled : source;
  return module.pathname.endsWith('.ts')
    ? new Worker(BOOTSTRAP, { eval: true, workerData: { ...workerData, __module: module.href, __tsxApi: import.meta.resolve('tsx/esm/api') } })
    : new Worker(module, { workerData });
}

export function startLabWorker<T>(module: URL, workerData: object, onExit?: (code: number) => void): LabWorker<T> {
  const worker = newLabWorker(module, workerData);
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

export interface LabServer<J, R> {
  readonly worker: Worker;
  /** Posts one job; resolves with the worker's answer. One job at a time per server. */
  request(job: J): Promise<R>;
  /** Stops the worker (a job in flight is rejected). */
  close(): Promise<void>;
}

/**
 * Starts `module` in a worker that answers every job posted to it with one message (the module
 * listens on parentPort). A failure or an exit rejects the job in flight and every later one.
 */
export function startLabServer<J, R>(module: URL, workerData: object): LabServer<J, R> {
  const worker = newLabWorker(module, workerData);
  let pending: { resolve: (answer: R) => void; reject: (error: Error) => void } | null = null;
  let dead: Error | null = null;
  const fail = (error: Error): void => {
    dead ??= error;
    pending?.reject(error);
    pending = null;
  };
  worker.on('message', (answer: R) => {
    const job = pending;
    pending = null;
    job?.resolve(answer);
  });
  worker.once('error', (error) => fail(error));
  worker.once('exit', (code) => fail(new Error(`lab server ${module.pathname} exited with code ${code}`)));
  return {
    worker,
    request(job: J): Promise<R> {
      if (dead !== null) return Promise.reject(dead);
      if (pending !== null) return Promise.reject(new Error(`lab server ${module.pathname}: a job is in flight already`));
      return new Promise<R>((resolve, reject) => {
        pending = { resolve, reject };
        worker.postMessage(job);
      });
    },
    async close(): Promise<void> {
      await worker.terminate();
    },
  };
}

/**
 * Lab servers of one module kept for several experiments: servers(n) gives the first n, started as
 * needed. The driver offlines their CPUs after each experiment (they stay alive). close() when done.
 */
export class LabServerPool<J, R> {
  readonly #servers: LabServer<J, R>[] = [];

  constructor(
    private readonly module: URL,
    private readonly workerData: object,
  ) {}

  servers(n: number): LabServer<J, R>[] {
    while (this.#servers.length < n) this.#servers.push(startLabServer<J, R>(this.module, this.workerData));
    return this.#servers.slice(0, n);
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.splice(0).map((s) => s.close()));
  }
}

/** Polls (without blocking the thread) until `word` of `control` reaches `value`, or throws after `timeoutMs`. */
export async function waitForWord(control: Int32Array, word: number, value: number, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (Atomics.load(control, word) < value) {
    if (Date.now() - start > timeoutMs) throw new Error(`lab workers: control word ${word} is ${Atomics.load(control, word)} after ${timeoutMs} ms, expected ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
