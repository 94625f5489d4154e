/**
 * A worker CPU of the explorer: attaches to the page's kernel (the same SharedArrayBuffer) and runs
 * object churn of its own through the shared caches, a step at a time when the page asks.
 */
import { Kernel } from '../mm/kernel.ts';
import { ObjectChurn } from '../lab/workloads/object-churn.ts';

export type WorkerRequest = { type: 'init'; buffer: SharedArrayBuffer; seed: number } | { type: 'step'; steps: number } | { type: 'detach' };
export type WorkerReply = { type: 'ready' | 'done'; liveObjects: number } | { type: 'error'; message: string };

let kernel: Kernel | null = null;
let churn: ObjectChurn | null = null;

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  try {
    if (request.type === 'init') {
      kernel = Kernel.attach(request.buffer);
      churn = new ObjectChurn(kernel, request.seed);
      reply({ type: 'ready', liveObjects: 0 });
    } else if (request.type === 'step') {
      churn?.run(request.steps);
      reply({ type: 'done', liveObjects: churn?.counters.liveObjects ?? 0 });
    } else {
      churn?.drain();
      kernel?.slab.detach();
      reply({ type: 'done', liveObjects: 0 });
    }
  } catch (error) {
    reply({ type: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};

function reply(message: WorkerReply): void {
  self.postMessage(message);
}
