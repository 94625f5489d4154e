/**
 * The boot header in page frame 0: what another worker, or a later process, needs to find its way
 * around an arena it did not boot. Linux keeps its equivalents in the kernel image (boot_params,
 * the memblock tables); kmem has no image, so they live in the first page of RAM.
 *
 * Layout (32-bit words):
 *   [0] magic 'KMEM'   [1] layout version   [2] page size   [3] nrPages
 *   [4] boot flags     [5] CPU slots (cpu-slots.ts has who holds them)   [6] page limit (0 = none)
 *   [7] pages counted against the limit (atomic)            [8] state (booting / running)
 *   [9] region count   [10] pfn of virtual memory's root page (0 until first used; mm/vm/vm.ts)
 *   [64 ..] region directory: REGION_WORDS words per region,
 *                              name (ASCII, NUL-padded), paddr, sizeBytes
 *
 * Invariants: regions are page-aligned, disjoint, inside RAM and above pfn 0.
 */
import type { Ram } from '../machine/ram.ts';
import { PAGE_SIZE } from '../machine/ram.ts';
import { KmemError } from '../util/errors.ts';

export const ARENA_MAGIC = 0x4d454d4b; // 'KMEM' little-endian
/**
 * Bumped whenever a region's layout changes, so that a copy or hibernation image of an older arena is
 * refused (ArenaFormatError) instead of misread. 3: per-CPU page lists as rings in 'pcp', the
 * 'slab.lockstat' region, the VM root's swap words and page-flag bits 16–19 (swap and LRU).
 * 4: a pcp list is [start, end] with a NO_PFN sentinel in the slot before start (was [start, length]);
 * the slab header's state-mode word and, over plain arenas, lazy allocation state (magazine rounds
 * keep their 'slab-state' bit set and carry a mark word: slab/alloc-state.ts).
 * 5: pcp word [12] counts the frees not yet folded into the 'pcp.vmstat' f64 counter (pcp.ts).
 * 6: recovery from workers killed mid-operation: a pcp page's owner word holds its CPU's tag and pcp
 * word [13] the page-limit counter's in-flight pages (pcp.ts); the slab's per-CPU words carry the
 * hands (words 5–9) and their counters move to word 12; a new slab's pages carry their grower's
 * tag until published (slab/types.ts).
 */
export const ARENA_VERSION = 7;

export const H = {
  MAGIC: 0,
  VERSION: 1,
  PAGE_SIZE: 2,
  NR_PAGES: 3,
  BOOT_FLAGS: 4,
  NR_CPUS: 5,
  PAGE_LIMIT: 6,
  PAGES_LIMITED: 7,
  STATE: 8,
  REGION_COUNT: 9,
  VM_ROOT_PFN: 10,
} as const;

export const BootFlag = {
  GroupByMobility: 1 << 0,
  /** Booted without per-CPU page lists (pcp.ts): every order-0 allocation goes to the buddy allocator. */
  NoPcp: 1 << 1,
  /** The page allocator's expensive checks: validate() after every allocation and free. */
  PageDebug: 1 << 2,
} as const;

export const ArenaState = { Booting: 0, Running: 1 } as const;

const HEADER_WORDS = PAGE_SIZE / 4;
const REGION_TABLE = 64;
const REGION_NAME_BYTES = 24;
const REGION_WORDS = REGION_NAME_BYTES / 4 + 2;
export const MAX_REGIONS = Math.floor((HEADER_WORDS - REGION_TABLE) / REGION_WORDS);

/** An arena that is not a booted kmem arena, or one of another layout version. */
export class ArenaFormatError extends KmemError {
  override name = 'ArenaFormatError';
}

export interface Region {
  readonly name: string;
  readonly paddr: number;
  readonly sizeBytes: number;
}

export class ArenaHeader {
  /** @internal */
  readonly words: Int32Array;

  constructor(readonly ram: Ram) {
    this.words = ram.i32(0, HEADER_WORDS);
  }

