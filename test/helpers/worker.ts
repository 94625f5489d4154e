/**
 * Runs a TypeScript worker module (loaded through tsx) and resolves with the first message it posts.
 * The module reads its input from `workerData`. The lab's worker runner does the work
 * (src/lab/worker-thread.ts).
 */
import { startLabWorker } from '../../src/lab/worker-thread.ts';

export function runTsWorker<T>(url: URL, workerData: unknown): Promise<T> {
  return startLabWorker<T>(url, workerData as object).report;
}
