/**
 * Fuzz of anonymous virtual memory against a shadow model of the address space: which page of a
 * 512-page window is mapped with which protection, and which value every virtual byte holds.
 * Operations: mmap (MAP_FIXED, MAP_FIXED_NOREPLACE, hinted), munmap, mprotect, madvise (DONTNEED,
 * HUGEPAGE, NOHUGEPAGE, RANDOM, NORMAL, POPULATE_WRITE), reads and writes of single bytes, khugepaged
 * passes, compactions, and misuse (unaligned starts, unknown advice). Every other access goes through an
 * emulated CPU bound to the address space (Skylake's TLBs and walk), the others through the kernel's
 * byte accessors: a translation the CPU kept past an munmap, mprotect, DONTNEED, migration or
 * collapse reads or writes the wrong frame, or misses a SIGSEGV, and fails the comparison. THP is enabled (always), and now and then
 * an operation covers the whole 2 MiB-aligned window, so huge pages are mapped, split and collapsed. After each operation the outcome (value, errno, SIGSEGV)
 * must be the model's; every `validateEvery` operations the kernel validates and the VMA list is
 * compared with the model page by page.
 */
import { Cpu } from '../../src/machine/cpu.ts';
import { skylake } from '../../src/machine/tlb-presets.ts';
import { Kernel } from '../../src/mm/kernel.ts';
import { bindCpu } from '../../src/mm/vm/cpu-binding.ts';
import { SegvError, SyscallError } from '../../src/mm/vm/errors.ts';
import type { AddressSpace } from '../../src/mm/vm/mm-struct.ts';
import { setThpSettings } from '../../src/mm/vm/thp-settings.ts';
import { MADV, MAP, PROT } from '../../src/mm/vm/types.ts';
import { Prng } from '../../src/util/prng.ts';

export interface VmFuzzOptions {
  seed: number;
  ops: number;
  validateEvery?: number;
}

export interface VmFuzzReport {
  ops: number;
  faults: number;
  segv: number;
  /** Accesses made through the emulated CPU (the others through the kernel's byte accessors). */
  cpuAccesses: number;
  /** The CPU's page walks: translations it did not find in its TLBs. */
  cpuWalks: number;
  errors: Record<string, number>;
  peakVmas: number;
  thpFaults: number;
  thpSplits: number;
  hugeZeroMaps: number;
  collapsed: number;
  migrated: number;
}

const PAGES = 512;
const P = 4096;
const BASE = 0x1000_0000;
const ANON = MAP.PRIVATE | MAP.ANONYMOUS;
const ADVICE = [MADV.DONTNEED, MADV.HUGEPAGE, MADV.NOHUGEPAGE, MADV.RANDOM, MADV.NORMAL, MADV.POPULATE_WRITE];

