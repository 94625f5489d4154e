/**
 * Replaying a Linux `kmem` trace through kmem: every kmalloc, kmem_cache_alloc, kfree,
 * kmem_cache_free, mm_page_alloc and mm_page_free of the trace runs against a kmem kernel, and the
 * same object stream runs against two other designs:
 *
 *   kmem           kmalloc's size classes, one kmem cache per traced cache, the buddy allocator for
 *                  the page events
 *   fixed slots    every object in a slot of the trace's largest bytes_req (a pool of equal slots
 *                  with a free stack of slot indices: the "truck for every letter")
 *   general        @thi.ng/malloc's MemPool, one block of bytes_req per object
 *
 * Measured from what happened: kmem's size class for each kmalloc against the trace's bytes_alloc
 * (a mismatch is listed with its line), waste per call site (bytes_alloc − bytes_req, as the traced
 * kernel and as kmem), the peak of bytes requested and of each design's memory, kmem's slabinfo at
 * the end. Trace defects real traces have are counted, not fatal: frees of pointers the trace never
 * allocated (objects older than the trace), kfree(NULL), an allocation returning a pointer the trace
 * still holds (a lost free event).
 *
 * Two passes over the trace (a LineSource factory): the first sizes the designs (largest request,
 * peak bytes requested), the second replays. Nothing of the trace is held in memory but the live
 * pointers.
 */
import { Kernel } from '../../mm/kernel.ts';
import { GFP } from '../../mm/gfp.ts';
import type { KmemCache } from '../../mm/slab/cache.ts';
import { NAME_BYTES } from '../../mm/slab/types.ts';
import { PAGE_SIZE } from '../../mm/types.ts';
import { ArgumentError } from '../../util/errors.ts';
import { formatSizeExact } from '../../util/units.ts';
import { TraceFormatError } from '../../util/lines.ts';
import type { LineSource } from '../../util/lines.ts';
import { MeasuredPool } from '../measured-pool.ts';
import { isNullPointer, parseKmemLine } from './ftrace-kmem.ts';
import type { KmemEvent, KmemEventKind, ObjectAllocEvent } from './ftrace-kmem.ts';

export interface ReplayOptions {
  /** kmem's RAM; default: enough for the trace's peak (4 × its peak bytes, at least 64 MiB, at most 2 GiB). */
  ramBytes?: number;
  /** Mismatches listed line by line (the count is always exact). Default 20. */
  mismatchesListed?: number;
}

export interface CallSiteRow {
  callSite: string;
  allocs: number;
  bytesReq: number;
  /** Σ bytes_alloc as the traced kernel reported it. */
  bytesAllocTrace: number;
  /** Σ bytes kmem reserved for the same requests (ksize, or the cache's slot size). */
  bytesAllocKmem: number;
}

export interface ClassMismatch {
  line: number;
  callSite: string;
  bytesReq: number;
  traceBytes: number;
  kmemBytes: number;
}

export interface DesignPeak {
  design: 'kmem' | 'fixed slots' | 'general';
  /**
   * The most memory the design held at once for the trace's objects: the pages kmem's slabs and
   * large kmallocs took, slots ever carved × slot size, MemPool's high-water mark.
   */
  peakBytes: number;
  /** Allocations the design could not satisfy. */
  failed: number;
}

export interface ReplayResult {
  source: string;
  /** kmem's RAM: the option's, or the default sized from the trace's peak. */
  ramBytes: number;
  lines: number;
  events: Record<KmemEventKind, number>;
  /** Whether call sites were printed as symbols (%pS, Linux 6.1+) or raw addresses (%lx, before). */
  callSiteFormat: 'symbol' | 'address' | 'none';
  nullFrees: number;
  /** Frees of a pointer (or pfn) the trace never allocated. */
  unknownFrees: number;
  unknownPageFrees: number;
  /** Allocations returning a pointer the trace still held (a free event lost). */
  reusedPointers: number;
  kmallocChecked: number;
  kmallocMismatches: number;
  mismatches: ClassMismatch[];
  /** Per call site, most waste (as the traced kernel) first. */
  callSites: CallSiteRow[];
  peakRequestedBytes: number;
  largestRequestBytes: number;
  /** Object memory only: the page events' pages are counted apart, in peakPageEventBytes. */
  designs: DesignPeak[];
  /** The most pages the trace's mm_page_alloc events held at once, in bytes. */
  peakPageEventBytes: number;
  /** Objects and page blocks still live when the trace ends. */
  liveObjectsAtEnd: number;
  livePageBlocksAtEnd: number;
  slabinfo: string;
}

