// One worker of the throughput benchmark, from a kmem cache on a shared arena or from the
// global-lock slab baseline, for a fixed time:
//   pair      alloc+free pairs (with a ring of 64 live objects)
//   producer  allocates and hands each object to the consumer through a single-producer,
//             single-consumer ring in shared memory (test/mm/slab/ring.ts)
//   consumer  frees what the producer hands over, until the producer is done and the ring is empty
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../src/mm/kernel.ts';
import { ringPop, ringPush } from '../../test/mm/slab/ring.ts';
import { LockedSlab } from '../baselines/locked-slab.ts';

interface Input {
  mode: 'kmem' | 'locked';
  role: 'pair' | 'producer' | 'consumer';
  /** The producer/consumer ring (ring.ts, one ring). */
  ring: SharedArrayBuffer;
  buffer: SharedArrayBuffer;
  count: number;
  sizeBytes: number;
  start: SharedArrayBuffer;
  durationMs: number;
}

const { mode, role, ring: ringBuffer, buffer, count, sizeBytes, start, durationMs } = workerData as Input;
let alloc: () => number;
let free: (addr: number) => void;
let done = (): void => undefined;
if (mode === 'kmem') {
  const kernel = Kernel.attach(buffer);
  const cache = kernel.slab.cache('bench-mt');
  alloc = () => cache.alloc() as number;
  free = (addr) => cache.free(addr);
  done = () => kernel.slab.detach();
} else {
  const slab = new LockedSlab(buffer, count, sizeBytes);
  alloc = () => slab.alloc();
  free = (addr) => slab.free(addr);
}
/** gate words: [0] the starting gun, [1] workers ready, [2] the producer is done. */
const gate = new Int32Array(start);
const handoff = new Int32Array(ringBuffer);

/** Pairs on a ring of 64 live objects until the time is up; the pairs done. */
function pairs(wait: () => number): { ops: number; now: number } {
  const ring = new Float64Array(64);
  for (let i = 0; i < 64; i++) ring[i] = alloc();
  const began = wait();
  let ops = 0;
  let now = began;
  while (now - began < durationMs) {
    for (let i = 0; i < 4096; i++) {
      const j = i & 63;
      free(ring[j] as number);
      ring[j] = alloc();
    }
    ops += 4096;
    now = performance.now();
  }
  for (let i = 0; i < 64; i++) free(ring[i] as number);
  return { ops, now };
}

/** Allocates and hands over until the time is up (spinning while the ring is full); the objects handed over. */
function produce(began: number): { ops: number; now: number } {
  let ops = 0;
  let now = began;
  while (now - began < durationMs) {
    for (let i = 0; i < 1024; i++) {
      const addr = alloc();
      while (!ringPush(handoff, 0, addr));
    }
    ops += 1024;
    now = performance.now();
  }
  Atomics.store(gate, 2, 1);
  return { ops, now };
}

/** Frees what is handed over until the producer is done and the ring is empty; the objects freed. */
function consume(): { ops: number; now: number } {
  let ops = 0;
  for (;;) {
    const addr = ringPop(handoff, 0);
    if (addr !== -1) {
      free(addr);
      ops++;
    } else if (Atomics.load(gate, 2) === 1) {
      // Every push came before the flag: one more look finds the last ones, or nothing.
      const last = ringPop(handoff, 0);
      if (last === -1) break;
      free(last);
      ops++;
    }
  }
  return { ops, now: performance.now() };
}

/** Waits for the starting gun so that workers run at the same time; the time it fired. */
function waitForStart(): number {
  Atomics.add(gate, 1, 1);
  while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0, 5);
  return performance.now();
}

let began = 0;
let result: { ops: number; now: number };
if (role === 'pair') {
  result = pairs(() => (began = waitForStart()));
} else {
  began = waitForStart();
  result = role === 'producer' ? produce(began) : consume();
}
done();
parentPort?.postMessage({ ops: result.ops, elapsedMs: result.now - began });
