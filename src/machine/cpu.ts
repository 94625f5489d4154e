/**
 * The emulated CPU: one per worker thread (the kernel gives it its slot index). Loads and stores by
 * virtual address go TLB (tlb.ts) → page walk over the real PTEs in RAM (mmu.ts) → memory port → RAM.
 *
 * INTERFACE (what the kernel and scenarios code against)
 *   cpu.setCr3(cr3Paddr, pcid, { flush })   switch address space; with PCIDs (pcid 1…4095) nothing is
 *                                           flushed unless asked; pcid 0 means "no PCID": a CR3 write
 *                                           flushes every non-global entry, as without CR4.PCIDE.
 *   cpu.setUser(user)                       privilege of the following accesses (CPL 3 or 0).
 *   cpu.setFaultHandler(fn)                 the kernel's #PF handler: returns 'retry' | 'raise' | Error
 *                                           (see mmu.ts); a fault with no handler raises.
 *   cpu.load8/16/32(vaddr), load64 (bigint), store8/16/32/64, loadBytes/storeBytes(vaddr, bytes),
 *   cpu.loadMany(vaddrs, out?)              a batch of 32-bit loads (scenarios' fast path).
 *   cpu.translate(vaddr, access)            the physical address an access would use (faults as one).
 *   cpu.invlpg(vaddr) / flushPcid(pcid) / flushAll()   the invalidation instructions.
 *   cpu.attachShootdown(domain)             join a TLB-shootdown domain (shootdown.ts): before every
 *                                           translation the CPU checks its request word.
 *   cpu.setMemoryPort(port)                 put a data cache between the CPU and RAM (null = direct).
 *   cpu.stats() / cpu.cycles() / cpu.validate()
 * Multi-byte values are little-endian. Accesses need no alignment; one that crosses a page is
 * translated once per page. A byte range counts one access per page it touches.
 *
 * FAST PATH (host-side state, private to the CPU, lost on resume as a real TLB is). Two ways to find
 * an L1 entry without probing, both exact: each hit marks the entry most recently used and counts an
 * L1 hit of its array (folded into the counters lazily), exactly as a probe would.
 *   remembered: the entry the last slow-path translation produced (page base, size, frame, whether
 *     writes may use it); forgotten on every TLB change (fill, invalidation, CR3 or mode switch).
 *   shortcut: a direct-mapped table of hints, 4 KiB page number mod 4096 → an index into the first
 *     L1 array, checked against that array itself: the hint is used when the entry there holds the
 *     page's non-global 4 KiB tag under the current PCID (tags are unique in a set, so it is the entry
 *     a probe would find) and its rights allow the access in the current mode; its frame is read from
 *     the array. A stale hint therefore only misses, and evictions, flushes and mode switches need no
 *     bookkeeping. Off while a memory port is attached (the tags it checks against are then a blank
 *     array). loadMany runs this check inline with the array's fields in locals (loadRun).
 *
 * MISS PATH (missRun; loadRun calls it where the shortcut stops, load32 through a one-load batch).
 * An aligned 32-bit read the shortcut missed is served inline, exactly as the general path
 * (translateChecked → Tlb.lookup → PageWalker.walk → Tlb.fill → remember) would serve it, when that
 * path would meet only its common case: the first L1 array's 4 KiB probe (this PCID's tag, then the
 * global tag), a pure check that no other array or page size translates the address (made only
 * while one may: othersCached), the first L2 array's 4 KiB probe, and on a miss a four-level walk
 * to a present 4 KiB leaf the current mode may read, then the STLB and L1 fills (same LRU victim,
 * signature byte, size and global counts), the A bits, the counters and the remembered translation.
 * A run's data is read after the run's translations, in a loop of its own (docs/benchmarks.md,
 * "translate a run, then read it").
 * A run reads a 1 GiB region's PML4 and PDPT entries once, at its first walk there, and reuses them
 * for its later walks in that region (see regionKey; the model still counts four reads per walk).
 * The walk reads and checks every entry before it writes anything, so a load it cannot serve (a
 * fault, a large page, an entry or frame outside RAM below 2 GiB, rights that refuse) stops the run
 * with nothing changed, and takes the general path. Off with a memory port, a walk port or
 * page-walk caches. Counters are folded once per run, by its caller (foldMisses). Its counts and
 * tests run on every load rather than behind rare branches: an operation V8 first meets after it
 * has optimized the closure deoptimizes it, and V8 may then keep only on-stack-replaced code for
 * the loop (docs/benchmarks.md, "A deoptimization at the STLB's first eviction").
 * test/machine/tlb-miss-path.test.ts runs a seeded mix through both paths on five presets and
 * compares everything.
 */
import { InvariantError, KmemError } from '../util/errors.ts';
import { PhysicalAddressError, type Ram } from './ram.ts';
import {
  PTE_ACCESSED,
  PTE_DIRTY,
  PTE_GLOBAL,
  PTE_HI_FRAME_MASK,
  PTE_HI_NX,
  PTE_HUGE,
  PTE_LO_FRAME_MASK,
  PTE_PRESENT,
  PTE_USER,
  PTE_WRITABLE,
  VADDR_LIMIT,
} from './pte.ts';
import {
  ACCESS_EXEC,
  ACCESS_READ,
  ACCESS_WRITE,
  PERM_DIRTY,
  PERM_GLOBAL,
  PERM_NX,
  PERM_USER,
  PERM_WRITABLE,
  PageFaultError,
  PageWalker,
  WALK_OK,
  checkVaddr,
  faultRecord,
  rightsAllow,
  type AccessKind,
  type FaultHandler,
  type PageWalkerOptions,
  type WalkPort,
} from './mmu.ts';
import { GLOBAL_ASID, MAX_PCID, STAMP_LIMIT, Tlb, TlbArray, findWay, findWayEither, lruTake, seededSignature, sigMayHold, signatureSeed, tagAsid, tagClass, type TlbCounters } from './tlb.ts';
import type { CycleCosts, TlbPreset } from './tlb-presets.ts';
import type { ShootdownDomain, ShootdownRequest } from './shootdown.ts';

// Module-local copies of imported values used on the access path (see mmu.ts: under tsx's
// CommonJS output an imported binding is a getter call on every use).
const L_ACCESS_EXEC = ACCESS_EXEC;
const L_ACCESS_READ = ACCESS_READ;
const L_ACCESS_WRITE = ACCESS_WRITE;
const L_PERM_DIRTY = PERM_DIRTY;
const L_PERM_USER = PERM_USER;
const L_PERM_WRITABLE = PERM_WRITABLE;
const L_WALK_OK = WALK_OK;
const L_rightsAllow = rightsAllow;
const L_checkVaddr = checkVaddr;
const L_faultRecord = faultRecord;
const L_STAMP_LIMIT = STAMP_LIMIT;
const L_lruTake = lruTake;
const L_findWay = findWay;
const L_findWayEither = findWayEither;
const L_tagAsid = tagAsid;
const L_tagClass = tagClass;
const L_GLOBAL_ASID = GLOBAL_ASID;
const L_PERM_GLOBAL = PERM_GLOBAL;
const L_seededSignature = seededSignature;
const L_signatureSeed = signatureSeed;
const L_sigMayHold = sigMayHold;
const L_PERM_NX = PERM_NX;
const L_PTE_ACCESSED = PTE_ACCESSED;
const L_PTE_DIRTY_BIT = PTE_DIRTY;
const L_PTE_GLOBAL = PTE_GLOBAL;
const L_PTE_HI_FRAME_MASK = PTE_HI_FRAME_MASK;
const L_PTE_HI_NX = PTE_HI_NX;
const L_PTE_HUGE = PTE_HUGE;
const L_PTE_LO_FRAME_MASK = PTE_LO_FRAME_MASK;
const L_PTE_PRESENT = PTE_PRESENT;
const L_PTE_USER = PTE_USER;
const L_PTE_WRITABLE = PTE_WRITABLE;
const L_VADDR_LIMIT = VADDR_LIMIT;
/** 2^−32: ⌊vaddr · INVERSE_4G⌋ is vaddr's bits 47:32 (as mmu.ts). */
const INVERSE_4G = 1 / 0x1_0000_0000;