const KINDS: readonly KmemEventKind[] = ['kmalloc', 'cacheAlloc', 'kfree', 'cacheFree', 'pageAlloc', 'pageFree'];

/** Every event of the trace, in order; a malformed line is a TraceFormatError with its line. */
function* events(source: LineSource, name: string, at: { line: number } = { line: 0 }): Generator<KmemEvent> {
  try {
    for (let text = source.next(); text !== null; text = source.next()) {
      at.line++;
      const parsed = parseKmemLine(text, at.line);
      if (parsed === null) continue;
      if ('error' in parsed) throw new TraceFormatError(name, at.line, parsed.error);
      yield parsed;
    }
  } finally {
    source.close();
  }
}

interface Sizing {
  largestRequestBytes: number;
  peakRequestedBytes: number;
  objectEvents: number;
}

/** Pass 1: the largest request and the peak of live bytes requested, so the designs can be sized. */
function size(source: LineSource, name: string): Sizing {
  const live = new Map<string, number>();
  let requested = 0;
  let peak = 0;
  let largest = 0;
  let objectEvents = 0;
  for (const e of events(source, name)) {
    if (e.kind === 'kmalloc' || e.kind === 'cacheAlloc') {
      objectEvents++;
      requested -= live.get(e.ptr) ?? 0;
      live.set(e.ptr, e.bytesReq);
      requested += e.bytesReq;
      if (requested > peak) peak = requested;
      if (e.bytesReq > largest) largest = e.bytesReq;
    } else if (e.kind === 'kfree' || e.kind === 'cacheFree') {
      const bytes = live.get(e.ptr);
      if (bytes !== undefined) {
        requested -= bytes;
        live.delete(e.ptr);
      }
    }
  }
  return { largestRequestBytes: largest, peakRequestedBytes: peak, objectEvents };
}

/** A pool of equal slots with a stack of free slot indices: the fixed max-size design. */
class FixedSlots {
  private free = new Int32Array(1024);
  private freeCount = 0;
  private slots = 0;
  constructor(readonly slotBytes: number) {}
  alloc(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount] as number;
    return this.slots++;
  }
  release(slot: number): void {
    if (this.freeCount === this.free.length) {
      const grown = new Int32Array(this.free.length * 2);
      grown.set(this.free);
      this.free = grown;
    }
    this.free[this.freeCount++] = slot;
  }
  /** Bytes of the slots ever carved (a pool never gives memory back). */
  get peakBytes(): number {
    return Math.ceil((this.slots * this.slotBytes) / PAGE_SIZE) * PAGE_SIZE;
  }
}

interface LiveObject {
  addr: number;
  cache: KmemCache | null;
  slot: number;
  block: number;
  bytesReq: number;
}

const MiB = 1 << 20;

/** The range of kmem's RAM for a replay: the default's bounds, and what `ramBytes` may be. */
export const REPLAY_RAM_MIN_BYTES = 64 * MiB;
export const REPLAY_RAM_MAX_BYTES = 2048 * MiB;

/** What is wrong with `bytes` as kmem's RAM for a replay ('expected …'), or null when nothing is. */
export function replayRamBytesProblem(bytes: number): string | null {
  if (Number.isSafeInteger(bytes) && bytes % PAGE_SIZE === 0 && bytes >= REPLAY_RAM_MIN_BYTES && bytes <= REPLAY_RAM_MAX_BYTES) return null;
  return `expected a multiple of the ${PAGE_SIZE}-byte page from ${formatSizeExact(REPLAY_RAM_MIN_BYTES)} to ${formatSizeExact(REPLAY_RAM_MAX_BYTES)}`;
}

function defaultRamBytes(sizing: Sizing): number {
  const want = Math.max(REPLAY_RAM_MIN_BYTES, 4 * sizing.peakRequestedBytes);
  return Math.min(REPLAY_RAM_MAX_BYTES, Math.ceil(want / (4 * MiB)) * 4 * MiB);
}

/** A kmem cache name for a traced cache: its own name where kmem can take it, else a prefixed one. */
function cacheName(e: ObjectAllocEvent, taken: (name: string) => boolean): string {
  const base = (e.cacheName ?? `trace-${e.bytesReq}`).replace(/[^\x21-\x7e]/g, '_');
  for (const candidate of [base, `trace:${base}`, `trace:${e.bytesReq}:${base}`]) {
    const name = candidate.slice(0, NAME_BYTES);
    if (!taken(name)) return name;
  }
  throw new ArgumentError(`trace cache '${base}' (${e.bytesReq} B): no free kmem cache name for it`);
}

