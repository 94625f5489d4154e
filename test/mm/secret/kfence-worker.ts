// Worker side of the cross-thread KFENCE test: attach to the shared arena (this thread never enabled
// KFENCE), touch past a live object and into a freed one through the direct map, and post what the
// kernel reported.
import { parentPort, workerData } from 'node:worker_threads';
import { Kernel } from '../../../src/mm/kernel.ts';
import { KfenceError } from '../../../src/mm/secret/kfence.ts';
import { DIRECT_MAP_BASE } from '../../../src/mm/vm/types.ts';

interface Input {
  buffer: SharedArrayBuffer;
  overflowAt: number;
  freedAt: number;
}

const { buffer, overflowAt, freedAt } = workerData as Input;
const kernel = Kernel.attach(buffer);
const results: { bug: string; object: number; offset: number; allocSite: string; freeSite: string | null }[] = [];
for (const paddr of [overflowAt, freedAt]) {
  try {
    kernel.vm.kernelRead(DIRECT_MAP_BASE + paddr, 1);
    results.push({ bug: 'none', object: 0, offset: 0, allocSite: '', freeSite: null });
  } catch (error) {
    if (!(error instanceof KfenceError)) throw error;
    results.push({ bug: error.bug, object: error.object, offset: error.offset, allocSite: error.allocSite, freeSite: error.freeSite });
  }
}
kernel.detach();
parentPort?.postMessage(results);