/** Between the CPU and RAM: a data cache implements it (src/machine/cache.ts). Physical addresses;
 *  sizes 1, 2 or 4 bytes, little-endian, naturally aligned. */
export interface MemoryPort {
  read(paddr: number, sizeBytes: 1 | 2 | 4): number;
  write(paddr: number, sizeBytes: 1 | 2 | 4, value: number): void;
}

/** A port that models a cache hierarchy (cache.ts's CpuCache): it also takes the page walker's reads
 *  (mmu.ts WalkPort) and counts the cycles of everything it served. */
export interface CacheModelPort extends MemoryPort, WalkPort {
  readonly cycles: number;
}

function isCacheModel(port: MemoryPort | null): port is CacheModelPort {
  return port !== null && typeof (port as Partial<CacheModelPort>).walkRead === 'function' && typeof (port as Partial<CacheModelPort>).cycles === 'number';
}

/** loadMany checks for a shootdown request once per this many loads. */
const POLL_EVERY = 256;

/** Writes a 4 KiB translation into way `i` of `array` as TlbArray.install does once it has chosen
 *  the way (the caller writes the signature byte, the stamp and the fill and eviction counts): the
 *  replaced entry's size class and global count move to the new one's. The typed arrays are
 *  array's own, passed one by one so that the miss path's closure constants reach them: read
 *  through the TlbArray object, each access also reloaded the array's length and data pointer.
 *
 *  Small on purpose: V8 inlines it into the miss path twice, and everything inlined into one
 *  function shares a budget of 920 bytes of bytecode, which V8 charges at 1.2× the callee's size
 *  when it decides (--max-inlined-bytecode-size-cumulative, --reserve-inline-budget-scale-factor).
 *  With the replaced-entry bookkeeping inline, the miss path's callees came to 894 bytes, and in
 *  compiles where this one was considered last it was left a call: miss-heavy loads then ran at
 *  52–57 ns instead of 45–48 (docs/benchmarks.md, "The miss path's upper-level entries and its
 *  inlining budget"; test/machine/miss-path-inlining.test.ts). The rare case, a large or global
 *  entry replaced, is fill4kReplaced's. */
function fill4k(array: TlbArray, tags: Float64Array, frames: Float64Array, perms: Int32Array, sizeCounts: Int32Array, i: number, tag: number, asid: number, frame: number, rights: number): void {
  const old = tags[i]!;
  if (old < 0) sizeCounts[0]!++;
  else if (L_tagClass(old) !== 0 || L_tagAsid(old) === L_GLOBAL_ASID) fill4kReplaced(array, sizeCounts, old);
  if (asid === L_GLOBAL_ASID) array.globals++;
  tags[i] = tag;
  frames[i] = frame;
  perms[i] = rights;
}

/** fill4k's replaced entry when it was a 2 MiB or 1 GiB page's, or global: its size class becomes
 *  4 KiB's, and the global count drops. */
function fill4kReplaced(array: TlbArray, sizeCounts: Int32Array, old: number): void {
  const oldClass = L_tagClass(old);
  if (oldClass !== 0) {
    sizeCounts[oldClass]!--;
    sizeCounts[0]!++;
  }
  if (L_tagAsid(old) === L_GLOBAL_ASID) array.globals--;
}

/** shortcutRun and missRun: loads vaddrs[start … end) up to the first one the function does not
 *  serve; returns that index, and `sum` plus the loaded values in Cpu.shortcutSum. */
type LoadRunFn = (vaddrs: ArrayLike<number>, start: number, end: number, out: Uint32Array | undefined, sum: number) => number;

// Slots of Cpu.missTally: the counts of one missRun, its STLB clock, and its last translation's.
const T_L1_MISSES = 0;
const T_L2_HITS = 1;
const T_WALKS = 2;
const T_EVICTIONS1 = 3;
const T_EVICTIONS2 = 4;
const T_CLOCK2 = 5;
const T_LAST_INDEX = 6;
const T_LAST_FRAME = 7;
const T_LAST_RIGHTS = 8;
const T_LAST_BASE = 9;
const T_WALK_FRAME = 10;
const T_WALK_RIGHTS = 11;
const T_SLOTS = 12;

/** Slots of the L1 shortcut (a power of two). */
const SHORTCUT_SLOTS = 4096;

/** A fault handler asked for more retries than one access may take (a kernel bug: it says it fixed
 *  the mapping but the walk still fails). */
export const MAX_FAULT_RETRIES = 8;

export interface CpuOptions {
  /** The CPU's slot (worker index), reported in fault records. */
  index?: number;
  preset: TlbPreset;
  walker?: PageWalkerOptions;
}

export interface CpuStats {
  index: number;
  preset: string;
  accesses: number;
  tlb: ReturnType<Tlb['stats']>;
  walks: number;
  walkReads: number;
  walkCacheHits: [number, number, number];
  faults: number;
  faultsRetried: number;
  shootdownsServiced: number;
  cycles: number;
}

export class CpuError extends KmemError {
  override name = 'CpuError';
}

export class Cpu {
  readonly index: number;
  readonly tlb: Tlb;
  readonly walker: PageWalker;
  readonly costs: CycleCosts;
  cr3 = 0;
  pcid = 0;
  user = true;

  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private port: MemoryPort | null = null;
  // Cycle accounting across memory-port changes (see cycles()).
  private cachePort: CacheModelPort | null = null;
  private portCyclesAtChange = 0;
  private accessesAtPortChange = 0;
  private dataCyclesFolded = 0;
  private faultHandler: FaultHandler | null = null;

  // The remembered translation (see FAST PATH). mSize = 0 when there is none.
  private mBase = 0;
  private mSize = 0;
  private mFrame = 0;
  private mWrite = false;
  private mArray: TlbArray | null = null;
  private mIndex = 0;
  private fastHits = 0;
  // The shortcut (see FAST PATH): slot = 4 KiB page number mod SHORTCUT_SLOTS → a hint, an index
  // into the first L1 array (0 … entries − 1), used only when that entry holds the page's tag.
  private readonly scIdx = new Int32Array(SHORTCUT_SLOTS);
  private scHits = 0;
  /** The first L1 array when it holds 4 KiB pages (else a blank one, so hints never match). */
  private readonly l1First: TlbArray;
  /** l1First's tags while no memory port is attached, else `blankTags` (all empty). */
  private scTags: Float64Array;
  private readonly blankTags: Float64Array;
  /** An entry's PERM_* bits allow a read in the current mode iff (perms & readMask) === readWant;
   *  a write iff (perms & writeMask) === writeWant (W and D set as well, so no walk is needed). */
  private readMask = L_PERM_USER;
  private readWant = L_PERM_USER;
  private writeMask = L_PERM_USER | L_PERM_WRITABLE | L_PERM_DIRTY;
  private writeWant = L_PERM_USER | L_PERM_WRITABLE | L_PERM_DIRTY;
  private slowAccesses = 0;
  private faultsRetried = 0;
  /** othersMayHold()'s answer while the TLB is unchanged (1 or 0), or −1: unknown. The general path
   *  changes the TLB only between forget() and remember() (or an invalidation after forget()), and
   *  both reset it; the miss path's own fills can only remove such entries. */
  private othersCached = -1;
  /** The miss path can ever run: the first L1 array takes the 4 KiB fills and RAM ≤ 2 GiB. */
  private readonly missCapable: boolean;
  /** The second-level array 4 KiB fills go to, or null (no second level holds 4 KiB pages). */
  private readonly l2For4k: TlbArray | null;

  // Shootdown: the request word this CPU polls, and the generation it last serviced.
  private sdWords: Int32Array = new Int32Array(1);
  private sdIndex = 0;
  private sdSeen = 0;
  private domain: ShootdownDomain | null = null;
  shootdownsServiced = 0;
  /** Loads the miss path served (a diagnostic: tests check that it runs; no model counter). */
  missPathLoads = 0;

