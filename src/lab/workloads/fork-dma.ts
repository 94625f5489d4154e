/**
 * fork during DMA: a parent process receives into a user buffer by zero-copy DMA (each page pinned
 * with pinUserPages while a device writes it) and forks children meanwhile; a seeded schedule of
 * forks, parent and child writes, DMA starts and completions runs on a deterministic simulated clock
 * (1 µs per operation; a DMA completes 5..40 µs after it starts). A shadow model holds what every
 * process must read:
 *   each buffer page has a device region, bytes [0, 64), that only the device writes, and a process
 *   region, bytes [2048, 2112), that only the processes write (each its own copy);
 *   the parent's device region = the value of the page's last completed DMA (integrity: checked when
 *     a DMA completes; a mismatch is a lost DMA, the page is counted as corrupted and the model
 *     takes what the parent reads from then on);
 *   every process's process region = its own last write, or what its parent held when it forked
 *     (a mismatch is a kernel bug and throws: no process ever sees another's writes); each write is
 *     read back at once, and a random tenth of the operations compare every page of every process.
 * Under 'defer-write' a write that must wait (DmaWaitError) advances the clock to that DMA's
 * completion, completes it, and retries; the time waited is counted.
 */
import { Kernel } from '../../mm/kernel.ts';
import { DmaWaitError } from '../../mm/vm/cow.ts';
import type { ForkDmaPolicy } from '../../mm/vm/cow.ts';
import { forkAddressSpace } from '../../mm/vm/fork.ts';
import type { ForkStats } from '../../mm/vm/fork.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { pinUserPages, unpinUserPages } from '../../mm/vm/pin.ts';
import { MAP, PAGE_SIZE, PROT } from '../../mm/vm/types.ts';
import { assert } from '../../util/assert.ts';
import { InvariantError } from '../../util/errors.ts';
import { Prng } from '../../util/prng.ts';

export const DEVICE_REGION_BYTES = 64;
export const PROCESS_REGION = 2048;
const MAX_CHILDREN = 3;
const DMA_MIN_US = 5;
const DMA_MAX_US = 40;

export interface ForkDmaOptions {
  policy: ForkDmaPolicy;
  seed: number;
  ops: number;
  bufferPages?: number;
  ramBytes?: number;
  /** Kernel.validate() every this many operations (0: only at the end). */
  validateEvery?: number;
}

export interface ForkDmaResult {
  policy: ForkDmaPolicy;
  ops: number;
  forks: number;
  dmas: number;
  /** DMAs whose bytes the parent did not find where it expected them. */
  lostDmas: number;
  /** Pages copied: at fork (early-copy) and on write faults (copy-on-write). */
  pagesCopiedAtFork: number;
  pagesCopiedOnWrite: number;
  writes: number;
  writesWaited: number;
  waitedUs: number;
  simulatedUs: number;
}

interface Dma {
  page: number;
  pfn: number;
  value: number;
  doneAtUs: number;
}

interface Proc {
  mm: AddressSpace;
  /** Shadow of the process region's first byte, per page. */
  own: number[];
}