export function fuzzVm(options: VmFuzzOptions): VmFuzzReport {
  const rng = new Prng(options.seed);
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const mm = kernel.vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  bindCpu(kernel.vm, cpu).switchTo(mm);
  let cpuAccesses = 0;
  const prot = new Int8Array(PAGES).fill(-1);
  const bytes = new Uint8Array(PAGES * P);
  const errors: Record<string, number> = {};
  let segv = 0;
  let peakVmas = 0;
  let hugeZero = 0;
  const validateEvery = options.validateEvery ?? 10_000;
  const fail = (what: string): never => {
    throw new Error(`vm fuzz seed ${options.seed}: ${what}`);
  };
  const expectErrno = (expected: string, fn: () => void, what: string): void => {
    let got = 'ok';
    try {
      fn();
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      got = error.errno;
    }
    errors[got] = (errors[got] ?? 0) + 1;
    if (got !== expected) fail(`${what}: got ${got}, expected ${expected}`);
  };
  const range = (): [number, number] => {
    // Now and then the whole window, one 2 MiB-aligned range: room for a transparent huge page.
    if (rng.chance(0.03)) return [0, PAGES];
    const p = rng.int(PAGES);
    const n = 1 + Math.min(PAGES - p - 1, rng.chance(0.8) ? rng.int(8) : rng.int(128));
    return [p, n];
  };
  let collapsed = 0;
  for (let op = 0; op < options.ops; op++) {
    // Now and then a khugepaged pass: collapses must keep every byte where it was.
    if (rng.chance(0.005)) collapsed += kernel.vm.khugepaged();
    // Now and then: the whole window mapped with THP off, a few bytes written in small pages, then
    // THP on and a khugepaged pass, which must collapse it into one huge page with the bytes kept.
    if (rng.chance(0.001)) {
      setThpSettings(kernel.vm, { enabled: 'never' });
      mm.mmap(BASE, PAGES * P, PROT.READ | PROT.WRITE, ANON | MAP.FIXED);
      prot.fill(PROT.READ | PROT.WRITE);
      bytes.fill(0);
      for (let k = 0; k < 8; k++) {
        const at = rng.int(PAGES * P);
        const value = rng.int(256);
        mm.writeByte(BASE + at, value);
        bytes[at] = value;
      }
      setThpSettings(kernel.vm, { enabled: 'always' });
      const before = kernel.vm.counter('khugepaged_pages_collapsed');
      for (let pass = 0; pass < 4 && kernel.vm.counter('khugepaged_pages_collapsed') === before; pass++) collapsed += kernel.vm.khugepaged();
      if (kernel.vm.counter('khugepaged_pages_collapsed') === before) fail('khugepaged did not collapse a whole window of small pages');
    }
    // And a compaction: migration must keep every byte where the process sees it.
    if (rng.chance(0.0002)) kernel.vm.compact(-1);
    const kind = rng.int(100);
    if (kind < 12) {
      const [p, n] = range();
      const pr = rng.int(8);
      const noreplace = rng.chance(0.2);
      const busy = prot.subarray(p, p + n).some((x) => x >= 0);
      expectErrno(noreplace && busy ? 'EEXIST' : 'ok', () => mm.mmap(BASE + p * P, n * P, pr, ANON | (noreplace ? MAP.FIXED_NOREPLACE : MAP.FIXED)), `mmap fixed [${p}, +${n})`);
      if (!(noreplace && busy)) {
        prot.fill(pr, p, p + n);
        bytes.fill(0, p * P, (p + n) * P);
      }
    } else if (kind < 14) {
      // A hinted mmap inside the window: honoured only when the range is free.
      const [p, n] = range();
      const busy = prot.subarray(p, p + n).some((x) => x >= 0);
      const got = mm.mmap(BASE + p * P, n * P, PROT.READ | PROT.WRITE, ANON);
      if (busy) {
        if (got >= BASE && got < BASE + PAGES * P) fail(`hinted mmap over a busy range landed in the window at 0x${got.toString(16)}`);
        mm.munmap(got, n * P);
      } else {
        if (got !== BASE + p * P) fail(`hinted mmap of a free range went to 0x${got.toString(16)}`);
        prot.fill(PROT.READ | PROT.WRITE, p, p + n);
        bytes.fill(0, p * P, (p + n) * P);
      }
    } else if (kind < 24) {
      const [p, n] = range();
      expectErrno('ok', () => mm.munmap(BASE + p * P, n * P), `munmap [${p}, +${n})`);
      prot.fill(-1, p, p + n);
    } else if (kind < 34) {
      const [p, n] = range();
      const pr = rng.int(8);
      let expected = 'ok';
      if (prot[p] === -1) expected = 'ENOMEM';
      else {
        let q = p;
        while (q < p + n && (prot[q] as number) >= 0) prot[q++] = pr;
        if (q < p + n) expected = 'ENOMEM';
      }
      expectErrno(expected, () => mm.mprotect(BASE + p * P, n * P, pr), `mprotect [${p}, +${n}) ${pr}`);
    } else if (kind < 42) {
      const [p, n] = range();
      const advice = rng.pick(ADVICE);
      let expected = prot.subarray(p, p + n).some((x) => x < 0) ? 'ENOMEM' : 'ok';
      if (advice === MADV.POPULATE_WRITE) {
        // Holes are reported at the end (madvise_walk_vmas); a mapping that forbids the write stops the walk first.
        if (prot.subarray(p, p + n).some((x) => x >= 0 && (x & PROT.WRITE) === 0)) expected = 'EFAULT';
      }
      expectErrno(expected, () => mm.madvise(BASE + p * P, n * P, advice), `madvise [${p}, +${n}) ${advice}`);
      if (advice === MADV.DONTNEED) {
        for (let q = p; q < p + n; q++) if ((prot[q] as number) >= 0) bytes.fill(0, q * P, (q + 1) * P);
      }
    } else if (kind < 44) {
      const [p, n] = range();
      expectErrno('EINVAL', () => mm.mprotect(BASE + p * P + 1 + rng.int(P - 1), n * P, PROT.READ), 'unaligned mprotect');
      expectErrno('EINVAL', () => mm.madvise(BASE + p * P, n * P, 5), 'unknown advice');
      expectErrno('EINVAL', () => mm.munmap(BASE + p * P + 8, n * P), 'unaligned munmap');
    } else {
      const page = rng.int(PAGES);
      const offset = rng.int(P);
      const vaddr = BASE + page * P + offset;
      const pr = prot[page] as number;
      const write = kind >= 72;
      const allowed = pr >= 0 && (write ? (pr & PROT.WRITE) !== 0 : pr > 0);
      // Every other operation's access through the CPU (not a draw from rng: the same stream of
      // operations as without it).
      const viaCpu = (op & 1) === 0;
      if (viaCpu) cpuAccesses++;
      try {
        if (write) {
          const value = rng.int(256);
          if (viaCpu) cpu.store8(vaddr, value);
          else mm.writeByte(vaddr, value);
          bytes[page * P + offset] = value;
        } else {
          const got = viaCpu ? cpu.load8(vaddr) : mm.readByte(vaddr);
          if (got !== bytes[page * P + offset]) fail(`read of page ${page}+${offset}${viaCpu ? " by the CPU" : ""}: ${got}, expected ${bytes[page * P + offset]}`);
        }
        if (!allowed) fail(`${write ? 'write' : 'read'} of page ${page} (prot ${pr})${viaCpu ? ' by the CPU' : ''} succeeded`);
      } catch (error) {
        if (!(error instanceof SegvError)) throw error;
        if (allowed) fail(`${write ? 'write' : 'read'} of page ${page} (prot ${pr})${viaCpu ? ' by the CPU' : ''}: ${error.message}`);
        segv++;
      }
    }
    peakVmas = Math.max(peakVmas, mm.mapCount);
    hugeZero = Math.max(hugeZero, kernel.vm.counter('nr_huge_zero_page_maps'));
    if ((op + 1) % validateEvery === 0 || op + 1 === options.ops) check(kernel, mm, prot);
  }
  const vm = kernel.vm;
  return {
    ops: options.ops,
    faults: mm.faults,
    segv,
    cpuAccesses,
    cpuWalks: cpu.stats().walks,
    errors,
    peakVmas,
    thpFaults: vm.counter('thp_fault_alloc'),
    thpSplits: vm.counter('thp_split_pmd'),
    hugeZeroMaps: hugeZero,
    collapsed,
    migrated: vm.counter('pgmigrate_success'),
  };
}

function check(kernel: Kernel, mm: AddressSpace, prot: Int8Array): void {
  kernel.validate();
  for (let page = 0; page < PAGES; page++) {
    const vma = mm.vmaContaining(BASE + page * P);
    const got = vma === 0 ? -1 : mm.vm.vmas.flags(vma) & 7;
    if (got !== prot[page]) throw new Error(`vm fuzz: page ${page} has protection ${got}, the model ${prot[page]}`);
  }
}
