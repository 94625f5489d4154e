// One side of the hand-off benchmark: the turn word says whose turn it is (0 or 1); a side waits
// until it is its own, flips it and wakes the other — through bare Atomics.wait/notify, or through
// the kmem futex table (a waiter record enqueued in the bucket, woken FIFO).
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../src/mm/kernel.ts';
import { SyncDomain } from '../../src/sync/domain.ts';
import { LockKind } from '../../src/sync/types.ts';

interface Input {
  mode: 'atomics' | 'futex';
  side: 0 | 1;
  rounds: number;
  buffer: SharedArrayBuffer;
  syncPaddr: number;
  turnPaddr: number;
}

const { mode, side, rounds, buffer, syncPaddr, turnPaddr } = workerData as Input;
const kernel = Kernel.attach(buffer);
const sync = SyncDomain.attach(kernel, syncPaddr);
const lockIndex = sync.registerLock('pingpong', LockKind.Mutex, 'stack');
const w = sync.w;
const turn = turnPaddr / 4;
const other = 1 - side;
const start = performance.now();
for (let r = 0; r < rounds; r++) {
  while (Atomics.load(w, turn) !== side) {
    if (mode === 'atomics') Atomics.wait(w, turn, other, 1000);
    else sync.futex.wait(turn, other, lockIndex, 'stack', 1000);
  }
  Atomics.store(w, turn, other);
  if (mode === 'atomics') Atomics.notify(w, turn, 1);
  else sync.futex.wake(turn, 1);
}
parentPort?.postMessage({ elapsedMs: performance.now() - start, rounds });
