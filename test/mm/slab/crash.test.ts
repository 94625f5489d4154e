// A worker killed with terminate() never detaches: offlineCpu() gives its magazines back and frees
// its slot (and a lock it held), nothing is lost, and destroyCache works again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import type { Worker } from 'node:worker_threads';
import { startLabWorker } from '../../../src/lab/worker-thread.ts';
import { Prng } from '../../../src/util/prng.ts';
import { killTrial } from '../../helpers/kill-trial.ts';

test('workers killed with terminate() mid-run are offlined from worker.on("exit"): nothing lost', async (t) => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  const cache = kernel.createCache('crashy', 72);
  const held = new SharedArrayBuffer(kernel.ram.sizeBytes / 2);
  // The lock holder starts once the other worker has reported: started together, it could take the
  // slab lock while the other still allocates, and the other (alive, blocked on it) would then take
  // the lock over itself once the holder died, recording the recovery in its own kernel object.
  let firstReported = (): void => undefined;
  const first = new Promise<void>((resolve) => (firstReported = resolve));
  const runs = [false, true].map(
    (holdLock, i) =>
      new Promise<void>((resolve, reject) => void (holdLock ? first : Promise.resolve()).then(() => {
        const { worker, report } = startLabWorker(new URL('./crash-worker.ts', import.meta.url), { buffer: kernel.buffer, held, seed: 40 + i, holdLock });
        t.after(() => worker.terminate()); // the workers spin until killed: never leave one behind
        report.catch(() => undefined); // the outcome is judged from the 'message' and 'exit' handlers below
        let claim: { cpu: number; epoch: number } | null = null;
        const threadId = worker.threadId; // −1 once the worker has stopped
        worker.once('message', (message: { cpu: number; epoch: number }) => {
          claim = message;
          const slot = kernel.stats().cpuSlots[message.cpu]!;
          if (slot.threadId !== threadId || slot.epoch !== message.epoch) reject(new Error(`slot ${message.cpu} records thread ${slot.threadId} epoch ${slot.epoch}; expected the worker's, ${threadId} epoch ${message.epoch}`));
          if (!holdLock) firstReported();
          void worker.terminate(); // killed mid-run: no detach()
        });
        worker.once('error', reject);
        // The pattern README shows: offline the slot of a worker that exited, by its claim.
        worker.once('exit', () => {
          try {
            if (claim === null) throw new Error('worker exited before reporting its CPU');
            assert.equal(kernel.offlineCpu(claim.cpu, claim.epoch), true);
            assert.equal(kernel.offlineCpu(claim.cpu, claim.epoch), false, 'a second offline is a no-op');
            resolve();
          } catch (error) {
            reject(error as Error);
          }
        });
      })),
  );
  await Promise.all(runs);
  assert.equal(kernel.stats().cpuSlots.filter((s) => s.online).length, 1, 'only the main thread holds a slot');
  kernel.validate();
  // Free everything the dead workers held: each free succeeds once (exact state), then nothing is in use.
  const table = new Int32Array(held);
  let freed = 0;
  for (let i = 0; i < table.length; i++) {
    if (table[i] === 0) continue;
    if (table[i] === 1) cache.free(i * 8);
    else kernel.kfree(i * 8);
    freed++;
  }
  assert.ok(freed > 1000, `objects held by the dead workers: ${freed}`);
  assert.equal(kernel.lockRecoveries.length, 1, 'the lock the second worker held was taken over');
  kernel.slab.shrink();
  for (const c of kernel.slab.stats().caches) {
    if (!c.name.startsWith('kmem_')) assert.equal(c.inUse, 0, `${c.name}: objects lost`);
  }
  kernel.slab.destroyCache(cache);
  kernel.validate();
});

test('offlining a dead worker while another dead worker still holds a lock neither blocks nor loses: it completes once that one is offlined', async (t) => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  const cache = kernel.createCache('crashy', 72);
  const held = new SharedArrayBuffer(kernel.ram.sizeBytes / 2);
  // Both workers report before either dies, so that the order of the exits is the test's. The
  // holder starts after the other has finished allocating (it would otherwise wait on the lock).
  const start = (holdLock: boolean, seed: number): { worker: Worker; claim: Promise<{ cpu: number; epoch: number }> } => {
    const { worker, report } = startLabWorker(new URL('./crash-worker.ts', import.meta.url), { buffer: kernel.buffer, held, seed, holdLock });
    t.after(() => worker.terminate());
    report.catch(() => undefined);
    const claim = new Promise<{ cpu: number; epoch: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return { worker, claim };
  };
  const workers = [start(false, 50)];
  const plain = await workers[0]!.claim;
  workers.push(start(true, 51));
  const holder = await workers[1]!.claim;
  const exited = (i: number): Promise<void> => new Promise((resolve) => workers[i]!.worker.once('exit', () => resolve()));
  // The worker without the lock dies first; its offline meets the slab lock the other still holds.
  let done = exited(0);
  await workers[0]!.worker.terminate();
  await done;
  const begun = performance.now();
  assert.equal(kernel.offlineCpu(plain.cpu, plain.epoch), true);
  assert.ok(performance.now() - begun < 5_000, `offlineCpu waited ${(performance.now() - begun).toFixed(0)} ms for a busy lock`);
  assert.deepEqual(kernel.pendingOfflines(), [plain.cpu], 'the teardown waits for the lock');
  assert.equal(kernel.offlineCpu(plain.cpu, plain.epoch), false, 'offlining it again is a no-op');
  assert.equal(kernel.stats().cpuSlots[plain.cpu]!.offlining, true);
  // The holder dies: offlining it takes its lock over, and the first teardown completes too.
  done = exited(1);
  await workers[1]!.worker.terminate();
  await done;
  assert.equal(kernel.offlineCpu(holder.cpu, holder.epoch), true);
  assert.deepEqual(kernel.pendingOfflines(), []);
  assert.equal(kernel.stats().cpuSlots.filter((s) => s.online).length, 1, 'only the main thread holds a slot');
  kernel.validate();
  const table = new Int32Array(held);
  for (let i = 0; i < table.length; i++) {
    if (table[i] === 1) cache.free(i * 8);
    else if (table[i] === 2) kernel.kfree(i * 8);
  }
  kernel.slab.shrink();
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'crashy')!.inUse, 0, 'objects lost');
  kernel.validate();
});

test('workers killed with terminate() in the middle of their operations are offlined and nothing free is lost', async (t) => {
  // Kill times from a seeded PRNG, so that a failing trial can be run again; where V8 stops each
  // worker within its loop is the machine's. `npm run kill-sweep` runs many more.
  const prng = new Prng(77);
  const workers = 2;
  for (let trial = 0; trial < 6; trial++) {
    // Half the trials with a page limit above what 64 MiB holds: it never refuses, but its counter
    // runs; the last of them without per-CPU page lists (the counter's in-flight word is the CPU's).
    const pageLimit = trial % 2 === 1 ? 20_000 : 0;
    const pcp = trial !== 5;
    const result = await killTrial({ workers, delayMs: 5 + prng.int(60), seed: trial, pageLimit, pcp, onWorker: (terminate) => t.after(terminate) });
    // What a kill may cost: the operation each worker was in (an object, or a block of pages, it
    // had taken and not yet recorded, or was freeing), never what was free.
    assert.ok(result.objectsInUse <= workers, `trial ${trial}: ${result.objectsInUse} objects still in use`);
    assert.ok(result.pagesNotFree <= 16 * workers, `trial ${trial}: ${result.pagesNotFree} pages not free again`);
  }
});
