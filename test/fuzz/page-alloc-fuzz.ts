/**
 * Seeded fuzzing of the page allocator against a shadow model, checked after every operation.
 *
 * Shadow: which allocation owns each frame. After each alloc: the block is aligned, inside the zones
 * the GFP flags allow, and overlaps no live block; a ZERO block is zero. After each free the bytes
 * stamped into the block at allocation are still there (nobody else wrote them). Whenever an
 * allocation fails, no zone it may use holds a free block of that order or more (beyond the DMA
 * zone's lowmem reserve, or past the page limit). Free-page totals match the shadow after every
 * operation. Misuse through the public API (double free, wrong order, tails, reserved and
 * out-of-range frames, pages a slab cache or a large kmalloc block owns, a wrong owner tag) is mixed
 * in: each must raise its typed error and change nothing. Now and then this CPU's per-CPU lists are
 * drained, or its CPU slot goes offline (kernel.detach(): the lists go back, the next call claims a
 * slot again). And now and then another CPU goes offline: a second kernel handle on the same arena
 * (another CPU slot, as a worker would hold) allocates pages, which join the shadow's live blocks,
 * and frees some of them and of the others onto its per-CPU lists, then "exits": kernel.offlineCpu
 * of its slot must give back exactly the pages on its lists, leaving this CPU's lists and every live
 * block alone (a page drained while live would be handed out twice, or change the free total).
 * Blocks carry owner tags (0 for most, a few small tags for the rest), which every free must name;
 * references and DMA pins are taken on live blocks and held across operations (get_page, pin),
 * during which a free of the block must raise PageInUseError and change nothing, and are dropped
 * later; non-compound blocks of order above 0 are split into order-0 pages (splitPage), each then
 * a block of its own with the same tag, and a compound one refuses the split. So every way a block
 * becomes not plain, and plain again, meets the order-0 fast free (PageFlag.SlowFree).
 * validate() runs periodically and at the end; when everything is freed and the lists drained, the
 * free lists are back to their boot state.
 */
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import type { PageAllocator } from '../../src/mm/page-alloc.ts';
import { GFP } from '../../src/mm/gfp.ts';
import {
  DoubleFreeError,
  NotAllocatedError,
  OutOfMemoryError,
  PageError,
  PageInUseError,
  PageOwnerError,
  PfnRangeError,
  ReservedPageError,
  WrongOrderError,
} from '../../src/mm/errors.ts';
import { MAX_PAGE_ORDER, PAGE_SHIFT, PAGE_SIZE, ZoneId } from '../../src/mm/types.ts';
import { Prng } from '../../src/util/prng.ts';
import { getPage, pinPages, putPage, unpinPages } from '../../src/mm/dma/gup.ts';

export interface PageAllocFuzzOptions {
  seed: number;
  ops: number;
  ramBytes?: string;
  validateEvery?: number;
  groupByMobility?: boolean;
  pageLimit?: number;
}

export interface PageAllocFuzzReport {
  ops: number;
  allocs: number;
  frees: number;
  failures: number;
  misuses: number;
  peakPages: number;
  /** Times the per-CPU lists were drained, and the CPU slot went offline, mid-run. */
  drains: number;
  offlines: number;
  /** Times another CPU (a second handle's slot) went offline mid-run, and the pages its lists gave back. */
  otherOfflines: number;
  otherPagesDrained: number;
  /** Blocks allocated with an owner tag other than 0; references and pins taken; frees refused while held; splits. */
  tagged: number;
  holds: number;
  refusedWhileHeld: number;
  splits: number;
}

const GFP_CHOICES = [
  GFP.KERNEL,
  GFP.HIGHUSER_MOVABLE,
  GFP.RECLAIMABLE,
  GFP.KERNEL | GFP.COMP,
  GFP.HIGHUSER_MOVABLE | GFP.ZERO,
  GFP.DMA,
  GFP.KERNEL | GFP.ZERO | GFP.COMP,
];