export function runForkDma(options: ForkDmaOptions): ForkDmaResult {
  const { policy, ops } = options;
  const nPages = options.bufferPages ?? 8;
  const kernel = Kernel.boot({ ramBytes: options.ramBytes ?? 32 << 20 });
  const vm = kernel.vm;
  const rng = new Prng(options.seed);
  const parentMm = vm.createAddressSpace();
  const base = parentMm.mmap(0, nPages * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS | MAP.POPULATE);
  const parent: Proc = { mm: parentMm, own: new Array<number>(nPages).fill(0) };
  const children: Proc[] = [];
  const device = new Array<number>(nPages).fill(0);
  const pending: Dma[] = [];
  /** The page's DMA in flight, or null: pending indexed by page. */
  const pendingAt = new Array<Dma | null>(nPages).fill(null);
  const fork: ForkStats = { sharedPages: 0, dmaCopies: 0, dontforkVmas: 0, wipedVmas: 0 };
  const copiesBefore = vm.counter('kmem_cow_copy');
  const r: ForkDmaResult = { policy, ops, forks: 0, dmas: 0, lostDmas: 0, pagesCopiedAtFork: 0, pagesCopiedOnWrite: 0, writes: 0, writesWaited: 0, waitedUs: 0, simulatedUs: 0 };
  let now = 0;
  let value = 1;
  const nextValue = (): number => (value = (value % 255) + 1);

  const complete = (dma: Dma): void => {
    pending.splice(pending.indexOf(dma), 1);
    pendingAt[dma.page] = null;
    kernel.ram.bytes.fill(dma.value, dma.pfn * PAGE_SIZE, dma.pfn * PAGE_SIZE + DEVICE_REGION_BYTES);
    unpinUserPages(vm, [dma.pfn]);
    const seen = parentMm.read(base + dma.page * PAGE_SIZE, DEVICE_REGION_BYTES);
    device[dma.page] = seen[0] as number;
    if (!seen.every((b) => b === dma.value)) r.lostDmas++;
  };
  /** Completes every DMA due by now, earliest first (the first started among equals). */
  const completeDue = (): void => {
    for (let guard = 0; guard <= nPages; guard++) {
      let due: Dma | null = null;
      for (const d of pending) if (d.doneAtUs <= now && (due === null || d.doneAtUs < due.doneAtUs)) due = d;
      if (due === null) return;
      complete(due);
    }
  };
  const write = (p: Proc, page: number): void => {
    const v = nextValue();
    r.writes++;
    for (let tries = 0; ; tries++) {
      assert(tries <= nPages, 'fork-dma: a write waited on more DMAs than the buffer has pages');
      try {
        p.mm.writeByte(base + page * PAGE_SIZE + PROCESS_REGION, v);
        break;
      } catch (e) {
        if (!(e instanceof DmaWaitError)) throw e;
        const dma = pending.find((d) => d.pfn === e.pfn);
        assert(dma !== undefined, () => `fork-dma: a write waits on pfn ${e.pfn}, which no DMA holds`);
        if (tries === 0) r.writesWaited++;
        r.waitedUs += Math.max(0, dma.doneAtUs - now);
        now = Math.max(now, dma.doneAtUs);
        complete(dma);
      }
    }
    p.own[page] = v;
    // The touched byte at once (check() compares every page of every process, at random times).
    const got = p.mm.readByte(base + page * PAGE_SIZE + PROCESS_REGION);
    if (got !== v) throw new InvariantError(`fork-dma (${policy}): a process wrote ${v} at page ${page} and reads back ${got}`);
  };
  const check = (p: Proc, who: string): void => {
    for (let page = 0; page < nPages; page++) {
      const got = p.mm.readByte(base + page * PAGE_SIZE + PROCESS_REGION);
      if (got !== p.own[page]) throw new InvariantError(`fork-dma (${policy}): ${who} reads ${got} at page ${page}, expected its own ${p.own[page]}`);
    }
    if (p !== parent) return;
    for (let page = 0; page < nPages; page++) {
      if (pendingAt[page] !== null) continue;
      const got = p.mm.readByte(base + page * PAGE_SIZE);
      if (got !== device[page]) throw new InvariantError(`fork-dma (${policy}): the parent reads ${got} in page ${page}'s device region, expected ${device[page]}`);
    }
  };

  for (let op = 0; op < ops; op++) {
    now++;
    completeDue();
    const roll = rng.int(100);
    if (roll < 20) {
      const page = rng.int(nPages);
      if (pendingAt[page] === null) {
        const pfn = pinUserPages(parentMm, base + page * PAGE_SIZE, 1, true)[0] as number;
        const dma = { page, pfn, value: nextValue(), doneAtUs: now + rng.range(DMA_MIN_US, DMA_MAX_US) };
        pending.push(dma);
        pendingAt[page] = dma;
        r.dmas++;
      }
    } else if (roll < 50) {
      write(parent, rng.int(nPages));
    } else if (roll < 60) {
      if (children.length >= MAX_CHILDREN) (children.shift() as Proc).mm.destroy();
      children.push({ mm: forkAddressSpace(parentMm, policy, fork), own: parent.own.slice() });
      r.forks++;
    } else if (roll < 75) {
      if (children.length > 0) write(rng.pick(children), rng.int(nPages));
    } else if (roll < 80) {
      if (children.length > 0) children.splice(rng.int(children.length), 1).forEach((c) => c.mm.destroy());
    } else if (roll < 90) {
      check(parent, 'the parent');
      children.forEach((c, i) => check(c, `child ${i}`));
    } else {
      now += rng.int(DMA_MAX_US);
      completeDue();
    }
    if (options.validateEvery !== undefined && options.validateEvery > 0 && (op + 1) % options.validateEvery === 0) kernel.validate();
  }
  for (const d of pending.slice().sort((a, b) => a.doneAtUs - b.doneAtUs)) {
    now = Math.max(now, d.doneAtUs);
    complete(d);
  }
  check(parent, 'the parent');
  children.forEach((c, i) => check(c, `child ${i}`));
  kernel.validate();
  r.pagesCopiedAtFork = fork.dmaCopies;
  r.pagesCopiedOnWrite = vm.counter('kmem_cow_copy') - copiesBefore;
  r.simulatedUs = now;
  for (const c of children) c.mm.destroy();
  parentMm.destroy();
  kernel.validate();
  return r;
}
