// Worker side of the destroy race: for each round, looks up the cache 'victim', allocates and frees
// from it as fast as it can (draining its magazines after each pair, so that destroyCache is not
// refused for them) until it gets CacheDestroyedError. Every object it got must be a whole object
// of the cache, stamped and checked before it is freed. In the rounds the main thread marks (gate
// word 3), the cache has a constructor, whose first call waits inside the constructor (gate word 4
// says so) until the main thread has tried to destroy the cache (gate word 5).
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { CacheDestroyedError, CacheNameError } from '../../../src/mm/slab/errors.ts';

interface Input {
  buffer: SharedArrayBuffer;
  sync: SharedArrayBuffer;
  rounds: number;
}
const { buffer, sync, rounds } = workerData as Input;
const kernel = Kernel.attach(buffer);
const gate = new Int32Array(sync);
const w = new Int32Array(buffer);
const report = { pairs: 0, destroyedSeen: 0, lookupMissed: 0, capped: 0, bad: 0, otherErrors: [] as string[] };
for (let round = 1; round <= rounds; round++) {
  while (Atomics.load(gate, 0) < round) Atomics.wait(gate, 0, Atomics.load(gate, 0), 5);
  let cache;
  let waited = false;
  const ctor = (): void => {
    if (waited) return;
    waited = true;
    Atomics.store(gate, 4, round);
    Atomics.notify(gate, 4);
    for (let spins = 0; Atomics.load(gate, 5) < round && spins < 2000; spins++) Atomics.wait(gate, 5, Atomics.load(gate, 5), 1);
  };
  try {
    cache = kernel.slab.cache('victim', Atomics.load(gate, 3) === round ? { ctor } : {});
  } catch (error) {
    if (!(error instanceof CacheNameError)) throw error;
    cache = null; // destroyed before this worker looked it up
    report.lookupMissed++;
  }
  Atomics.store(gate, 1, round); // started
  Atomics.notify(gate, 1);
  let i = 0;
  for (; cache !== null && i < 1_000_000; i++) {
    try {
      const addr = cache.alloc() as number;
      if (cache.objectStartError(addr) !== null) report.bad++;
      w[addr >>> 2] = round;
      if (w[addr >>> 2] !== round) report.bad++;
      cache.free(addr);
      cache.drain();
      report.pairs++;
    } catch (error) {
      if (error instanceof CacheDestroyedError) {
        report.destroyedSeen++;
        break;
      }
      report.otherErrors.push(String(error));
      break;
    }
  }
  if (i === 1_000_000) report.capped++;
  Atomics.store(gate, 2, round); // done
  Atomics.notify(gate, 2);
}
kernel.detach();
parentPort?.postMessage(report);