  /** Writes a fresh header (state Booting, no regions). @internal */
  static format(ram: Ram, flags: number, nrCpus: number, pageLimit: number): ArenaHeader {
    const header = new ArenaHeader(ram);
    const w = header.words;
    w.fill(0);
    w[H.MAGIC] = ARENA_MAGIC;
    w[H.VERSION] = ARENA_VERSION;
    w[H.PAGE_SIZE] = PAGE_SIZE;
    w[H.NR_PAGES] = ram.nrPages;
    w[H.BOOT_FLAGS] = flags;
    w[H.NR_CPUS] = nrCpus;
    w[H.PAGE_LIMIT] = pageLimit;
    w[H.STATE] = ArenaState.Booting;
    return header;
  }

  /** Reads the header of an arena booted elsewhere, checking that it is one. */
  static read(ram: Ram): ArenaHeader {
    const header = new ArenaHeader(ram);
    const w = header.words;
    if (w[H.MAGIC] !== ARENA_MAGIC) {
      throw new ArenaFormatError(`not a kmem arena: word 0 is 0x${((w[H.MAGIC] ?? 0) >>> 0).toString(16)}, expected 0x${ARENA_MAGIC.toString(16)} ('KMEM')`);
    }
    if (w[H.VERSION] !== ARENA_VERSION) {
      throw new ArenaFormatError(`kmem arena layout version ${w[H.VERSION]}: expected ${ARENA_VERSION}`);
    }
    if (w[H.PAGE_SIZE] !== PAGE_SIZE || w[H.NR_PAGES] !== ram.nrPages) {
      throw new ArenaFormatError(`kmem arena header says ${w[H.NR_PAGES]} pages of ${w[H.PAGE_SIZE]} bytes; the buffer holds ${ram.nrPages} pages of ${PAGE_SIZE}`);
    }
    if (w[H.STATE] !== ArenaState.Running) {
      throw new ArenaFormatError('kmem arena has not finished booting: expected state Running');
    }
    return header;
  }

  get(word: number): number {
    return this.words[word] ?? 0;
  }

  /** @internal */
  set(word: number, value: number): void {
    this.words[word] = value;
  }

  get regionCount(): number {
    return this.get(H.REGION_COUNT);
  }

  /** @internal */
  addRegion(name: string, paddr: number, sizeBytes: number): void {
    if (name.length === 0 || name.length > REGION_NAME_BYTES || !/^[\x20-\x7e]+$/.test(name)) {
      throw new ArenaFormatError(`region name '${name}': expected 1..${REGION_NAME_BYTES} printable ASCII characters`);
    }
    if (this.findRegion(name) !== undefined) throw new ArenaFormatError(`region '${name}' is already reserved`);
    const index = this.regionCount;
    if (index >= MAX_REGIONS) throw new ArenaFormatError(`region table full: at most ${MAX_REGIONS} regions`);
    const base = REGION_TABLE + index * REGION_WORDS;
    const nameBytes = new Uint8Array(this.words.buffer, this.words.byteOffset + base * 4, REGION_NAME_BYTES);
    nameBytes.fill(0);
    for (let i = 0; i < name.length; i++) nameBytes[i] = name.charCodeAt(i);
    this.words[base + REGION_NAME_BYTES / 4] = paddr;
    this.words[base + REGION_NAME_BYTES / 4 + 1] = sizeBytes;
    this.words[H.REGION_COUNT] = index + 1;
  }

  region(index: number): Region {
    const base = REGION_TABLE + index * REGION_WORDS;
    const nameBytes = new Uint8Array(this.words.buffer, this.words.byteOffset + base * 4, REGION_NAME_BYTES);
    let name = '';
    for (const byte of nameBytes) {
      if (byte === 0) break;
      name += String.fromCharCode(byte);
    }
    return {
      name,
      paddr: (this.words[base + REGION_NAME_BYTES / 4] ?? 0) >>> 0,
      sizeBytes: (this.words[base + REGION_NAME_BYTES / 4 + 1] ?? 0) >>> 0,
    };
  }

  regions(): Region[] {
    const out: Region[] = [];
    for (let i = 0; i < this.regionCount; i++) out.push(this.region(i));
    return out;
  }

  findRegion(name: string): Region | undefined {
    return this.regions().find((r) => r.name === name);
  }

  /** The region a booted subsystem needs; its absence means the arena was booted without it. */
  requireRegion(name: string): Region {
    const region = this.findRegion(name);
    if (region === undefined) throw new ArenaFormatError(`kmem arena has no region '${name}': expected it reserved at boot`);
    return region;
  }
}
