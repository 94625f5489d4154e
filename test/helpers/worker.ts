/**
 * Runs a TypeScript worker module (loaded through tsx) and resolves with the first message it posts.
 * The module reads its input from `workerData`, which also carries `tsModule`, its own URL.
 */
import { Worker } from 'node:worker_threads';

export function runTsWorker<T>(url: URL, workerData: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const entry = new URL('./ts-worker-entry.mjs', import.meta.url);
    const worker = new Worker(entry, { workerData: { ...(workerData as object), tsModule: url.href } });
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
      if (!settled) reject(new Error(`worker ${url.pathname} exited with code ${code} before reporting`));
    });
  });
}