  constructor(
    readonly ram: Ram,
    options: CpuOptions,
  ) {
    this.index = options.index ?? 0;
    this.tlb = new Tlb(options.preset.tlb);
    this.walker = new PageWalker(ram, options.walker);
    this.walker.walkCache = this.tlb.walkCaches;
    this.costs = options.preset.costs;
    const first = this.tlb.l1[0];
    this.l1First = first !== undefined && first.holds4k ? first : new TlbArray({ name: 'none', entries: 1, ways: 1, pageShifts: [] });
    this.blankTags = new Float64Array(this.l1First.tags.length).fill(-1);
    this.scTags = first !== undefined && first.holds4k ? this.l1First.tags : this.blankTags;
    this.setRightsMasks();
    this.u8 = new Uint8Array(ram.buffer);
    this.u16 = new Uint16Array(ram.buffer, 0, ram.sizeBytes >>> 1);
    this.u32 = new Uint32Array(ram.buffer, 0, ram.sizeBytes >>> 2);
    this.l2For4k = this.tlb.l2.find((a) => a.holds4k) ?? null;
    // The general lookup probes the first L1 array's 4 KiB entries before any other, and the first
    // L2 array's before any other L2 array: the miss path probes those first too.
    this.missCapable = first !== undefined && first.holds4k && ram.sizeBytes <= 2 ** 31 && (this.l2For4k === null || this.l2For4k === this.tlb.l2[0]);
    this.shortcutRun = this.makeShortcutRun();
    this.missRun = this.makeMissRun();
  }

  // ---- control ----------------------------------------------------------------------------------

