// Worker side of the multi-worker slab test. Attaches to the shared kernel, allocates from a shared
// cache and from kmalloc, stamps each object with its owner, claims it in a shared table (a second
// claim means an object was handed out twice), and frees at random: its own objects, and objects
// another worker sent it through a single-producer ring (so objects are freed by a worker other
// than the one that allocated them). Reports what it saw.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { Prng } from '../../../src/util/prng.ts';
import { RING_SLOTS, ringPop, ringPush } from './ring.ts';

interface Input {
  buffer: SharedArrayBuffer;
  claims: SharedArrayBuffer;
  rings: SharedArrayBuffer;
  id: number;
  workers: number;
  ops: number;
}

const { buffer, claims: claimsBuffer, rings: ringsBuffer, id, workers, ops } = workerData as Input;
const kernel = Kernel.attach(buffer);
const cache = kernel.slab.cache('shared48');
const claims = new Int32Array(claimsBuffer);
const rings = new Int32Array(ringsBuffer);
const w32 = new Int32Array(buffer);
const prng = new Prng(1000 + id);
const inbox = id;
const outbox = (id + 1) % workers;
/** The only worker that sends to this inbox: its objects must still carry its stamp. */
const sender = (id + workers - 1) % workers;
const live: number[] = [];
let seq = 0;
const report = { id, allocs: 0, frees: 0, crossFrees: 0, doubles: 0, corrupt: 0, failures: 0 };

/** Objects are tagged by kind in bit 0 of the value kept in `live`: 0 = cache, 1 = kmalloc. */
function alloc(): void {
  const fromCache = prng.chance(0.5);
  const addr = fromCache ? cache.alloc() : kernel.kmalloc(prng.range(16, 512));
  if (addr === null) {
    report.failures++;
    return;
  }
  if (Atomics.compareExchange(claims, addr >>> 3, 0, id + 1) !== 0) report.doubles++;
  w32[addr >>> 2] = (id << 24) | (++seq & 0xffffff);
  live.push(addr * 2 + (fromCache ? 0 : 1));
  report.allocs++;
}

function free(tagged: number, from: number): void {
  const addr = Math.floor(tagged / 2);
  if (w32[addr >>> 2]! >>> 24 !== from) report.corrupt++;
  if (Atomics.compareExchange(claims, addr >>> 3, from + 1, 0) !== from + 1) report.doubles++;
  if (tagged % 2 === 0) cache.free(addr);
  else kernel.kfree(addr);
  report.frees++;
}

for (let op = 0; op < ops; op++) {
  for (let tagged = ringPop(rings, inbox); tagged !== -1; tagged = ringPop(rings, inbox)) {
    free(tagged, sender);
    report.crossFrees++;
  }
  const r = prng.nextFloat();
  if (live.length > 0 && (live.length > 3000 || r < 0.45)) {
    const index = prng.int(live.length);
    const tagged = live[index] as number;
    live[index] = live[live.length - 1] as number;
    live.pop();
    if (r < 0.1 && ringPush(rings, outbox, tagged)) continue;
    free(tagged, id);
  } else {
    alloc();
  }
}
for (const tagged of live) free(tagged, id);
// Wait until every worker has finished sending, then free what is left in the inbox.
Atomics.add(rings, workers * RING_SLOTS, 1);
while (Atomics.load(rings, workers * RING_SLOTS) < workers) Atomics.wait(rings, workers * RING_SLOTS, Atomics.load(rings, workers * RING_SLOTS), 10);
for (let tagged = ringPop(rings, inbox); tagged !== -1; tagged = ringPop(rings, inbox)) {
  free(tagged, sender);
  report.crossFrees++;
}
kernel.slab.detach();
parentPort?.postMessage(report);