function gfpOf(flags: string, migratetype: number | null): number {
  let gfp = GFP.NORETRY;
  if (flags.includes('GFP_DMA')) gfp |= GFP.DMA;
  const mt = migratetype ?? (flags.includes('MOVABLE') ? 1 : flags.includes('RECLAIMABLE') ? 2 : 0);
  if (mt === 1) gfp |= GFP.MOVABLE;
  else if (mt === 2) gfp |= GFP.RECLAIMABLE;
  return gfp;
}

/**
 * Replays the trace that `open()` reads (called twice: one pass to size, one to replay).
 * `name` names the trace in errors (a file path).
 */
export function replayKmemTrace(open: () => LineSource, name: string, options: ReplayOptions = {}): ReplayResult {
  const problem = options.ramBytes === undefined ? null : replayRamBytesProblem(options.ramBytes);
  if (problem !== null) throw new ArgumentError(`replay: ramBytes ${String(options.ramBytes)}: ${problem}`);
  const sizing = size(open(), name);
  const ramBytes = options.ramBytes ?? defaultRamBytes(sizing);
  const listed = options.mismatchesListed ?? 20;
  const kernel = Kernel.boot({ ramBytes, cpus: 1 });
  const pagesInUse = (): number => kernel.pages.managedPagesTotal - kernel.pages.freePagesTotal;
  const basePages = pagesInUse();
  const fixed = new FixedSlots(Math.max(1, sizing.largestRequestBytes));
  const poolBytes = Math.min(2048 * MiB, Math.max(16 * MiB, Math.ceil((3 * sizing.peakRequestedBytes) / MiB) * MiB + 16 * MiB));
  const pool = new MeasuredPool({ size: poolBytes, align: 8 });

  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<KmemEventKind, number>;
  const caches = new Map<string, KmemCache>();
  const live = new Map<string, LiveObject>();
  const livePages = new Map<number, { pfn: number; order: number }>();
  /** The trace's pfns whose mm_page_alloc kmem could not satisfy, until the trace frees them. */
  const failedPages = new Set<number>();
  const sites = new Map<string, CallSiteRow>();
  const mismatches: ClassMismatch[] = [];
  let callSiteFormat: ReplayResult['callSiteFormat'] = 'none';
  const at = { line: 0 };
  /** Pages of the trace's own page events live now (kept apart from the object designs' memory). */
  let pageEventPages = 0;
  let peakPageEventPages = 0;
  let nullFrees = 0;
  let unknownFrees = 0;
  let unknownPageFrees = 0;
  let reusedPointers = 0;
  let kmallocChecked = 0;
  let kmallocMismatches = 0;
  let requested = 0;
  let peakRequested = 0;
  let kmemPeakPages = 0;
  let generalPeakBytes = 0;
  const failed = { kmem: 0, general: 0 };

  const cacheFor = (e: ObjectAllocEvent): KmemCache => {
    const key = `${e.cacheName ?? ''}/${e.bytesReq}`;
    let cache = caches.get(key);
    if (cache === undefined) {
      const existing = new Set(kernel.slab.caches().map((c) => c.name));
      cache = kernel.createCache(cacheName(e, (n) => existing.has(n)), Math.max(1, e.bytesReq));
      caches.set(key, cache);
    }
    return cache;
  };

  const release = (object: LiveObject): void => {
    if (object.addr !== 0) {
      if (object.cache !== null) object.cache.free(object.addr);
      else kernel.kfree(object.addr);
    }
    fixed.release(object.slot);
    if (object.block !== 0) pool.free(object.block);
    requested -= object.bytesReq;
  };

  const source = open();
  const sampleKmem = (): void => {
    const objectPages = pagesInUse() - basePages - pageEventPages;
    if (objectPages > kmemPeakPages) kmemPeakPages = objectPages;
  };
  for (const e of events(source, name, at)) {
    counts[e.kind]++;
    switch (e.kind) {
      case 'kmalloc':
      case 'cacheAlloc': {
        if (callSiteFormat === 'none') callSiteFormat = /^(?:0x)?[0-9a-f]+$/i.test(e.callSite) ? 'address' : 'symbol';
        const old = live.get(e.ptr);
        if (old !== undefined) {
          reusedPointers++;
          release(old);
        }
        let addr: number;
        let cache: KmemCache | null = null;
        let kmemBytes: number;
        if (e.kind === 'kmalloc') {
          addr = kernel.tryKmalloc(e.bytesReq, gfpOf(e.gfpFlags, null)) ?? 0;
          kmemBytes = addr !== 0 ? kernel.ksize(addr) : 0;
          if (addr !== 0) {
            kmallocChecked++;
            if (kmemBytes !== e.bytesAlloc) {
              kmallocMismatches++;
              if (mismatches.length < listed) {
                mismatches.push({ line: e.line, callSite: e.callSite, bytesReq: e.bytesReq, traceBytes: e.bytesAlloc, kmemBytes });
              }
            }
          }
        } else {
          cache = cacheFor(e);
          addr = cache.tryAlloc(gfpOf(e.gfpFlags, null)) ?? 0;
          kmemBytes = cache.size;
        }
        if (addr === 0) failed.kmem++;
        const block = pool.malloc(Math.max(1, e.bytesReq));
        if (block === 0) failed.general++;
        // MemPool's top falls when the last block is freed: its peak is the most it ever took.
        if (pool.highWater > generalPeakBytes) generalPeakBytes = pool.highWater;
        live.set(e.ptr, { addr, cache, slot: fixed.alloc(), block, bytesReq: e.bytesReq });
        requested += e.bytesReq;
        if (requested > peakRequested) peakRequested = requested;
        sampleKmem();
        let row = sites.get(e.callSite);
        if (row === undefined) {
          row = { callSite: e.callSite, allocs: 0, bytesReq: 0, bytesAllocTrace: 0, bytesAllocKmem: 0 };
          sites.set(e.callSite, row);
        }
        row.allocs++;
        row.bytesReq += e.bytesReq;
        row.bytesAllocTrace += e.bytesAlloc;
        row.bytesAllocKmem += kmemBytes;
        break;
      }
      case 'kfree':
      case 'cacheFree': {
        if (isNullPointer(e.ptr)) {
          nullFrees++;
          break;
        }
        const object = live.get(e.ptr);
        if (object === undefined) {
          unknownFrees++;
          break;
        }
        live.delete(e.ptr);
        release(object);
        break;
      }
      case 'pageAlloc': {
        const pfn = kernel.pages.tryAllocPages(e.order, gfpOf(e.gfpFlags, e.migratetype));
        if (pfn === null) {
          failed.kmem++;
          // Its free is kmem's failure's echo, not a free of pages the trace never allocated.
          failedPages.add(e.pfn);
        } else {
          failedPages.delete(e.pfn);
          livePages.set(e.pfn, { pfn, order: e.order });
          pageEventPages += 1 << e.order;
          if (pageEventPages > peakPageEventPages) peakPageEventPages = pageEventPages;
        }
        break;
      }
      case 'pageFree': {
        const block = livePages.get(e.pfn);
        if (block === undefined) {
          if (!failedPages.delete(e.pfn)) unknownPageFrees++;
          break;
        }
        livePages.delete(e.pfn);
        kernel.pages.freePages(block.pfn, block.order);
        pageEventPages -= 1 << block.order;
        break;
      }
    }
  }
  kernel.validate();
  const callSites = [...sites.values()].sort((a, b) => b.bytesAllocTrace - b.bytesReq - (a.bytesAllocTrace - a.bytesReq) || a.callSite.localeCompare(b.callSite));
  return {
    source: name,
    ramBytes,
    lines: at.line,
    events: counts,
    callSiteFormat,
    nullFrees,
    unknownFrees,
    unknownPageFrees,
    reusedPointers,
    kmallocChecked,
    kmallocMismatches,
    mismatches,
    callSites,
    peakRequestedBytes: peakRequested,
    largestRequestBytes: sizing.largestRequestBytes,
    designs: [
      { design: 'kmem', peakBytes: kmemPeakPages * PAGE_SIZE, failed: failed.kmem },
      { design: 'fixed slots', peakBytes: fixed.peakBytes, failed: 0 },
      { design: 'general', peakBytes: generalPeakBytes, failed: failed.general },
    ],
    peakPageEventBytes: peakPageEventPages * PAGE_SIZE,
    liveObjectsAtEnd: live.size,
    livePageBlocksAtEnd: livePages.size,
    slabinfo: kernel.slab.slabinfo(),
  };
}
