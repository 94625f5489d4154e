// Worker side of the racing-double-free test: frees every object of the list in lockstep with
// another worker freeing the same list (a barrier before every few objects), counting frees that succeeded and
// frees refused as double frees. Then detaches.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { SlabDoubleFreeError } from '../../../src/mm/slab/errors.ts';

interface Input {
  buffer: SharedArrayBuffer;
  sync: SharedArrayBuffer;
  objects: number[];
  viaKfree: boolean;
}
const { buffer, sync, objects, viaKfree } = workerData as Input;
const kernel = Kernel.attach(buffer);
const cache = kernel.slab.cache('racy');
const gate = new Int32Array(sync);
const won = new Int32Array(objects.length);
const BATCH = 4;
cache.free(cache.alloc() as number); // claim the slot and load a magazine before the race
let refused = 0;
for (let i = 0; i < objects.length; i++) {
  // Lockstep: every BATCH objects both workers meet, then free the next BATCH together.
  if (i % BATCH === 0) {
    const round = i / BATCH + 1;
    Atomics.add(gate, 0, 1);
    Atomics.notify(gate, 0);
    for (let spin = 0; Atomics.load(gate, 0) < 2 * round; spin++) {
      if (spin > 200_000) Atomics.wait(gate, 0, Atomics.load(gate, 0), 1); // the other thread is descheduled
    }
  }
  try {
    if (viaKfree) kernel.kfree(objects[i] as number);
    else cache.free(objects[i] as number);
    won[i] = 1;
  } catch (error) {
    if (!(error instanceof SlabDoubleFreeError)) throw error;
    refused++;
  }
}
// Both finish freeing before either gives its magazines back (which may free whole slabs).
Atomics.add(gate, 1, 1);
while (Atomics.load(gate, 1) < 2) Atomics.wait(gate, 1, Atomics.load(gate, 1), 5);
kernel.detach();
parentPort?.postMessage({ won: Array.from(won), refused });