export function fuzzPageAllocator(options: PageAllocFuzzOptions): PageAllocFuzzReport {
  const kernel = Kernel.boot({
    ramBytes: options.ramBytes ?? '24MiB',
    // Fixed, not the host's CPU count: the lists' sizes follow it, and the run must be the same everywhere.
    cpus: 4,
    groupByMobility: options.groupByMobility ?? true,
    pageLimit: options.pageLimit ?? 0,
  });
  const pa = kernel.pages;
  const bytes = kernel.ram.bytes;
  const words = new Uint32Array(kernel.buffer);
  const prng = new Prng(options.seed);
  const validateEvery = options.validateEvery ?? 50_000;
  const bootFree = pa.stats().zones.map((z) => z.freeBlocks.join(','));
  const managed = pa.managedPagesTotal;
  // Pages other owners hold all run long: slab objects of a cache and a large kmalloc block, for
  // the misuse of freeing them through freePages. `kernelPages` is what they take.
  const cache = kernel.createCache('fuzz_pinned', 256);
  const slabObjects = Array.from({ length: 40 }, () => cache.alloc() as number);
  const largeKmalloc = kernel.kmalloc(3 * PAGE_SIZE) as number;
  let kernelPages = managed - pa.freePagesTotal;
  let shrinkerRuns = kernel.shrinkers.runs;

  // Shadow: owner[pfn] = head pfn + 1 of the live block covering it, 0 when free.
  const owner = new Int32Array(pa.nrPages);
  const live: number[] = []; // head pfns
  const liveOrder = new Map<number, number>();
  // Per live head pfn: its owner tag (absent: 0), whether it is compound, and a reference or pin held on it.
  const liveTag = new Map<number, number>();
  const liveCompound = new Set<number>();
  const held = new Map<number, 'ref' | 'pin'>();
  let livePages = 0;
  let recentlyFreed: { pfn: number; order: number; tag: number } | null = null;
  const report: PageAllocFuzzReport = {
    ops: 0,
    allocs: 0,
    frees: 0,
    failures: 0,
    misuses: 0,
    peakPages: 0,
    drains: 0,
    offlines: 0,
    otherOfflines: 0,
    otherPagesDrained: 0,
    tagged: 0,
    holds: 0,
    refusedWhileHeld: 0,
    splits: 0,
  };
  const tagOf = (pfn: number): number => liveTag.get(pfn) ?? 0;

  const stamp = (pfn: number, order: number): number => (Math.imul(pfn, 0x9e3779b1) ^ (order << 28)) >>> 0;

  const checkFailureIsReal = (order: number, gfp: number): void => {
    if (pa.pageLimit > 0 && kernelPages + livePages + (1 << order) > pa.pageLimit) return;
    const highest = (gfp & GFP.DMA) !== 0 ? ZoneId.DMA : pa.zones.length - 1;
    for (let id = highest; id >= 0; id--) {
      const zone = pa.zones[id]!;
      let largest = -1;
      for (let o = MAX_PAGE_ORDER; o >= order && largest < 0; o--) if (zone.nrFree(o) > 0) largest = o;
      if (largest < 0) continue;
      assert.ok(
        id !== highest && zone.freePages - (1 << order) < zone.lowmemReserve,
        `allocation of order ${order} failed though zone ${zone.name} has a free block of order ${largest}`,
      );
    }
  };

  const doAlloc = (via: PageAllocator = pa, order = prng.weighted([40, 15, 12, 8, 5, 3, 2, 1.5, 1, 1, 0.5])): void => {
    const gfp = GFP_CHOICES[prng.int(GFP_CHOICES.length)]!;
    const noretry = prng.chance(0.8);
    const tag = prng.chance(0.2) ? 1 + prng.int(3) : 0;
    let pfn: number | null;
    try {
      pfn = noretry ? via.tryAllocPages(order, gfp | GFP.NORETRY, tag) : via.allocPages(order, gfp, tag);
    } catch (error) {
      assert.ok(!noretry && error instanceof OutOfMemoryError, `unexpected ${String(error)}`);
      pfn = null;
    }
    if (pfn === null) {
      report.failures++;
      checkFailureIsReal(order, gfp);
      return;
    }
    const size = 1 << order;
    assert.equal(pfn % size, 0, `pfn ${pfn} not aligned to order ${order}`);
    if ((gfp & GFP.DMA) !== 0) assert.ok((pfn + size) * PAGE_SIZE <= 16 << 20, 'DMA block above 16 MiB');
    assert.equal(pa.zoneOf(pfn), pa.zoneOf(pfn + size - 1), 'block crosses a zone');
    for (let p = pfn; p < pfn + size; p++) {
      if (owner[p] !== 0) assert.fail(`pfn ${p} handed out twice (live block at ${owner[p]! - 1})`);
      owner[p] = pfn + 1;
    }
    if ((gfp & GFP.ZERO) !== 0) {
      const start = pfn * PAGE_SIZE;
      for (let i = start; i < start + size * PAGE_SIZE; i += 61) if (bytes[i] !== 0) assert.fail(`ZERO block at pfn ${pfn} has byte ${bytes[i]} at ${i}`);
    }
    for (let p = pfn; p < pfn + size; p++) words[(p * PAGE_SIZE) / 4] = stamp(p, order);
    live.push(pfn);
    liveOrder.set(pfn, order);
    if (tag !== 0) {
      liveTag.set(pfn, tag);
      report.tagged++;
    }
    if ((gfp & GFP.COMP) !== 0 && order > 0) liveCompound.add(pfn);
    livePages += size;
    report.allocs++;
    report.peakPages = Math.max(report.peakPages, livePages);
  };

  const doFree = (via: PageAllocator = pa): void => {
    const index = prng.int(live.length);
    const pfn = live[index]!;
    const order = liveOrder.get(pfn)!;
    const tag = tagOf(pfn);
    if (held.has(pfn)) {
      // A reference or a pin beyond the allocation's own: refused, whichever path the free takes.
      expectError(() => via.freePages(pfn, order, tag), PageInUseError);
      report.refusedWhileHeld++;
      return;
    }
    live[index] = live[live.length - 1]!;
    live.pop();
    liveOrder.delete(pfn);
    liveTag.delete(pfn);
    liveCompound.delete(pfn);
    const size = 1 << order;
    for (let p = pfn; p < pfn + size; p++) {
      if (words[(p * PAGE_SIZE) / 4] !== stamp(p, order)) assert.fail(`stamp of pfn ${p} overwritten while live`);
      owner[p] = 0;
    }
    via.freePages(pfn, order, tag);
    livePages -= size;
    recentlyFreed = { pfn, order, tag };
    report.frees++;
  };

  // A reference (get_page) or a DMA pin taken on a live block and held across operations, or one
  // held dropped again: the block is not plain while held (PageFlag.SlowFree), plain again after.
  const doHold = (): void => {
    if (held.size > 0 && prng.chance(0.5)) {
      const [pfn, kind] = [...held][prng.int(held.size)]!;
      if (kind === 'ref') putPage(kernel, pfn);
      else unpinPages(kernel, [pfn]);
      held.delete(pfn);
      return;
    }
    if (live.length === 0) return;
    const pfn = live[prng.int(live.length)]!;
    if (held.has(pfn)) return;
    const kind = prng.chance(0.5) ? 'ref' : 'pin';
    if (kind === 'ref') getPage(kernel, pfn);
    else pinPages(kernel, [pfn]);
    held.set(pfn, kind);
    report.holds++;
  };

  // splitPage of a live block of order above 0, not held: its pages become order-0 blocks of the
  // same tag; a compound block refuses (PageError) and nothing changes.
  const doSplit = (): void => {
    if (live.length === 0) return;
    const index = prng.int(live.length);
    const pfn = live[index]!;
    const order = liveOrder.get(pfn)!;
    const tag = tagOf(pfn);
    if (order === 0 || held.has(pfn)) return;
    if (liveCompound.has(pfn)) {
      expectError(() => pa.splitPage(pfn, order, tag), PageError);
      return;
    }
    pa.splitPage(pfn, order, tag);
    live[index] = live[live.length - 1]!;
    live.pop();
    liveOrder.delete(pfn);
    liveTag.delete(pfn);
    for (let p = pfn; p < pfn + (1 << order); p++) {
      if (words[(p * PAGE_SIZE) / 4] !== stamp(p, order)) assert.fail(`stamp of pfn ${p} overwritten while live`);
      words[(p * PAGE_SIZE) / 4] = stamp(p, 0);
      owner[p] = p + 1;
      live.push(p);
      liveOrder.set(p, 0);
      if (tag !== 0) liveTag.set(p, tag);
    }
    report.splits++;
  };

  const expectError = (fn: () => void, type: new (...args: never[]) => Error): void => {
    const free = pa.freePagesTotal;
    assert.throws(fn, type);
    assert.equal(pa.freePagesTotal, free, 'a failed call changed the free count');
    report.misuses++;
  };

  const doMisuse = (): void => {
    const kind = prng.int(8);
    if (kind === 0 && recentlyFreed !== null && owner[recentlyFreed.pfn] === 0) {
      const { pfn, order, tag } = recentlyFreed;
      expectError(() => pa.freePages(pfn, order, tag), DoubleFreeError);
    } else if (kind === 1 && live.length > 0) {
      const pfn = live[prng.int(live.length)]!;
      const order = liveOrder.get(pfn)!;
      expectError(() => pa.freePages(pfn, order === MAX_PAGE_ORDER ? 0 : order + 1, tagOf(pfn)), WrongOrderError);
    } else if (kind === 2 && live.length > 0) {
      const pfn = live[prng.int(live.length)]!;
      const order = liveOrder.get(pfn)!;
      if (order > 0) expectError(() => pa.freePages(pfn + 1 + prng.int((1 << order) - 1), 0, tagOf(pfn)), NotAllocatedError);
    } else if (kind === 5) {
      const obj = slabObjects[prng.int(slabObjects.length)]!;
      expectError(() => pa.freePages(obj >>> PAGE_SHIFT, 0), PageOwnerError);
    } else if (kind === 6) {
      const head = largeKmalloc >>> PAGE_SHIFT;
      expectError(() => (prng.chance(0.5) ? pa.freePages(head, 2) : pa.freePages(head + 1 + prng.int(2), 0)), PageOwnerError);
    } else if (kind === 7 && live.length > 0) {
      const pfn = live[prng.int(live.length)]!;
      expectError(() => pa.freePages(pfn, liveOrder.get(pfn)!, tagOf(pfn) + 1 + prng.int(1000)), PageOwnerError);
    } else if (kind === 3) {
      expectError(() => pa.freePages(prng.chance(0.5) ? 0 : pa.nrPages - 1, 0), ReservedPageError);
    } else {
      expectError(() => pa.freePages(pa.nrPages + prng.int(1000), 0), PfnRangeError);
    }
  };

  /** Pages on CPU `cpu`'s per-CPU lists, every zone. */
  const listed = (cpu: number): number => pa.pagesets().reduce((sum, s) => sum + (s.cpu === cpu ? s.count : 0), 0);

  // Another CPU: a second handle on the arena allocates and frees through its own per-CPU lists
  // (its allocations stay live in the shadow, for this thread to free later), then its slot is
  // offlined, as a worker's that exited. Only its lists may go back to the buddy allocator.
  const doOtherCpu = (): void => {
    const other = Kernel.attach(kernel.buffer).pages;
    for (let i = 1 + prng.int(40); i > 0; i--) doAlloc(other, prng.chance(0.8) ? 0 : 1 + prng.int(3));
    for (let i = prng.int(41); i > 0 && live.length > 0; i--) doFree(other);
    const cpu = other.cpu;
    if (cpu < 0) return; // every allocation failed and nothing was freed: it never claimed a slot
    assert.notEqual(cpu, pa.cpu);
    const mine = pa.cpu >= 0 ? listed(pa.cpu) : 0;
    const theirs = listed(cpu);
    const free = pa.freePagesTotal;
    assert.equal(kernel.offlineCpu(cpu), true);
    assert.equal(listed(cpu), 0, `the offlined CPU ${cpu}'s lists are empty`);
    if (pa.cpu >= 0) assert.equal(listed(pa.cpu), mine, 'this CPU’s lists are untouched');
    assert.equal(pa.freePagesTotal, free, 'pages on a per-CPU list are free before and after the drain');
    kernel.validate();
    report.otherOfflines++;
    report.otherPagesDrained += theirs;
  };

  for (let op = 0; op < options.ops; op++) {
    const usage = livePages / managed;
    const r = prng.nextFloat();
    if (r < 0.01) doMisuse();
    else if (r < 0.0105) {
      pa.drainPages();
      assert.equal(pa.pcpPages(), 0);
      report.drains++;
    } else if (r < 0.011) {
      kernel.detach();
      assert.equal(pa.cpu, -1);
      report.offlines++;
    } else if (r < 0.0112) doOtherCpu();
    else if (r < 0.0132) doHold();
    else if (r < 0.0142) doSplit();
    else if (live.length > 0 && r < 0.3 + usage * 0.6) doFree();
    else doAlloc();
    // The shrinkers (run on exhaustion) may give back the slab caches' empty slabs.
    if (kernel.shrinkers.runs !== shrinkerRuns) {
      shrinkerRuns = kernel.shrinkers.runs;
      kernelPages = managed - livePages - pa.freePagesTotal;
    }
    assert.equal(pa.freePagesTotal, managed - kernelPages - livePages, `op ${op}: free pages disagree with the shadow`);
    if ((op + 1) % validateEvery === 0) kernel.validate();
    report.ops++;
  }
  kernel.validate();
  for (const [pfn, kind] of held) {
    if (kind === 'ref') putPage(kernel, pfn);
    else unpinPages(kernel, [pfn]);
  }
  held.clear();
  while (live.length > 0) doFree();
  for (const obj of slabObjects) cache.free(obj);
  kernel.kfree(largeKmalloc);
  kernel.slab.destroyCache(cache);
  kernel.slab.shrink();
  kernel.detach();
  kernel.validate();
  assert.deepEqual(
    pa.stats().zones.map((z) => z.freeBlocks.join(',')),
    bootFree,
    'after freeing everything the free lists are back to their boot state',
  );
  return report;
}
