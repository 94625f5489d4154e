// Worker side of test/mm/vm/shootdown-workers.test.ts: two threads share one address space, each with
// an emulated CPU bound to the kernel as its own CPU slot. The changer unmaps, protects or discards
// (MADV_DONTNEED) one page per round and publishes, after the call returned, that the page is gone;
// the reader keeps loading the pages through its own TLB and counts a load that succeeds (or, after
// DONTNEED, returns an old stamp) while the page is published gone. In `stale` mode the reader loads
// CR3 itself instead of switch_mm, so it is in no CPU mask and must be caught reading stale entries.
import { parentPort, workerData } from 'node:worker_threads';
import { Cpu } from '../../../src/machine/cpu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { bindCpu, pcidOf } from '../../../src/mm/vm/cpu-binding.ts';
import { SegvError } from '../../../src/mm/vm/errors.ts';
import { MADV, MAP, PAGE_SIZE, PROT } from '../../../src/mm/vm/types.ts';
import { Prng } from '../../../src/util/prng.ts';
import { C } from './shootdown-workers-control.ts';

export interface VmShootdownInput {
  buffer: SharedArrayBuffer;
  control: SharedArrayBuffer;
  pid: number;
  base: number;
  pages: number;
  role: 'changer' | 'reader';
  rounds: number;
  /** The reader skips switch_mm (not in the mm's CPU mask): the control run. */
  stale: boolean;
  /** The changer asks the reader to park after this many rounds (0: never); the test then kills and offlines it. */
  parkAfter: number;
}

export interface VmShootdownReport {
  role: string;
  cpu: number;
  loads: number;
  faults: number;
  violations: number;
  rounds: number;
}


const input = workerData as VmShootdownInput;
const control = new Int32Array(input.control);
const kernel = Kernel.attach(input.buffer);
const vm = kernel.vm;
const mm = vm.addressSpace(input.pid)!;
const claim = kernel.cpuClaim();
const cpu = new Cpu(kernel.ram, { preset: skylake(), index: claim.cpu });
const binding = bindCpu(vm, cpu);
const report: VmShootdownReport = { role: input.role, cpu: claim.cpu, loads: 0, faults: 0, violations: 0, rounds: 0 };
const pageAddr = (page: number): number => input.base + page * PAGE_SIZE;

if (input.role === 'reader') {
  if (input.stale) {
    cpu.setCr3(mm.cr3, pcidOf(mm));
    cpu.setUser(true);
  } else {
    binding.switchTo(mm);
  }
  Atomics.store(control, C.READER_CPU, claim.cpu);
  Atomics.store(control, C.READER_EPOCH, claim.epoch);
  Atomics.store(control, C.READY, 1);
  const prng = new Prng(11);
  const deadline = Date.now() + 60_000; // bounded even if the changer dies
  while (Atomics.load(control, C.DONE) === 0 && Date.now() < deadline) {
    if (Atomics.load(control, C.PARK) !== 0) {
      // Stop answering anything, as a CPU that hung: the test terminates this thread and offlines its slot.
      Atomics.store(control, C.PARKED, 1);
      for (;;) Atomics.wait(control, C.DONE, Atomics.load(control, C.DONE), 1000);
    }
    const page = prng.int(input.pages);
    const before = Atomics.load(control, C.STATE + page);
    let value = -1;
    try {
      value = cpu.load32(pageAddr(page));
    } catch (error) {
      if (!(error instanceof SegvError)) throw error;
      report.faults++;
    }
    report.loads++;
    const after = Atomics.load(control, C.STATE + page);
    // Odd state 2r + 1: round r's change returned and the page is not back yet.
    if (before === after && (before & 1) === 1 && value !== -1) {
      const round = (before - 1) / 2;
      if (round % 3 !== 2 || value !== 0) report.violations++;
    }
  }
} else {
  binding.switchTo(mm);
  while (Atomics.load(control, C.READY) === 0) Atomics.wait(control, C.READY, 0, 5);
  for (let round = 1; round <= input.rounds; round++) {
    if (round === input.parkAfter) Atomics.store(control, C.PARK, 1);
    const page = round % input.pages;
    const addr = pageAddr(page);
    const kind = round % 3;
    if (kind === 0) mm.munmap(addr, PAGE_SIZE);
    else if (kind === 1) mm.mprotect(addr, PAGE_SIZE, PROT.NONE);
    else mm.madvise(addr, PAGE_SIZE, MADV.DONTNEED);
    Atomics.store(control, C.STATE + page, 2 * round + 1);
    const until = performance.now() + 0.1; // give the reader time to try the page while it is gone
    while (performance.now() < until) report.loads += 0;
    Atomics.store(control, C.STATE + page, 2 * round + 2);
    if (kind === 0) mm.mmap(addr, PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED);
    else if (kind === 1) mm.mprotect(addr, PAGE_SIZE, PROT.READ | PROT.WRITE);
    cpu.store32(addr, round);
    report.rounds++;
  }
  Atomics.store(control, C.DONE, 1);
}
parentPort!.postMessage(report);