  setCr3(cr3: number, pcid = 0, options: { flush?: boolean } = {}): void {
    if (!Number.isInteger(cr3) || cr3 < 0 || cr3 % 4096 !== 0 || cr3 + 4096 > this.ram.sizeBytes) {
      throw new CpuError(`CR3 0x${cr3.toString(16)}: expected a 4 KiB-aligned frame inside RAM`);
    }
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > MAX_PCID) throw new CpuError(`PCID ${pcid}: expected 0 … ${MAX_PCID}`);
    this.forget();
    this.cr3 = cr3;
    this.pcid = pcid;
    if (pcid === 0) this.tlb.flushAll(true);
    else if (options.flush === true) this.tlb.flushPcid(pcid);
  }

  setUser(user: boolean): void {
    this.forget();
    this.user = user;
    this.setRightsMasks();
  }

  /** The shortcut's rights test for the current mode: rightsAllow (mmu.ts) for a read, and for a
   *  write also D set (else the access walks to set it). User: U/S needed. Supervisor (CR0.WP = 1):
   *  a user page only without SMAP. */
  private setRightsMasks(): void {
    const smap = this.walker.smap;
    const userMask = this.user || smap ? L_PERM_USER : 0;
    const userWant = this.user ? L_PERM_USER : 0;
    this.readMask = userMask;
    this.readWant = userWant;
    this.writeMask = userMask | L_PERM_WRITABLE | L_PERM_DIRTY;
    this.writeWant = userWant | L_PERM_WRITABLE | L_PERM_DIRTY;
  }

  setFaultHandler(handler: FaultHandler | null): void {
    this.faultHandler = handler;
  }

  setMemoryPort(port: MemoryPort | null): void {
    this.forget();
    this.scTags = port === null && this.l1First.holds4k ? this.l1First.tags : this.blankTags;
    this.dataCyclesFolded += this.dataCyclesSincePortChange();
    this.accessesAtPortChange = this.slowAccesses;
    this.port = port;
    const cache = isCacheModel(port) ? port : null;
    this.cachePort = cache;
    this.portCyclesAtChange = cache === null ? 0 : cache.cycles;
    this.walker.port = cache;
  }

  /** Cycles of the data accesses since the last port change: the cache model's own count when one is
   *  attached (walk reads included: it served them too), else dataAccessCycles per access. */
  private dataCyclesSincePortChange(): number {
    if (this.cachePort !== null) return this.cachePort.cycles - this.portCyclesAtChange;
    return (this.slowAccesses - this.accessesAtPortChange) * this.costs.dataAccessCycles;
  }

  invlpg(vaddr: number): void {
    this.forget();
    this.tlb.invlpg(vaddr, this.pcid);
  }

  flushPcid(pcid: number): void {
    this.forget();
    this.tlb.flushPcid(pcid);
  }

  flushAll(keepGlobal = false): void {
    this.forget();
    this.tlb.flushAll(keepGlobal);
  }

  /** Joins a shootdown domain as CPU `this.index` (shootdown.ts). */
  attachShootdown(domain: ShootdownDomain): void {
    this.domain = domain;
    this.sdWords = domain.words;
    this.sdIndex = domain.requestIndex(this.index);
    this.sdSeen = Atomics.load(this.sdWords, this.sdIndex);
    domain.acknowledge(this.index, this.sdSeen);
  }

  /** Initiates a shootdown in the attached domain: flushes this CPU's TLB and every target's, and
   *  returns once all acknowledged (shootdown.ts). Returns the request's generation. */
  shootdown(targets: readonly number[], request: ShootdownRequest, timeoutMs?: number): number {
    if (this.domain === null) throw new CpuError(`CPU ${this.index}: shootdown without a shootdown domain attached`);
    return this.domain.shootdown(this, targets, request, timeoutMs);
  }

  /** Services a pending shootdown request now (what an idle CPU does; accesses do it themselves). */
  pollShootdown(): void {
    if (Atomics.load(this.sdWords, this.sdIndex) !== this.sdSeen) this.serviceShootdown();
  }

  private serviceShootdown(): void {
    const domain = this.domain;
    if (domain === null) return;
    this.forget();
    this.sdSeen = domain.service(this.index, this.tlb);
    this.shootdownsServiced++;
  }

  /** Folds the fast paths' hit counts into the TLB's counters and drops the remembered translation. */
  private forget(): void {
    if (this.mArray !== null && this.fastHits !== 0) {
      this.mArray.counters.hits += this.fastHits;
      this.tlb.counters.l1Hits += this.fastHits;
      this.slowAccesses += this.fastHits;
      this.fastHits = 0;
    }
    if (this.scHits !== 0) {
      this.l1First.counters.hits += this.scHits;
      this.tlb.counters.l1Hits += this.scHits;
      this.slowAccesses += this.scHits;
      this.scHits = 0;
    }
    this.mSize = 0;
    this.mBase = 0;
    this.mArray = null;
    this.othersCached = -1;
  }

  // ---- translation --------------------------------------------------------------------------------

  /** The physical address for an access of kind `access` at `vaddr`, through TLB, walk and faults. */
  translate(vaddr: number, access: AccessKind | number = L_ACCESS_READ): number {
    const kind = typeof access === 'number' ? access : access === 'read' ? L_ACCESS_READ : access === 'write' ? L_ACCESS_WRITE : L_ACCESS_EXEC;
    L_checkVaddr(vaddr, 1);
    this.pollShootdown();
    return this.translateChecked(vaddr, kind);
  }

  private translateChecked(vaddr: number, access: number): number {
    this.forget();
    const tlb = this.tlb;
    const walker = this.walker;
    const user = this.user;
    for (let attempt = 0; ; attempt++) {
      if (tlb.lookup(vaddr, this.pcid) !== 0) {
        const perms = tlb.perms;
        if (L_rightsAllow(perms, access, user, walker.smep, walker.smap) && (access !== L_ACCESS_WRITE || (perms & L_PERM_DIRTY) !== 0)) {
          return this.remember(vaddr);
        }
        // Cached rights refuse it, or a write needs D set: drop the entry and walk (a fault
        // invalidates the address's TLB entries, SDM §4.10.4.3; the walk sets D).
        tlb.invlpg(vaddr, this.pcid);
      }
      const result = walker.walk(this.cr3, this.pcid, vaddr, access, user);
      if (result === L_WALK_OK) {
        // The lookup above missed (or the invlpg dropped the address), and a walk changes no TLB
        // entry: the fill may skip its tag scans.
        tlb.fill(vaddr, this.pcid, walker.frame, walker.pageShift, walker.perms, true);
        return this.remember(vaddr);
      }
      const fault = L_faultRecord(vaddr, access, user, result, walker.faultLevel, this.cr3, this.pcid, this.index);
      if (attempt >= MAX_FAULT_RETRIES) throw new PageFaultError(fault, `the fault handler asked for ${MAX_FAULT_RETRIES} retries and the walk still fails`);
      const resolution = this.faultHandler === null ? 'raise' : this.faultHandler(fault);
      if (resolution === 'raise') throw new PageFaultError(fault);
      if (resolution !== 'retry') throw resolution;
      this.faultsRetried++;
    }
  }

  /** Records the translation just produced as the fast path's and returns vaddr's paddr. */
  private remember(vaddr: number): number {
    const tlb = this.tlb;
    const size = tlb.pageShift === 12 ? 4096 : tlb.pageShift === 21 ? 2097152 : 1073741824;
    const offset = vaddr & (size - 1);
    this.slowAccesses++;
    this.othersCached = -1;
    const paddr = tlb.frame + offset;
    // A large page may run past the end of RAM (the walker refuses only a page that starts there):
    // an access beyond it is the kernel's bug, raised here, and such a page is never remembered.
    const ramBytes = this.ram.sizeBytes;
    if (paddr >= ramBytes) throw new PhysicalAddressError(paddr, 1, ramBytes);
    const array = tlb.l1Array;
    if (array !== null && this.port === null && tlb.frame + size <= ramBytes && L_rightsAllow(tlb.perms, L_ACCESS_READ, this.user, this.walker.smep, this.walker.smap)) {
      this.setRemembered(array, tlb.l1Index, vaddr - offset, size);
      if (array === this.l1First && size === 4096) this.scIdx[(vaddr >>> 12) & (SHORTCUT_SLOTS - 1)] = tlb.l1Index;
    }
    return paddr;
  }

  private setRemembered(array: TlbArray, index: number, base: number, size: number): void {
    this.mBase = base;
    this.mSize = size;
    this.mFrame = array.frames[index]!;
    const perms = array.perms[index]!;
    this.mWrite = (perms & L_PERM_WRITABLE) !== 0 && (perms & L_PERM_DIRTY) !== 0 && (!this.user || (perms & L_PERM_USER) !== 0);
    this.mArray = array;
    this.mIndex = index;
  }

  load32(vaddr: number): number {
    if (Atomics.load(this.sdWords, this.sdIndex) !== this.sdSeen) this.serviceShootdown();
    return this.load32Unpolled(vaddr);
  }

  /** load32 without the shootdown check (loadMany checks once per run of loads). */
  private load32Unpolled(vaddr: number): number {
    const off = vaddr - this.mBase;
    // `(off | 0) === off`: a whole number (a fractional address must reach the slow path's error).
    if (off >= 0 && off < this.mSize && (off & 3) === 0 && (off | 0) === off) {
      // The remembered translation: an L1 hit on entry mIndex of mArray (made most recent).
      const array = this.mArray!;
      array.touch(this.mIndex);
      this.fastHits++;
      return this.u32[(this.mFrame + off) >>> 2]!;
    }
    // The shortcut: the hinted entry of the first L1 array, if it holds the page's tag under this
    // PCID, is the entry a probe finds first (tags are unique in a set), so this is that probe: the
    // entry becomes most recent, the hit is counted.
    const index = this.scIdx[(vaddr >>> 12) & (SHORTCUT_SLOTS - 1)]!;
    const tag = (vaddr - (vaddr & 4095)) * 8 + this.pcid; // (key · 4 + size class 0) · TAG_ASIDS + pcid, as tlb.ts
    const array = this.l1First;
    // Math.trunc: a fractional address would make a tag of another PCID (tag = page base × 8 + pcid).
    if (this.scTags[index] === tag && (vaddr & 3) === 0 && Math.trunc(vaddr) === vaddr && (array.perms[index]! & this.readMask) === this.readWant) {
      array.touch(index);
      this.scHits++;
      return this.u32[(array.frames[index]! + (vaddr & 4095)) >>> 2]!;
    }
    return this.load32Miss(vaddr);
  }

  /** load32 past both shortcuts: a TLB probe, perhaps a walk, perhaps a fault (kept out of the hot function). */
  private load32Miss(vaddr: number): number {
    if ((vaddr & 3) !== 0) return this.loadSlow(vaddr, 4);
    // The miss path (see MISS PATH), through shortcutRun over a one-load batch: the shortcut test
    // there fails again (nothing changed since load32Unpolled's), so the load takes the miss path
    // or is left to the general path below, untouched.
    if (this.port === null && this.l1First.clock < L_STAMP_LIMIT - 1) {
      const one = this.oneVaddr;
      one[0] = vaddr;
      if (this.missRun(one, 0, 1, undefined, 0) === 1) {
        this.foldMisses();
        return this.shortcutSum >>> 0;
      }
    }
    // Aligned: the access cannot cross a page.
    L_checkVaddr(vaddr, 4);
    const paddr = this.translateChecked(vaddr, L_ACCESS_READ);
    return this.port === null ? this.u32[paddr >>> 2]! : this.port.read(paddr, 4);
  }

  load8(vaddr: number): number {
    if (Atomics.load(this.sdWords, this.sdIndex) !== this.sdSeen) this.serviceShootdown();
    const off = vaddr - this.mBase;
    if (off >= 0 && off < this.mSize && (off | 0) === off) {
      const array = this.mArray!;
      array.touch(this.mIndex);
      this.fastHits++;
      return this.u8[this.mFrame + off]!;
    }
    return this.loadSlow(vaddr, 1);
  }

  load16(vaddr: number): number {
    return this.loadSlow(vaddr, 2);
  }

  /** A 64-bit load as a bigint (two 32-bit halves, little-endian). */
  load64(vaddr: number): bigint {
    const lo = this.loadSlow(vaddr, 4, 8);
    return (BigInt(this.hiHalf) << 32n) | BigInt(lo);
  }

  store32(vaddr: number, value: number): void {
    if (Atomics.load(this.sdWords, this.sdIndex) !== this.sdSeen) this.serviceShootdown();
    const off = vaddr - this.mBase;
    if (off >= 0 && off < this.mSize && this.mWrite && (off & 3) === 0 && (off | 0) === off) {
      const array = this.mArray!;
      array.touch(this.mIndex);
      this.fastHits++;
      this.u32[(this.mFrame + off) >>> 2] = value;
      return;
    }
    const index = this.scIdx[(vaddr >>> 12) & (SHORTCUT_SLOTS - 1)]!;
    const tag = (vaddr - (vaddr & 4095)) * 8 + this.pcid;
    const array = this.l1First;
    if (this.scTags[index] === tag && (vaddr & 3) === 0 && Math.trunc(vaddr) === vaddr && (array.perms[index]! & this.writeMask) === this.writeWant) {
      array.touch(index);
      this.scHits++;
      this.u32[(array.frames[index]! + (vaddr & 4095)) >>> 2] = value;
      return;
    }
    this.storeSlow(vaddr, 4, value >>> 0, 0);
  }

  store8(vaddr: number, value: number): void {
    this.storeSlow(vaddr, 1, value & 0xff, 0);
  }

  store16(vaddr: number, value: number): void {
    this.storeSlow(vaddr, 2, value & 0xffff, 0);
  }

  store64(vaddr: number, value: bigint): void {
    this.storeSlow(vaddr, 8, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn));
  }

  /** Bytes from `vaddr` to the end of the page the last translation (of `vaddr`) found. */
  private bytesLeftInPage(vaddr: number): number {
    const shift = this.tlb.pageShift;
    const size = shift === 12 ? 4096 : shift === 21 ? 2097152 : 1073741824;
    return size - (vaddr & (size - 1));
  }

  /** Bytes [paddr, paddr + n) of one page must lie in RAM: translateChecked checked the first; a
   *  large page running past the end of RAM can put the rest outside it. */
  private checkPhysEnd(paddr: number, n: number): void {
    if (paddr + n > this.ram.sizeBytes) throw new PhysicalAddressError(paddr, n, this.ram.sizeBytes);
  }

  /** The high half of the last 8-byte load (so load64 allocates no pair). */
  private hiHalf = 0;

  /** An access of `sizeBytes` (1, 2, 4; 8 as two halves): translated once per page it touches. */
  private loadSlow(vaddr: number, sizeBytes: number, totalBytes = sizeBytes): number {
    L_checkVaddr(vaddr, totalBytes);
    this.pollShootdown();
    const first = this.translateChecked(vaddr, L_ACCESS_READ);
    const within = Math.min(totalBytes, this.bytesLeftInPage(vaddr));
    this.checkPhysEnd(first, within);
    const second = within < totalBytes ? this.translateChecked(vaddr + within, L_ACCESS_READ) : first + within;
    const lo = this.readPhys(first, second, within, 0, Math.min(sizeBytes, 4));
    if (totalBytes === 8) this.hiHalf = this.readPhys(first, second, within, 4, 4);
    return lo;
  }

  /** Reads `n` bytes at byte `start` of an access whose first `within` bytes are at `first` and the
   *  rest at `second`, little-endian. */
  private readPhys(first: number, second: number, within: number, start: number, n: number): number {
    const port = this.port;
    const a = start < within ? first + start : second + (start - within);
    if (start + n <= within || start >= within) {
      if ((a & (n - 1)) === 0) {
        if (port !== null) return port.read(a, n as 1 | 2 | 4);
        return n === 4 ? this.u32[a / 4]! : n === 2 ? this.u16[a / 2]! : this.u8[a]!;
      }
    }
    let value = 0;
    for (let i = n - 1; i >= 0; i--) {
      const b = start + i < within ? first + start + i : second + (start + i - within);
      value = value * 256 + (port !== null ? port.read(b, 1) : this.u8[b]!);
    }
    return value;
  }

  private storeSlow(vaddr: number, sizeBytes: number, lo: number, hi: number): void {
    L_checkVaddr(vaddr, sizeBytes);
    this.pollShootdown();
    const first = this.translateChecked(vaddr, L_ACCESS_WRITE);
    const within = Math.min(sizeBytes, this.bytesLeftInPage(vaddr));
    this.checkPhysEnd(first, within);
    const second = within < sizeBytes ? this.translateChecked(vaddr + within, L_ACCESS_WRITE) : first + within;
    const port = this.port;
    if (within === sizeBytes && sizeBytes <= 4 && (first & (sizeBytes - 1)) === 0) {
      if (port !== null) port.write(first, sizeBytes as 1 | 2 | 4, lo);
      else if (sizeBytes === 4) this.u32[first / 4] = lo;
      else if (sizeBytes === 2) this.u16[first / 2] = lo;
      else this.u8[first] = lo;
      return;
    }
    for (let i = 0; i < sizeBytes; i++) {
      const byte = i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff;
      const b = i < within ? first + i : second + (i - within);
      if (port !== null) port.write(b, 1, byte);
      else this.u8[b] = byte;
    }
  }

  /** Copies `dst.length` bytes from virtual `vaddr` into `dst`: one translation per page. */
  loadBytes(vaddr: number, dst: Uint8Array): void {
    this.rangeAccess(vaddr, dst, false);
  }

  /** Copies `src` to virtual `vaddr`: one write translation per page. */
  storeBytes(vaddr: number, src: Uint8Array): void {
    this.rangeAccess(vaddr, src, true);
  }

  private rangeAccess(vaddr: number, bytes: Uint8Array, write: boolean): void {
    L_checkVaddr(vaddr, bytes.length);
    let done = 0;
    while (done < bytes.length) {
      this.pollShootdown();
      const at = vaddr + done;
      const paddr = this.translateChecked(at, write ? L_ACCESS_WRITE : L_ACCESS_READ);
      const n = Math.min(bytes.length - done, this.bytesLeftInPage(at));
      this.checkPhysEnd(paddr, n);
      const port = this.port;
      if (port === null) {
        if (write) this.u8.set(bytes.subarray(done, done + n), paddr);
        else bytes.set(this.u8.subarray(paddr, paddr + n), done);
      } else {
        for (let i = 0; i < n; i++) {
          if (write) port.write(paddr + i, 1, bytes[done + i]!);
          else bytes[done + i] = port.read(paddr + i, 1);
        }
      }
      done += n;
    }
  }

  /**
   * 32-bit loads at every address of `vaddrs` (each 4-byte aligned), in order, exactly as that many
   * `load32` calls would do them (same counters, same faults). Writes the values to `out` when given;
   * returns their sum mod 2^32.
   */
  loadMany(vaddrs: ArrayLike<number>, out?: Uint32Array): number {
    let sum = 0;
    const n = vaddrs.length;
    // The shootdown word is checked before every run of POLL_EVERY loads rather than every load: a
    // target may use a cached translation until it acknowledges (the initiator is still waiting
    // then), so checking less often delays the acknowledgement, never the correctness.
    for (let start = 0; start < n; start += POLL_EVERY) {
      if (Atomics.load(this.sdWords, this.sdIndex) !== this.sdSeen) this.serviceShootdown();
      sum = this.loadRun(vaddrs, start, Math.min(n, start + POLL_EVERY), out, sum);
    }
    return sum >>> 0;
  }

  /** One run of loadMany's loads. A function of its own, called often, so V8 optimizes it whole:
   *  as one long loop it was compiled on-stack and thrown away at every exit (the code after the
   *  loop had no type feedback), hundreds of times a second. */
  private loadRun(vaddrs: ArrayLike<number>, start: number, end: number, out: Uint32Array | undefined, sum: number): number {
    // Runs that could take the clock to STAMP_LIMIT (renumbering), runs through a memory port (the
    // shortcut is off), and runs whose `out` lies in RAM go the plain way: the miss path translates
    // a run before it reads the run's data and writes `out`, so a value written over a page table
    // would not be seen by the run's later walks, as it is one load at a time. (The run's slow
    // loads also advance the clock, through touch(), which renumbers at the limit: the inline
    // stamps can overshoot it by a few hundred at most, far inside the int32 and Smi ranges, and
    // the next touch() renumbers.)
    if (this.port !== null || this.l1First.clock + (end - start) >= L_STAMP_LIMIT || (out !== undefined && out.buffer === this.ram.buffer)) {
      for (let i = start; i < end; i++) {
        const value = this.load32Unpolled(vaddrs[i]!);
        if (out !== undefined) out[i] = value;
        sum = (sum + value) | 0;
      }
      return sum;
    }
    let i = start;
    for (;;) {
      i = this.shortcutRun(vaddrs, i, end, out, sum);
      // Read at once: a fault handler in the slow load below may run a loadMany of its own.
      sum = this.shortcutSum;
      if (i >= end) return sum;
      const served = this.missRun(vaddrs, i, end, out, sum);
      sum = this.shortcutSum;
      if (this.missTally[T_LAST_INDEX]! >= 0) this.foldMisses();
      if (served > i) {
        i = served;
        if (i >= end) return sum;
        continue;
      }
      const value = this.load32Unpolled(vaddrs[i]!);
      if (out !== undefined) out[i] = value;
      sum = (sum + value) | 0;
      i++;
    }
  }

  /** The running sum shortcutRun returns beside its stopping index. */
  private shortcutSum = 0;
  /** What a missRun left to fold (T_* slots; T_LAST_INDEX −1: nothing). */
  private readonly missTally = new Float64Array(T_SLOTS).fill(-1);
  /** load32Miss's one-load batch for missRun. */
  private readonly oneVaddr = new Float64Array(1);

  /**
   * The shortcut (load32Unpolled's second test) over vaddrs[start … end), up to the first load it
   * cannot serve; returns that load's index (or end), and `sum` plus the loaded values in
   * shortcutSum. The caller has checked that no memory port is attached and that the clock stays
   * below STAMP_LIMIT.
   *
   * Built once per CPU as a closure over its typed arrays: when an isolate holds one CPU (one per
   * worker, as the kernel runs them) V8 compiles the closure with those arrays as constants, which
   * leaves their lengths and data pointers out of the loop; read from fields or locals they were
   * reloaded on every access (TurboFan hoists no loop-invariant loads), and the loop ran at a third
   * of the speed (measured: 108 vs 340 M loads/s in a stand-alone copy). With several CPUs in one
   * isolate the closure is simply compiled generically.
   */
  private readonly shortcutRun: LoadRunFn;

  /**
   * The miss path (see MISS PATH) over vaddrs[start … end), up to the first load it does not serve:
   * a shortcut hit (shortcutRun's; its loop stays short without this one's code) or a load it
   * leaves to the general path. Returns that load's index (or end), and `sum` plus the loaded
   * values in shortcutSum. Same caller's checks as shortcutRun; a closure for the same reason.
   */
  private readonly missRun: LoadRunFn;

  /** Whether an array may hold an entry the miss path's probes do not look at: any entry of an
   *  array other than the first L1 array and l2For4k, or a 2 MiB or 1 GiB entry of those two. */
  private othersMayHold(): boolean {
    for (const array of this.tlb.l1) if (Cpu.holdsOthers(array, array === this.l1First)) return true;
    for (const array of this.tlb.l2) if (Cpu.holdsOthers(array, array === this.l2For4k)) return true;
    return false;
  }

  private static holdsOthers(array: TlbArray, probed4k: boolean): boolean {
    const c = array.sizeCounts;
    return c[1]! + c[2]! + (probed4k ? 0 : c[0]!) > 0;
  }

  /** Whether one of those other entries translates `vaddr` under the current PCID (the probes of
   *  the general lookup the miss path does not make; pure: no counter, no LRU change). */
  private coveredElsewhere(vaddr: number): boolean {
    for (const array of this.tlb.l1) if (Cpu.covers(array, vaddr, this.pcid, array === this.l1First)) return true;
    for (const array of this.tlb.l2) if (Cpu.covers(array, vaddr, this.pcid, array === this.l2For4k)) return true;
    return false;
  }

  private static covers(array: TlbArray, vaddr: number, pcid: number, probed4k: boolean): boolean {
    const c = array.sizeCounts;
    if (!probed4k && c[0]! > 0 && array.find(Math.floor(vaddr / 4096), 12, pcid) >= 0) return true;
    if (c[1]! > 0 && array.find(Math.floor(vaddr / 2097152), 21, pcid) >= 0) return true;
    return c[2]! > 0 && array.find(Math.floor(vaddr / 1073741824), 30, pcid) >= 0;
  }

  private makeShortcutRun(): LoadRunFn {
    const array = this.l1First;
    const scIdx = this.scIdx;
    const tags = array.tags;
    const perms = array.perms;
    const frames = array.frames;
    const stamps = array.stamps;
    const u32 = this.u32;
    return (vaddrs, start, end, out, sum) => {
      const pcid = this.pcid;
      const readMask = this.readMask;
      const readWant = this.readWant;
      // `| 0`: the clock is below STAMP_LIMIT; saying so keeps it an int32 in the loop.
      let clock = array.clock | 0;
      let i = start;
      for (; i < end; i++) {
        const vaddr = vaddrs[i]!;
        const index = scIdx[(vaddr >>> 12) & (SHORTCUT_SLOTS - 1)]!;
        if (tags[index] !== (vaddr - (vaddr & 4095)) * 8 + pcid || (vaddr & 3) !== 0 || Math.trunc(vaddr) !== vaddr || (perms[index]! & readMask) !== readWant) break;
        clock = (clock + 1) | 0;
        stamps[index] = clock;
        const value = u32[(frames[index]! + (vaddr & 4095)) >>> 2]!;
        if (out !== undefined) out[i] = value;
        sum = (sum + value) | 0;
      }
      this.scHits += i - start;
      array.clock = clock;
      this.shortcutSum = sum;
      return i;
    };
  }

  private makeMissRun(): LoadRunFn {
    const u32 = this.u32;
    const scIdx = this.scIdx;
    // The first L1 array (the shortcut's, and the one 4 KiB fills go to).
    const array = this.l1First;
    const tags = array.tags;
    const perms = array.perms;
    const frames = array.frames;
    const stamps = array.stamps;
    const sizeCounts = array.sizeCounts;
    const order = array.lruOrder;
    const heads = array.lruHeads;
    const placed = array.lruPlaced;
    const sigBytes = array.sigBytes;
    const sigStride = array.sigWordsPerSet * 4;
    const ways = array.ways;
    const setMask = array.setMask;
    // The second-level array 4 KiB fills go to (read only when hasL2).
    const hasL2 = this.l2For4k !== null;
    const l2 = this.l2For4k ?? array;
    const tags2 = l2.tags;
    const perms2 = l2.perms;
    const frames2 = l2.frames;
    const stamps2 = l2.stamps;
    const sizeCounts2 = l2.sizeCounts;
    const order2 = l2.lruOrder;
    const heads2 = l2.lruHeads;
    const placed2 = l2.lruPlaced;
    const sigBytes2 = l2.sigBytes;
    const sigStride2 = l2.sigWordsPerSet * 4;
    const sigWordsPerSet2 = l2.sigWordsPerSet;
    const sigWords2 = new Int32Array(l2.sigBytes.buffer, l2.sigBytes.byteOffset, l2.sigBytes.byteLength >>> 2);
    const ways2 = l2.ways;
    const setMask2 = l2.setMask;
    // The walk's view of RAM (mmu.ts).
    const words = new Int32Array(this.ram.buffer, 0, this.ram.sizeBytes >>> 2);
    const ramBytes = this.ram.sizeBytes;
    const hiReserved = this.walker.hiReserved;
    const tally = this.missTally;
    // An upper-level entry the miss path follows: present, not a large page, next table below 2 GiB.
    const upperBad = hiReserved | L_PTE_HI_FRAME_MASK;
    // The run's translated word indices, read after its translations (see the loop's end).
    const wordAt = new Int32Array(POLL_EVERY);
    // The signature seed of global 4 KiB tags (tlb.ts signatureSeed); this PCID's is the run's.
    const seedGlobal = L_signatureSeed(0, L_GLOBAL_ASID);
    return (vaddrs, start, end, out, sum) => {
      if (end - start > POLL_EVERY) throw new InvariantError(`a miss-path run of ${end - start} loads, expected at most ${POLL_EVERY}`);
      const pcid = this.pcid;
      const readMask = this.readMask;
      const readWant = this.readWant;
      const cr3 = this.cr3;
      // The signature seed of this PCID's 4 KiB tags.
      const seedPcid = L_signatureSeed(0, pcid);
      // `| 0`: the clock is below STAMP_LIMIT; saying so keeps it an int32 in the loop.
      let clock = array.clock | 0;
      let clock2 = l2.clock | 0;
      const missOn = this.missCapable && this.port === null && this.walker.port === null && this.tlb.walkCaches === null && clock2 + (end - start) < L_STAMP_LIMIT;
      // Whether the pure check for other entries is needed (the run's fills, all of 4 KiB into the
      // probed arrays, can only remove such entries).
      if (missOn && this.othersCached < 0) this.othersCached = this.othersMayHold() ? 1 : 0;
      const others = this.othersCached !== 0;
      // The miss path's effects folded at the end: loads that missed L1, of those the L2 hits and
      // the walks, fills that replaced a valid entry or took an empty way, per level.
      let missLoads = 0;
      let l1Misses = 0;
      let l2Hits = 0;
      let walks = 0;
      let evictions1 = 0;
      let evictions2 = 0;
      // The last translation the miss path made (its L1 entry, −1 if none), and the last walk's.
      let lastIndex = -1;
      let lastFrame = 0;
      let lastRights = 0;
      let lastBase = 0;
      let walkFrame = 0;
      let walkRights = 0;
      // The walk's PML4 and PDPT entries for the 1 GiB region `regionKey` (vaddr / 2^30), read and
      // checked at the run's first walk into the region and reused by its later walks there (−1:
      // none). Host-side and for one run only. Within a run nothing writes RAM but the run's own A
      // bits, which the cached values take too. Another CPU's change to those entries is seen
      // from the next run on: before it, the change's shootdown cannot have been acknowledged (a
      // CPU acknowledges between runs), just as a processor may walk through a cached upper-level
      // entry until it is invalidated (Intel SDM vol. 3A §4.10.3, paging-structure caches); and
      // the kernel frees a page table only after that shootdown (src/mm/vm/mmu-gather.ts), so a
      // cached entry never leads into a freed table. The model's counts are unchanged: a walk
      // still counts four reads.
      let regionKey = -1;
      let regionE4 = 0;
      let regionE3 = 0;
      let regionLo4 = 0;
      let regionLo3 = 0;
      let regionHiNx = 0;
      let i = start;
      for (; i < end; i++) {
        const vaddr = vaddrs[i]!;
        const offset = vaddr & 4095;
        const tag = (vaddr - offset) * 8 + pcid; // (key · 4 + size class 0) · TAG_ASIDS + pcid, as tlb.ts
        const slot = (vaddr >>> 12) & (SHORTCUT_SLOTS - 1);
        let index = scIdx[slot]!;
        // First the tests every load runs (V8 compiles an operation it has not yet seen run as a
        // deoptimization, see evictions2): unaligned or not an integer, the general path's; a
        // shortcut hit (the hinted entry holds the page and allows the read), shortcutRun's (its
        // loop is kept short for hits). Then the miss path, or a stop (nothing changed for this
        // load) where it meets anything else.
        if ((vaddr & 3) !== 0 || Math.trunc(vaddr) !== vaddr) break;
        const hinted = tags[index] === tag;
        const readable = (perms[index]! & readMask) === readWant;
        if (hinted && readable) break;
        if (!missOn || vaddr < 0 || vaddr + 4 > L_VADDR_LIMIT) break;
        const vpn = vaddr >>> 12; // the key's low 20 bits: enough for any set index
        // The first L1 array's probe of 4 KiB entries: this PCID's tag, then the global one.
        const set = vpn & setMask;
        const base = set * ways;
        const globalTag = tag - pcid + L_GLOBAL_ASID;
        // One call site for both tags (findWayEither), so one inlining candidate: with a second
        // site for the global tag, which a compile meets once the TLB has held a global entry,
        // the callees passed V8's inlining budget (test/machine/miss-path-inlining.test.ts).
        index = L_findWayEither(tags, base, ways, tag, array.globals > 0 ? globalTag : tag);
        let frame: number;
        let rights: number;
        if (index >= 0) {
          // An L1 hit: counted as a shortcut hit is (the probe's hit and remember()'s access).
          rights = perms[index]!;
          if ((rights & readMask) !== readWant) break; // the general path drops the entry and walks
          frame = frames[index]!;
          clock = (clock + 1) | 0;
          stamps[index] = clock;
        } else {
          // The general lookup's other probes (other sizes, other arrays) must all miss.
          if (others && this.coveredElsewhere(vaddr)) break;
          const set2 = vpn & setMask2;
          const base2 = set2 * ways2;
          let index2 = -1;
          // The fills' signature byte for this PCID (tlb.ts signature of the key's low 32 bits),
          // which also lets the STLB probe skip its tag scan when no way carries it.
          const sigPcid = L_seededSignature((vaddr * (1 / 4096)) >>> 0, seedPcid);
          if (hasL2) {
            index2 = L_sigMayHold(sigWords2, set2 * sigWordsPerSet2, sigWordsPerSet2, sigPcid) ? L_findWay(tags2, base2, ways2, tag) : -1;
            if (index2 < 0 && l2.globals > 0) index2 = L_findWay(tags2, base2, ways2, globalTag);
          }
          if (index2 >= 0) {
            rights = perms2[index2]!;
            if ((rights & readMask) !== readWant) break;
            frame = frames2[index2]!;
            clock2 = (clock2 + 1) | 0;
            stamps2[index2] = clock2;
            l2Hits++;
          } else {
            // The walk (mmu.ts PageWalker.walk with no walk cache and no port): every entry read
            // and checked before anything is written (A bits, fills), so a stop changes nothing.
            const hiV = Math.floor(vaddr * INVERSE_4G);
            const loV = vaddr >>> 0;
            // The PML4 and PDPT entries of the run's last 1 GiB region (see regionKey).
            const region = hiV * 4 + (loV >>> 30);
            if (region !== regionKey) {
              const e4 = cr3 + ((hiV >>> 7) & 511) * 8;
              if (e4 + 8 > ramBytes) break;
              const lo4 = words[e4 >>> 2]!;
              const hi4 = words[(e4 >>> 2) + 1]!;
              if ((lo4 & (L_PTE_PRESENT | L_PTE_HUGE)) !== L_PTE_PRESENT || lo4 < 0 || (hi4 & upperBad) !== 0) break;
              const e3 = (lo4 & L_PTE_LO_FRAME_MASK) + (((hiV & 0x7f) << 2) | (loV >>> 30)) * 8;
              if (e3 + 8 > ramBytes) break;
              const lo3 = words[e3 >>> 2]!;
              const hi3 = words[(e3 >>> 2) + 1]!;
              if ((lo3 & (L_PTE_PRESENT | L_PTE_HUGE)) !== L_PTE_PRESENT || lo3 < 0 || (hi3 & upperBad) !== 0) break;
              regionKey = region;
              regionE4 = e4;
              regionE3 = e3;
              regionLo4 = lo4;
              regionLo3 = lo3;
              regionHiNx = (hi4 | hi3) & L_PTE_HI_NX;
            }
            const e2 = (regionLo3 & L_PTE_LO_FRAME_MASK) + ((loV >>> 21) & 511) * 8;
            if (e2 + 8 > ramBytes) break;
            const lo2 = words[e2 >>> 2]!;
            const hi2 = words[(e2 >>> 2) + 1]!;
            if ((lo2 & (L_PTE_PRESENT | L_PTE_HUGE)) !== L_PTE_PRESENT || lo2 < 0 || (hi2 & upperBad) !== 0) break;
            const e1 = (lo2 & L_PTE_LO_FRAME_MASK) + ((loV >>> 12) & 511) * 8;
            if (e1 + 8 > ramBytes) break;
            let lo1 = words[e1 >>> 2]!;
            const hi1 = words[(e1 >>> 2) + 1]!;
            // A present leaf whose frame lies inside RAM below 2 GiB.
            if ((lo1 & L_PTE_PRESENT) === 0 || (hi1 & upperBad) !== 0) break;
            frame = (lo1 & L_PTE_LO_FRAME_MASK) >>> 0;
            if (frame + 4096 > ramBytes) break;
            // Rights (§4.6): W and U ANDed over the levels, NX ORed.
            const all = regionLo4 & regionLo3 & lo2 & lo1;
            rights = ((all & L_PTE_WRITABLE) !== 0 ? L_PERM_WRITABLE : 0) | ((all & L_PTE_USER) !== 0 ? L_PERM_USER : 0);
            if ((regionHiNx | ((hi2 | hi1) & L_PTE_HI_NX)) !== 0) rights |= L_PERM_NX;
            if ((rights & readMask) !== readWant) break; // a protection fault
            // Commit: A in every entry used, atomically as the walker sets it (§4.8).
            if ((regionLo4 & L_PTE_ACCESSED) === 0) regionLo4 = Atomics.or(words, regionE4 >>> 2, L_PTE_ACCESSED) | L_PTE_ACCESSED;
            if ((regionLo3 & L_PTE_ACCESSED) === 0) regionLo3 = Atomics.or(words, regionE3 >>> 2, L_PTE_ACCESSED) | L_PTE_ACCESSED;
            if ((lo2 & L_PTE_ACCESSED) === 0) Atomics.or(words, e2 >>> 2, L_PTE_ACCESSED);
            if ((lo1 & L_PTE_ACCESSED) === 0) lo1 = Atomics.or(words, e1 >>> 2, L_PTE_ACCESSED) | L_PTE_ACCESSED;
            if ((lo1 & L_PTE_DIRTY_BIT) !== 0) rights |= L_PERM_DIRTY;
            if ((lo1 & L_PTE_GLOBAL) !== 0) rights |= L_PERM_GLOBAL;
            walks++;
            walkFrame = frame;
            walkRights = rights;
          }
          // The fills (insertAbsent: the lookup just missed these tags): the STLB after a walk,
          // then L1. A global translation takes the global tag (tlb.ts install).
          const isGlobal = (rights & L_PERM_GLOBAL) !== 0;
          const asid = isGlobal ? L_GLOBAL_ASID : pcid;
          const fillTag = isGlobal ? globalTag : tag;
          const sig = isGlobal ? L_seededSignature((vaddr * (1 / 4096)) >>> 0, seedGlobal) : sigPcid;
          if (hasL2 && index2 < 0) {
            clock2 = (clock2 + 1) | 0;
            const victim = L_lruTake(stamps2, order2, placed2, heads2, set2, ways2, clock2);
            sigBytes2[set2 * sigStride2 + (victim - base2)] = sig;
            // An add on every fill, not `if (…) evictions2++`: the STLB's first eviction can come
            // after V8 has optimized this closure (about 1300 loads into a miss-heavy run), and an
            // increment it had never seen run was a deoptimization there. In some processes V8
            // then ran the loop only as on-stack-replaced code, entered afresh on every call, at
            // 2–3.5× the time per load for the rest of the process (docs/benchmarks.md, "A
            // deoptimization at the STLB's first eviction"). test/machine/miss-path-deopt.test.ts
            // checks that the closure stays optimized through the first evictions.
            evictions2 += tags2[victim]! >= 0 ? 1 : 0;
            fill4k(l2, tags2, frames2, perms2, sizeCounts2, victim, fillTag, asid, frame, rights);
            stamps2[victim] = clock2;
          }
          clock = (clock + 1) | 0;
          index = L_lruTake(stamps, order, placed, heads, set, ways, clock);
          sigBytes[set * sigStride + (index - base)] = sig;
          evictions1 += tags[index]! >= 0 ? 1 : 0; // as evictions2
          fill4k(array, tags, frames, perms, sizeCounts, index, fillTag, asid, frame, rights);
          stamps[index] = clock;
          l1Misses++;
        }
        // remember(): the hint to the entry, and (folded below) the remembered translation.
        missLoads++;
        scIdx[slot] = index;
        lastIndex = index;
        lastFrame = frame;
        lastRights = rights;
        lastBase = vaddr - offset;
        wordAt[i - start] = (lastFrame + offset) >>> 2;
      }
      // The data reads, after the run's translations: a loop of a few instructions per read keeps
      // many host cache misses in flight, where one read per translation (a hundred instructions
      // and more) waited for each in turn. Same values: no translation writes data, and `out` in
      // RAM (which a read could see) goes the plain way (loadRun).
      for (let k = start; k < i; k++) {
        const value = u32[wordAt[k - start]!]!;
        if (out !== undefined) out[k] = value;
        sum = (sum + value) | 0;
      }
      array.clock = clock;
      // L1 probe hits: an L1 hit of the first array and an access, as a shortcut hit.
      this.scHits += i - start - l1Misses;
      this.missPathLoads += missLoads;
      if (lastIndex >= 0) {
        // Left for the caller to fold (foldMisses): kept out of this function, V8 spends its
        // inlining budget here on the probes and fills.
        tally[T_L1_MISSES] = l1Misses;
        tally[T_L2_HITS] = l2Hits;
        tally[T_WALKS] = walks;
        tally[T_EVICTIONS1] = evictions1;
        tally[T_EVICTIONS2] = evictions2;
        tally[T_CLOCK2] = clock2;
        tally[T_LAST_FRAME] = lastFrame;
        tally[T_LAST_RIGHTS] = lastRights;
        tally[T_LAST_BASE] = lastBase;
        tally[T_WALK_FRAME] = walkFrame;
        tally[T_WALK_RIGHTS] = walkRights;
        tally[T_LAST_INDEX] = lastIndex;
      }
      this.shortcutSum = sum;
      return i;
    };
  }

  /** What the miss path of one shortcutRun did, written where the general path writes it: the
   *  counters of lookup, fill, walk and remember(), the STLB's clock, the TLB's, walker's and
   *  remembered translation's last values. */
  private foldMisses(): void {
    const t = this.missTally;
    const l1Misses = t[T_L1_MISSES]!;
    const l2Hits = t[T_L2_HITS]!;
    const walks = t[T_WALKS]!;
    const lastIndex = t[T_LAST_INDEX]!;
    const lastFrame = t[T_LAST_FRAME]!;
    const lastRights = t[T_LAST_RIGHTS]!;
    t[T_LAST_INDEX] = -1;
    // The remembered translation is replaced below: its hits go to its own array first (forget()
    // also drops othersCached, which the miss path's fills leave true).
    const others = this.othersCached;
    this.forget();
    this.othersCached = others;
    const tlb = this.tlb;
    const tc = tlb.counters;
    const l1 = this.l1First;
    tc.l1Misses += l1Misses;
    tc.l2Hits += l2Hits;
    tc.l2Misses += walks;
    this.slowAccesses += l1Misses;
    l1.counters.fills += l1Misses;
    l1.counters.evictions += t[T_EVICTIONS1]!;
    const l2 = this.l2For4k;
    if (l2 !== null) {
      l2.clock = t[T_CLOCK2]!;
      l2.counters.hits += l2Hits;
      l2.counters.fills += walks;
      l2.counters.evictions += t[T_EVICTIONS2]!;
    }
    if (walks > 0) {
      const walker = this.walker;
      walker.counters.walks += walks;
      walker.counters.walkReads += 4 * walks;
      walker.lastStartLevel = 4;
      walker.lastReads = 4;
      walker.frame = t[T_WALK_FRAME]!;
      walker.pageShift = 12;
      walker.perms = t[T_WALK_RIGHTS]!;
    }
    tlb.frame = lastFrame;
    tlb.pageShift = 12;
    tlb.perms = lastRights;
    tlb.l1Array = l1;
    tlb.l1Index = lastIndex;
    // The remembered translation (remember() → setRemembered).
    this.mBase = t[T_LAST_BASE]!;
    this.mSize = 4096;
    this.mFrame = lastFrame;
    this.mWrite = (lastRights & L_PERM_WRITABLE) !== 0 && (lastRights & L_PERM_DIRTY) !== 0 && (!this.user || (lastRights & L_PERM_USER) !== 0);
    this.mArray = l1;
    this.mIndex = lastIndex;
  }

  // ---- accounting ---------------------------------------------------------------------------------

  /**
   * Modelled cycles so far (tlb-presets.ts): L1 TLB hits, L2 TLB hits, walks, walk reads, data
   * accesses. With a cache model attached (setMemoryPort of a CacheModelPort) the data accesses and
   * the walk reads cost what the cache charged for them (its `cycles`, counted once), in place of the
   * preset's dataAccessCycles and walkReadCycles; walk reads made with no cache attached keep
   * walkReadCycles each.
   */
  cycles(): number {
    this.forget();
    const c = this.costs;
    const t: TlbCounters = this.tlb.counters;
    const w = this.walker.counters;
    const data = this.dataCyclesFolded + this.dataCyclesSincePortChange();
    return data + this.slowAccesses * c.l1HitCycles + t.l2Hits * c.l2HitCycles + w.walks * c.walkBaseCycles + (w.walkReads - w.portReads) * c.walkReadCycles;
  }

  stats(): CpuStats {
    this.forget();
    const w = this.walker.counters;
    return {
      index: this.index,
      preset: this.tlb.spec.name,
      accesses: this.slowAccesses,
      tlb: this.tlb.stats(),
      walks: w.walks,
      walkReads: w.walkReads,
      walkCacheHits: [...w.walkCacheHits],
      faults: w.faults,
      faultsRetried: this.faultsRetried,
      shootdownsServiced: this.shootdownsServiced,
      cycles: this.cycles(),
    };
  }

  validate(): void {
    this.forget();
    this.tlb.validate();
  }
}
