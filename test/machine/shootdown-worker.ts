// Worker side of the shootdown test. CPU 0 remaps pages and shoots down; CPU 1 reads them through its
// own TLB and checks that it never reads a frame older than the newest mapping whose shootdown has
// returned (published in `minRound` after the shootdown). With `skipShootdown` (the control run) the
// same reader must catch stale reads, so the check can fail.
import { parentPort, workerData } from 'node:worker_threads';
import { Ram } from '../../src/machine/ram.ts';
import { Cpu } from '../../src/machine/cpu.ts';
import { ShootdownDomain } from '../../src/machine/shootdown.ts';
import { PTE_PRESENT, PTE_USER, PTE_WRITABLE, makePteLo, writePte } from '../../src/machine/pte.ts';
import { skylake } from '../../src/machine/tlb-presets.ts';
import { Prng } from '../../src/util/prng.ts';

export interface ShootdownWorkerInput {
  ram: SharedArrayBuffer;
  domainWords: SharedArrayBuffer;
  control: SharedArrayBuffer;
  cr3: number;
  /** paddr of each page's PTE, and the first of 2 · pages data frames. */
  ptePaddrs: number[];
  framesPaddr: number;
  cpu: 0 | 1;
  rounds: number;
  skipShootdown: boolean;
}

export interface ShootdownWorkerReport {
  cpu: number;
  reads: number;
  violations: number;
  serviced: number;
}

const input = workerData as ShootdownWorkerInput;
const ram = Ram.over(input.ram);
const domain = new ShootdownDomain(new Int32Array(input.domainWords), 2);
const control = new Int32Array(input.control); // [0] done, [1] reader ready, [2 + page] minRound
const cpu = new Cpu(ram, { preset: skylake(), index: input.cpu });
cpu.attachShootdown(domain);
cpu.setCr3(input.cr3, 1);
const pages = input.ptePaddrs.length;
const words = new Int32Array(input.ram);
let reads = 0;
let violations = 0;

if (input.cpu === 1) {
  Atomics.store(control, 1, 1);
  const prng = new Prng(7);
  const deadline = Date.now() + 20_000; // bounded even if the initiator dies
  while (Atomics.load(control, 0) === 0 && Date.now() < deadline) {
    const page = prng.int(pages);
    const newest = Atomics.load(control, 2 + page);
    const stamp = cpu.load32(page * 4096);
    reads++;
    if (stamp < newest) violations++;
  }
} else {
  while (Atomics.load(control, 1) === 0) Atomics.wait(control, 1, 0, 5);
  for (let round = pages; round < pages + input.rounds; round++) {
    const page = round % pages;
    const frame = input.framesPaddr + (page * 2 + (Math.floor(round / pages) % 2)) * 4096;
    Atomics.store(words, frame / 4, round);
    writePte(words, input.ptePaddrs[page]!, makePteLo(frame, PTE_PRESENT | PTE_WRITABLE | PTE_USER), 0);
    if (!input.skipShootdown) cpu.shootdown([1], { kind: 'pages', pcid: 1, vaddr: page * 4096, pages: 1 });
    else {
      const until = Date.now() + 1;
      while (Date.now() < until) reads += 0;
    }
    Atomics.store(control, 2 + page, round);
  }
  Atomics.store(control, 0, 1);
}
parentPort!.postMessage({ cpu: input.cpu, reads, violations, serviced: cpu.shootdownsServiced } satisfies ShootdownWorkerReport);
