/**
 * Fuzz of swap against a shadow model of every process's memory: up to four processes (fork, exit),
 * each a window of WINDOW pages whose every byte the model knows. Operations: mmap (MAP_FIXED), munmap,
 * writes and reads of a few bytes, MADV_DONTNEED, mlock / munlock, reclaim (reclaimPages), compaction,
 * fork and exit. Most of RAM is taken by a balloon, so faults also run direct reclaim. After every
 * operation the bytes it touched and one whole random page are compared with the model (a read of a
 * swapped page swaps it in), and no page of an mlocked range is ever a swap PTE; every
 * `validateEvery` operations the kernel validates (swap_map counts against the swap PTEs included)
 * and every mapped page is compared whole.
 */
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { mlock, munlock } from '../../src/mm/secret/tags.ts';
import { BufferBacking } from '../../src/mm/swap/backing.ts';
import { isSwapPte } from '../../src/mm/swap/swp-entry.ts';
import { swapon } from '../../src/mm/swap/swapfile.ts';
import { swapStats } from '../../src/mm/swap/validate.ts';
import { reclaimPages } from '../../src/mm/swap/vmscan.ts';
import { SegvError, SyscallError } from '../../src/mm/vm/errors.ts';
import { forkAddressSpace } from '../../src/mm/vm/fork.ts';
import type { AddressSpace } from '../../src/mm/vm/mm-struct.ts';
import { MADV, MAP, PROT } from '../../src/mm/vm/types.ts';
import { InvariantError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';

export interface SwapFuzzOptions {
  seed: number;
  ops: number;
  validateEvery?: number;
}

export interface SwapFuzzReport {
  ops: number;
  pswpout: number;
  pswpin: number;
  directReclaims: number;
  forks: number;
  enomem: number;
  segv: number;
  peakSwapSlots: number;
}

const WINDOW = 64;
const P = 4096;
const BASE = 0x1000_0000;
const MAX_PROCS = 4;

interface Proc {
  mm: AddressSpace;
  /** Each page's bytes, or null where nothing is mapped. */
  pages: (Uint8Array | null)[];
  locked: boolean[];
}

export function fuzzSwap(options: SwapFuzzOptions): SwapFuzzReport {
  const prng = new Prng(options.seed);
  const validateEvery = options.validateEvery ?? 500;
  const kernel = Kernel.boot({ ramBytes: '24MiB', cpus: 1 });
  const vm = kernel.vm;
  swapon(vm, BufferBacking.create(MAX_PROCS * WINDOW * 2));
  // The balloon: leave about 60 free pages, fewer than the processes can map.
  for (let n = 0; vm.pages.freePagesTotal > 60 && n < 1 << 16; n++) {
    if (vm.pages.tryAllocPages(0, GFP.KERNEL | GFP.NORETRY | GFP.NOWARN, 0x5eed) === null) break;
  }
  const report: SwapFuzzReport = { ops: 0, pswpout: 0, pswpin: 0, directReclaims: 0, forks: 0, enomem: 0, segv: 0, peakSwapSlots: 0 };
  const procs: Proc[] = [{ mm: vm.createAddressSpace(), pages: new Array<Uint8Array | null>(WINDOW).fill(null), locked: new Array<boolean>(WINDOW).fill(false) }];
  const fail = (what: string): never => {
    throw new InvariantError(`swap fuzz seed ${options.seed} op ${report.ops}: ${what}`);
  };
  const addr = (page: number): number => BASE + page * P;
  const checkPage = (proc: Proc, page: number): void => {
    const model = proc.pages[page];
    if (model === null || model === undefined) return;
    const got = proc.mm.read(addr(page), P);
    for (let i = 0; i < P; i++) if (got[i] !== model[i]) fail(`pid ${proc.mm.pid} page ${page} byte ${i}: ${got[i]}, the model says ${model[i]}`);
  };
  const checkLocked = (): void => {
    for (const proc of procs) {
      for (let page = 0; page < WINDOW; page++) {
        if (!proc.locked[page]) continue;
        const slot = vm.tables.entry(proc.mm.pgdPfn, addr(page), 1, false);
        if (slot >= 0 && isSwapPte(vm.u[slot] as number)) fail(`pid ${proc.mm.pid} page ${page} is mlocked yet swapped out`);
      }
    }
  };
  const range = (): [number, number] => {
    const start = prng.int(WINDOW);
    return [start, Math.min(WINDOW, start + 1 + prng.int(16))];
  };
  for (; report.ops < options.ops; report.ops++) {
    const proc = procs[prng.int(procs.length)] as Proc;
    const mm = proc.mm;
    const op = prng.int(100);
    try {
      if (op < 8) {
        const [s, e] = range();
        mm.mmap(addr(s), (e - s) * P, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED);
        for (let p = s; p < e; p++) {
          proc.pages[p] = new Uint8Array(P);
          proc.locked[p] = false;
        }
      } else if (op < 12) {
        const [s, e] = range();
        mm.munmap(addr(s), (e - s) * P);
        for (let p = s; p < e; p++) {
          proc.pages[p] = null;
          proc.locked[p] = false;
        }
      } else if (op < 50) {
        const page = prng.int(WINDOW);
        const at = prng.int(P - 16);
        const bytes = new Uint8Array(1 + prng.int(16)).map(() => prng.int(256));
        try {
          mm.write(addr(page) + at, bytes);
          const model = proc.pages[page];
          if (model === null || model === undefined) throw new InvariantError(`swap fuzz seed ${options.seed} op ${report.ops}: write to unmapped page ${page} succeeded`);
          model.set(bytes, at);
        } catch (error) {
          if (!(error instanceof SegvError)) throw error;
          if (proc.pages[page] !== null) fail(`write to mapped page ${page} faulted: ${error.message}`);
          report.segv++;
        }
      } else if (op < 70) {
        const page = prng.int(WINDOW);
        if (proc.pages[page] === null) {
          try {
            mm.readByte(addr(page));
            fail(`read of unmapped page ${page} succeeded`);
          } catch (error) {
            if (!(error instanceof SegvError)) throw error;
            report.segv++;
          }
        } else {
          checkPage(proc, page);
        }
      } else if (op < 82) {
        const before = vm.counter('pswpout');
        reclaimPages(vm, 1 + prng.int(48));
        if (vm.counter('pswpout') < before) fail('pswpout went down');
        checkLocked();
      } else if (op < 85) {
        const [s, e] = range();
        // MADV_DONTNEED is refused on VM_LOCKED ranges (EINVAL), so only unlocked ones.
        if (proc.pages.slice(s, e).every((p) => p !== null) && !proc.locked.slice(s, e).some((l) => l)) {
          mm.madvise(addr(s), (e - s) * P, MADV.DONTNEED);
          for (let p = s; p < e; p++) (proc.pages[p] as Uint8Array).fill(0);
        }
      } else if (op < 88) {
        const page = prng.int(WINDOW);
        const e = Math.min(WINDOW, page + 1 + prng.int(3));
        if (proc.pages.slice(page, e).every((p) => p !== null)) {
          mlock(mm, addr(page), (e - page) * P);
          for (let p = page; p < e; p++) proc.locked[p] = true;
          checkLocked();
        }
      } else if (op < 91) {
        const [s, e] = range();
        if (proc.pages.slice(s, e).every((p) => p !== null)) {
          munlock(mm, addr(s), (e - s) * P);
          for (let p = s; p < e; p++) proc.locked[p] = false;
        }
      } else if (op < 93) {
        vm.compact();
      } else if (op < 97) {
        if (procs.length < MAX_PROCS) {
          const child = forkAddressSpace(mm, 'naive');
          report.forks++;
          // The child does not inherit VM_LOCKED (dup_mmap clears it): none of its pages is locked.
          procs.push({ mm: child, pages: proc.pages.map((p) => (p === null ? null : p.slice())), locked: proc.locked.map(() => false) });
        }
      } else if (procs.length > 1) {
        procs.splice(procs.indexOf(proc), 1);
        mm.destroy();
      }
      const other = procs[prng.int(procs.length)] as Proc;
      checkPage(other, prng.int(WINDOW));
    } catch (error) {
      const enomem = error instanceof SyscallError && error.errno === 'ENOMEM';
      if (!enomem) throw error;
      // Out of memory (all of it locked or in page tables): nothing changed; the kernel still validates.
      report.enomem++;
      kernel.validate();
    }
    report.peakSwapSlots = Math.max(report.peakSwapSlots, swapStats(vm).usedPages);
    if ((report.ops + 1) % validateEvery === 0) {
      kernel.validate();
      for (const p of procs) for (let page = 0; page < WINDOW; page++) checkPage(p, page);
    }
  }
  kernel.validate();
  for (const p of procs) for (let page = 0; page < WINDOW; page++) checkPage(p, page);
  report.pswpout = vm.counter('pswpout');
  report.pswpin = vm.counter('pswpin');
  report.directReclaims = vm.counter('allocstall_movable');
  return report;
}
