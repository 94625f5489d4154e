// One trial of killing workers in the middle of their operations (test/mm/slab/kill-worker.ts):
// boot, start the workers, let them run, terminate() and offline each in turn (the others still
// running), then check the kernel and free everything they recorded. Shared by the CI test
// (test/mm/slab/crash.test.ts) and the long sweep (`npm run kill-sweep`).
import { Kernel } from '../../src/mm/kernel.ts';
import { startLabWorker } from '../../src/lab/worker-thread.ts';
import { SlabFlag } from '../../src/mm/slab/layout.ts';
import { KILL_KINDS, KILL_OWNER } from '../mm/slab/kill-kinds.ts';

export interface KillTrialResult {
  /** Objects of the workers' caches still in use once everything recorded is freed: their in-flight operations. */
  objectsInUse: number;
  /** Pages not free again at the end, against the start. */
  pagesNotFree: number;
  /** Locks taken over from a dead worker (each rebuilt what it guards). */
  lockRecoveries: number;
}

/**
 * Runs `workers` workers for `delayMs`, then kills and offlines them. With `pageLimit`, the page
 * allocator keeps its limit counter (and takes its slow paths only); `pcp: false` boots without
 * per-CPU page lists. Throws if an offline stays
 * pending, if validate() fails, or if a recorded object or block does not free exactly once.
 */
export async function killTrial(options: { workers: number; delayMs: number; seed: number; pageLimit?: number; pcp?: boolean; onWorker?: (terminate: () => Promise<number>) => void }): Promise<KillTrialResult> {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: options.workers + 1, pageLimit: options.pageLimit ?? 0, pcp: options.pcp ?? true });
  kernel.createCache('killed-plain', 72);
  kernel.createCache('killed-ctor', 200, { ctor: (addr) => void (new Uint32Array(kernel.buffer)[addr >>> 2] = 0xc0ffee) });
  kernel.createCache('killed-redzone', 96, { flags: SlabFlag.RED_ZONE | SlabFlag.POISON });
  kernel.pages.drainPages();
  const freeAtStart = kernel.pages.freePagesTotal;
  const held = new SharedArrayBuffer(kernel.ram.sizeBytes / 2);
  const running = await Promise.all(
    Array.from({ length: options.workers }, async (_, k) => {
      const { worker, report } = startLabWorker<{ cpu: number; epoch: number }>(new URL('../mm/slab/kill-worker.ts', import.meta.url), { buffer: kernel.buffer, held, seed: options.seed * 10 + k });
      options.onWorker?.(() => worker.terminate());
      return { worker, claim: await report };
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  for (const { worker, claim } of running) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await worker.terminate();
    await exited;
    if (!kernel.offlineCpu(claim.cpu, claim.epoch)) throw new Error(`CPU ${claim.cpu} was not offlined`);
  }
  // An offline that met a lock a live worker held finishes on a timer: let it.
  for (let tries = 0; kernel.pendingOfflines().length > 0 && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
  if (kernel.pendingOfflines().length > 0) throw new Error(`offlines still pending: ${kernel.pendingOfflines().join(', ')}`);
  kernel.validate();
  const table = new Int32Array(held);
  const caches = { plain: kernel.slab.cache('killed-plain'), ctor: kernel.slab.cache('killed-ctor'), redzone: kernel.slab.cache('killed-redzone') };
  for (let i = 0; i < table.length; i++) {
    if (table[i] === 0) continue;
    const kind = KILL_KINDS[table[i]! - 1]!;
    const addr = i * 8;
    if (kind === 'kmalloc') kernel.kfree(addr);
    else if (kind.startsWith('page')) kernel.pages.freePages(addr >>> 12, Number(kind.slice(4)), KILL_OWNER);
    else caches[kind as keyof typeof caches].free(addr);
  }
  kernel.slab.shrink();
  kernel.pages.drainPages();
  kernel.validate();
  const objectsInUse = kernel.slab
    .stats()
    .caches.filter((c) => !c.name.startsWith('kmem_'))
    .reduce((sum, c) => sum + c.inUse, 0);
  return { objectsInUse, pagesNotFree: freeAtStart - kernel.pages.freePagesTotal, lockRecoveries: kernel.lockRecoveries.length };
}
