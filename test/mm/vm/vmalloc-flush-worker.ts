// Worker side of test/mm/vm/vmalloc-flush.test.ts: a CPU of its own, bound to the kernel, in
// supervisor mode, loads a vmalloc address over and over; it counts a load that succeeds after the
// main thread published that vfree() had returned (its translation should have been shot down).
import { parentPort, workerData } from 'node:worker_threads';
import { Cpu } from '../../../src/machine/cpu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { bindCpu } from '../../../src/mm/vm/cpu-binding.ts';
import { SegvError } from '../../../src/mm/vm/errors.ts';

const { buffer, control, pid, addr } = workerData as { buffer: SharedArrayBuffer; control: SharedArrayBuffer; pid: number; addr: number };
const ctl = new Int32Array(control); // [0] ready, [1] vfree returned
const kernel = Kernel.attach(buffer);
const claim = kernel.cpuClaim();
const cpu = new Cpu(kernel.ram, { preset: skylake(), index: claim.cpu });
bindCpu(kernel.vm, cpu).switchTo(kernel.vm.addressSpace(pid)!);
cpu.setUser(false);
const first = cpu.load8(addr); // the translation, cached
Atomics.store(ctl, 0, 1);
let loads = 0;
let violations = 0;
let faulted = false;
const deadline = Date.now() + 60_000;
while (!faulted && Date.now() < deadline) {
  const returned = Atomics.load(ctl, 1);
  try {
    cpu.load8(addr);
    if (returned === 1) violations++;
  } catch (error) {
    if (!(error instanceof SegvError)) throw error;
    faulted = true;
  }
  loads++;
  if (returned === 1 && loads > 1_000_000) break;
}
kernel.detach();
parentPort?.postMessage({ first, loads, violations, faulted });
