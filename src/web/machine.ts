/**
 * A live machine in the page: a kmem kernel over an ArrayBuffer (a SharedArrayBuffer where the page
 * is cross-origin isolated), driven by the lab's page and object churn workloads one step at a
 * time. Worker CPUs (Web Workers) attach to the same kernel and run object churn of their own; the
 * page waits for every worker at the end of a step, so what it draws and validates is a quiescent
 * kernel.
 */
import { Kernel } from '../mm/kernel.ts';
import { ObjectChurn, createObjectCaches } from '../lab/workloads/object-churn.ts';
import { PageChurn } from '../lab/workloads/page-churn.ts';
import type { WorkerReply, WorkerRequest } from './cpu-worker.ts';

export interface MachineOptions {
  ramMiB: number;
  seed: number;
  groupByMobility: boolean;
  /** Web Workers allocating from the same kernel (0 without cross-origin isolation). */
  workers: number;
}

export class LiveMachine {
  steps = 0;
  /** Objects live in the workers, by worker, after the last step. */
  workerObjects: number[] = [];
  private constructor(
    readonly kernel: Kernel,
    readonly pages: PageChurn,
    readonly objects: ObjectChurn,
    private readonly workers: Worker[],
    readonly design: string,
  ) {}

  static async create(options: MachineOptions): Promise<LiveMachine> {
    const shared = options.workers > 0;
    const kernel = Kernel.boot({ ramBytes: `${options.ramMiB}MiB`, shared, cpus: 1 + options.workers, groupByMobility: options.groupByMobility });
    createObjectCaches(kernel);
    const pages = new PageChurn(kernel, { steps: 0, usage: 0.55, unmovableShare: 0.12, reclaimableShare: 0.08, lifetimeRatio: 12, seed: options.seed });
    const objects = new ObjectChurn(kernel, options.seed + 1);
    const workers: Worker[] = [];
    for (let i = 0; i < options.workers; i++) {
      const worker = new Worker(new URL('./cpu-worker.ts', import.meta.url), { type: 'module' });
      await call(worker, { type: 'init', buffer: kernel.buffer as SharedArrayBuffer, seed: options.seed + 100 + i });
      workers.push(worker);
    }
    const design = options.groupByMobility ? 'grouped by mobility (Linux default)' : 'not grouped (page_group_by_mobility_disabled)';
    return new LiveMachine(kernel, pages, objects, workers, design);
  }

  /** Runs `steps` requests of each workload here and in every worker, then checks the kernel. */
  async step(steps: number): Promise<void> {
    const replies = this.workers.map((w) => call(w, { type: 'step', steps }));
    this.pages.run(steps);
    this.objects.run(steps);
    this.workerObjects = (await Promise.all(replies)).map((r) => ('liveObjects' in r ? r.liveObjects : 0));
    this.steps += steps;
    this.kernel.validate();
  }

  /** Gives the workers' CPUs back to the kernel and stops them. */
  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => call(w, { type: 'detach' })));
    for (const w of this.workers) w.terminate();
  }
}

function call(worker: Worker, request: WorkerRequest): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => (event.data.type === 'error' ? reject(new Error(event.data.message)) : resolve(event.data));
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage(request);
  });
}
