/**
 * The MMU's page walker: translates a 48-bit virtual address by reading the real x86-64 paging
 * structures from RAM, starting at CR3 (Intel SDM vol. 3A §4.5 for the walk, §4.6 for access rights,
 * §4.7 for the page-fault error code, §4.8 for the accessed and dirty flags, §4.10.3 for the
 * paging-structure caches). Entry format: pte.ts.
 *
 * INTERFACE (what the kernel codes against)
 *   - The kernel builds page tables in RAM (pte.ts helpers) and gives the CPU a CR3 (the PML4 frame's
 *     physical address) and a PCID (0 … 4095) with `cpu.setCr3(cr3, pcid)`.
 *   - Every translation the TLBs cannot serve calls `PageWalker.walk()`, which reads up to four
 *     entries from RAM, sets the accessed flag (bit 5) in each entry it uses and, for a write, the
 *     dirty flag (bit 6) in the leaf, with an atomic OR as the hardware's locked update. A/D are set
 *     on the leaf only when the access is allowed (a faulting access changes no leaf).
 *   - A failed translation becomes a `PageFault` record (vaddr, access kind read/write/exec,
 *     user/supervisor, reason not-present/protection/reserved, the level where the walk stopped, and
 *     the x86 error code) handed to the kernel's `FaultHandler` (`cpu.setFaultHandler(fn)`):
 *       'retry'  the kernel fixed the tables (a demand fault); the CPU walks again (bounded);
 *       'raise'  the CPU throws `PageFaultError` carrying the record;
 *       an Error the CPU throws it as it is (the kernel's own typed error, e.g. a guard-page hit).
 *     With no handler installed every fault raises.
 *   - Rights (§4.6, CR0.WP = 1, IA32_EFER.NXE = 1): a write needs R/W at every level, a user access
 *     needs U/S at every level, an instruction fetch faults if XD is set at any level. Optional SMEP
 *     (supervisor fetch from a user page faults) and SMAP (supervisor data access to a user page
 *     faults; the model has no EFLAGS.AC, so the kernel accesses user memory as a user access).
 *   - The walker keeps the structures the TLB does not: nothing. Invalidation of cached upper-level
 *     entries (page-walk caches) is done by the TLB owner (tlb.ts) through `invalidate*`.
 */
import { KmemError } from '../util/errors.ts';
import { PhysicalAddressError, type Ram } from './ram.ts';
import {
  PAGE_SHIFT_1G,
  PAGE_SHIFT_2M,
  PAGE_SHIFT_4K,
  PDE_HUGE_RESERVED_LO,
  PDPTE_HUGE_RESERVED_LO,
  PTE_ACCESSED,
  PTE_DIRTY,
  PTE_GLOBAL,
  PTE_HI_NX,
  PTE_HUGE,
  PTE_LO_FRAME_MASK,
  PTE_PRESENT,
  PTE_USER,
  PTE_WRITABLE,
  PTE_HI_FRAME_MASK,
  VADDR_LIMIT,
  hiReservedMask,
} from './pte.ts';

/** Access kinds, as numbers on the fast path. */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXEC = 2;
export type AccessKind = 'read' | 'write' | 'exec';
export const ACCESS_NAMES: readonly AccessKind[] = ['read', 'write', 'exec'];

/** Walk outcomes: 0 is success, the others are fault reasons. */
export const WALK_OK = 0;
export const FAULT_NOT_PRESENT = 1;
export const FAULT_PROTECTION = 2;
export const FAULT_RESERVED = 3;
export type FaultReason = 'not-present' | 'protection' | 'reserved';
export const FAULT_REASON_NAMES: readonly FaultReason[] = ['not-present', 'not-present', 'protection', 'reserved'];

/** Bits of the x86 page-fault error code (§4.7). */
export const PF_ERR_PRESENT = 1 << 0;
export const PF_ERR_WRITE = 1 << 1;
export const PF_ERR_USER = 1 << 2;
export const PF_ERR_RESERVED = 1 << 3;
export const PF_ERR_FETCH = 1 << 4;

/** Combined rights of a translation (the TLB stores them): not PTE bits, a small set of their own. */
export const PERM_WRITABLE = 1 << 0;
export const PERM_USER = 1 << 1;
export const PERM_NX = 1 << 2;
export const PERM_GLOBAL = 1 << 3;
export const PERM_DIRTY = 1 << 4;

/** What a failed translation reports to the kernel. */
export interface PageFault {
  readonly vaddr: number;
  readonly access: AccessKind;
  readonly user: boolean;
  readonly reason: FaultReason;
  /** The level whose entry stopped the walk (4 = PML4 … 1 = PT); for protection faults, the leaf's. */
  readonly level: number;
  /** The x86 page-fault error code (§4.7): PF_ERR_* bits. */
  readonly errorCode: number;
  readonly cr3: number;
  readonly pcid: number;
  /** The CPU (worker slot) that faulted. */
  readonly cpuIndex: number;
}

export type FaultResolution = 'retry' | 'raise' | Error;
export type FaultHandler = (fault: PageFault) => FaultResolution;

/** A fault the kernel refused (or no kernel handler was installed). */
export class PageFaultError extends KmemError {
  override name = 'PageFaultError';
  constructor(
    readonly fault: PageFault,
    detail = '',
  ) {
    super(
      `page fault at 0x${fault.vaddr.toString(16)} on cpu ${fault.cpuIndex}: ${fault.user ? 'user' : 'supervisor'} ${fault.access}, ${fault.reason} at level ${fault.level} (error code 0x${fault.errorCode.toString(16)})${detail === '' ? '' : `: ${detail}`}; expected a mapping that allows it`,
    );
  }
}

/** An address outside the 48-bit space (a non-canonical address raises #GP, not #PF, on x86). */
export class VirtualAddressError extends KmemError {
  override name = 'VirtualAddressError';
  constructor(
    readonly vaddr: number,
    readonly sizeBytes: number,
  ) {
    super(`virtual range [0x${vaddr.toString(16)}, +${sizeBytes}) is outside the 48-bit address space [0, 2^48)`);
  }
}

const L_VADDR_LIMIT = VADDR_LIMIT; // a module-local copy: see the note above PageWalker

export function checkVaddr(vaddr: number, sizeBytes: number): void {
  if (!Number.isInteger(vaddr) || vaddr < 0 || vaddr + sizeBytes > L_VADDR_LIMIT) throw new VirtualAddressError(vaddr, sizeBytes);
}

/**
 * Access rights (§4.6, CR0.WP = 1) on combined rights `perms` (PERM_*): a user access needs U/S; a
 * write needs R/W (supervisor too); a fetch faults on XD; SMEP refuses a supervisor fetch from a user
 * page and SMAP a supervisor data access to one. The TLB applies the same rule to cached rights.
 */
export function rightsAllow(perms: number, access: number, user: boolean, smep: boolean, smap: boolean): boolean {
  if (access === ACCESS_WRITE && (perms & PERM_WRITABLE) === 0) return false;
  if (access === ACCESS_EXEC && (perms & PERM_NX) !== 0) return false;
  if (user) return (perms & PERM_USER) !== 0;
  return (perms & PERM_USER) === 0 || !(access === ACCESS_EXEC ? smep : smap);
}

/** The x86 error code of a fault (§4.7). */
export function faultErrorCode(reason: number, access: number, user: boolean): number {
  let code = reason === FAULT_NOT_PRESENT ? 0 : PF_ERR_PRESENT;
  if (reason === FAULT_RESERVED) code |= PF_ERR_RESERVED;
  if (access === ACCESS_WRITE) code |= PF_ERR_WRITE;
  if (access === ACCESS_EXEC) code |= PF_ERR_FETCH;
  if (user) code |= PF_ERR_USER;
  return code;
}

/** Optional caches of upper-level entries the walker consults (§4.10.3). tlb.ts implements it. */
export interface WalkCache {
  /** Deepest cached level for `vaddr` under `pcid`: sets `table`, `perms`, returns the level to
   *  read next (3 after a PML4E hit, 2 after a PDPTE hit, 1 after a PDE hit), or 4 on a miss. */
  lookup(vaddr: number, pcid: number): number;
  /** After a hit: the physical address of the next table, and the rights accumulated above it. */
  table: number;
  perms: number;
  /** Records the non-leaf entry read at `level` (4, 3 or 2) that points at table `next`. */
  fill(vaddr: number, pcid: number, level: number, next: number, perms: number): void;
}

/**
 * Where the walker's reads go when a data-cache model is attached (cache.ts's CpuCache implements
 * it): on hardware the page walker reads paging-structure entries through the data caches, after
 * the page-walk caches. `walkRead(paddr)` looks the entry's line up and returns the cycles the read
 * cost; the entry's value still comes from RAM (see CpuCache.walkRead).
 */
export interface WalkPort {
  walkRead(paddr: number): number;
}

export interface PageWalkerOptions {
  /** MAXPHYADDR (§4.1.4): frame bits above it are reserved. Default 46, as Skylake server parts. */
  maxPhysAddrBits?: number;
  /** 1 GiB pages (CPUID.80000001H:EDX.Page1GB). Default true; when false, PS in a PDPTE is reserved. */
  gbPages?: boolean;
  smep?: boolean;
  smap?: boolean;
}

export interface WalkerCounters {
  walks: number;
  /** Paging-structure entries read from RAM by walks. */
  walkReads: number;
  /** Walks that started below the PML4 thanks to a walk-cache hit, by the level they started at. */
  walkCacheHits: [number, number, number];
  faults: number;
  /** Of walkReads, those served through a walk port (a data cache), and the cycles that port charged for them. */
  portReads: number;
  portCycles: number;
}

/**
 * One CPU's page walker. `walk()` returns WALK_OK or a FAULT_* reason and leaves its result in
 * fields (no allocation on the hot path): `frame`, `pageShift`, `perms`, or `faultLevel`.
 */
// Module-local copies of pte.ts's constants for the walk loop: when tsx runs this file (tests,
// benchmarks) it is compiled to CommonJS, where every use of an imported binding is a getter call —
// in this loop that cost more than the walk itself.
const L_PAGE_SHIFT_1G = PAGE_SHIFT_1G;
const L_PAGE_SHIFT_2M = PAGE_SHIFT_2M;
const L_PAGE_SHIFT_4K = PAGE_SHIFT_4K;
const L_PDE_HUGE_RESERVED_LO = PDE_HUGE_RESERVED_LO;
const L_PDPTE_HUGE_RESERVED_LO = PDPTE_HUGE_RESERVED_LO;
const L_PTE_ACCESSED = PTE_ACCESSED;
const L_PTE_DIRTY = PTE_DIRTY;
const L_PTE_GLOBAL = PTE_GLOBAL;
const L_PTE_HI_NX = PTE_HI_NX;
const L_PTE_HUGE = PTE_HUGE;
const L_PTE_LO_FRAME_MASK = PTE_LO_FRAME_MASK;
const L_PTE_PRESENT = PTE_PRESENT;
const L_PTE_USER = PTE_USER;
const L_PTE_WRITABLE = PTE_WRITABLE;
const L_PTE_HI_FRAME_MASK = PTE_HI_FRAME_MASK;
/** 2^−32: ⌊vaddr · INVERSE_4G⌋ is vaddr's bits 47:32 (a multiply by a power of two is exact). */
const INVERSE_4G = 1 / 0x1_0000_0000;

export class PageWalker {
  /** Result of the last successful walk: the page's physical base, its size and combined rights. */
  frame = 0;
  pageShift = L_PAGE_SHIFT_4K;
  perms = 0;
  /** Result of the last failed walk: the level whose entry stopped it. */
  faultLevel = 0;
  /** Entries read by the last walk (its memory accesses). */
  lastReads = 0;
  /** Level the last walk started at (4 without walk-cache help). */
  lastStartLevel = 4;
  readonly counters: WalkerCounters = { walks: 0, walkReads: 0, walkCacheHits: [0, 0, 0], faults: 0, portReads: 0, portCycles: 0 };
  walkCache: WalkCache | null = null;
  /** The data cache the walk's reads go through (null: straight to RAM, costed by the preset). */
  port: WalkPort | null = null;

  private readonly words: Int32Array;
  private readonly ramBytes: number;
  /** RAM ≤ 2 GiB: every physical address inside it is a non-negative int32 (see walk). */
  private readonly smallRam: boolean;
  /** Frame bits of an entry's high half above MAXPHYADDR (reserved: a walk that meets one faults). */
  readonly hiReserved: number;
  private readonly gbPages: boolean;
  readonly smep: boolean;
  readonly smap: boolean;

  constructor(ram: Ram, options: PageWalkerOptions = {}) {
    this.words = new Int32Array(ram.buffer);
    this.ramBytes = ram.sizeBytes;
    this.smallRam = ram.sizeBytes <= 2 ** 31;
    this.hiReserved = hiReservedMask(options.maxPhysAddrBits ?? 46);
    this.gbPages = options.gbPages ?? true;
    this.smep = options.smep ?? false;
    this.smap = options.smap ?? false;
  }

  /**
   * Walks the tables under `cr3` for `vaddr` (in [0, 2^48), unchecked here: the CPU checks).
   * `user` is the privilege of the access. Returns WALK_OK or a FAULT_* reason.
   */
  walk(cr3: number, pcid: number, vaddr: number, access: number, user: boolean): number {
    const counters = this.counters;
    counters.walks++;
    const words = this.words;
    const small = this.smallRam;
    const hiV = Math.floor(vaddr * INVERSE_4G);
    const loV = vaddr >>> 0;
    let table = cr3;
    let level = 4;
    // Rights accumulated over the levels walked: W and U are ANDed, NX is ORed (§4.6).
    let perms = PERM_WRITABLE | PERM_USER;
    const cache = this.walkCache;
    if (cache !== null) {
      level = cache.lookup(vaddr, pcid);
      if (level < 4) {
        counters.walkCacheHits[level - 1]!++;
        table = cache.table;
        perms = cache.perms;
      }
    }
    this.lastStartLevel = level;
    let reads = 0;
    let lo = 0;
    let hi = 0;
    let entryIndex = 0;
    for (;;) {
      let index: number;
      if (level === 4) index = (hiV >>> 7) & 511;
      else if (level === 3) index = ((hiV & 0x7f) << 2) | (loV >>> 30);
      else if (level === 2) index = (loV >>> 21) & 511;
      else index = (loV >>> 12) & 511;
      const entryPaddr = table + index * 8;
      if (entryPaddr + 8 > this.ramBytes) {
        this.lastReads = reads;
        throw new PhysicalAddressError(entryPaddr, 8, this.ramBytes);
      }
      entryIndex = entryPaddr >>> 2;
      lo = words[entryIndex]!;
      hi = words[entryIndex + 1]!;
      reads++;
      if (this.port !== null) {
        counters.portReads++;
        counters.portCycles += this.port.walkRead(entryPaddr);
      }
      if ((lo & L_PTE_PRESENT) === 0) return this.fail(FAULT_NOT_PRESENT, level, reads);
      if ((hi & this.hiReserved) !== 0) return this.fail(FAULT_RESERVED, level, reads);
      if ((lo & L_PTE_WRITABLE) === 0) perms &= ~PERM_WRITABLE;
      if ((lo & L_PTE_USER) === 0) perms &= ~PERM_USER;
      if ((hi & L_PTE_HI_NX) !== 0) perms |= PERM_NX;
      if (level === 1) {
        this.frame = (hi & L_PTE_HI_FRAME_MASK) * 0x1_0000_0000 + ((lo & L_PTE_LO_FRAME_MASK) >>> 0);
        this.pageShift = L_PAGE_SHIFT_4K;
        break;
      }
      if ((lo & L_PTE_HUGE) !== 0) {
        if (level === 4) return this.fail(FAULT_RESERVED, level, reads);
        if (level === 3) {
          if (!this.gbPages || (lo & L_PDPTE_HUGE_RESERVED_LO) !== 0) return this.fail(FAULT_RESERVED, level, reads);
          this.frame = (hi & L_PTE_HI_FRAME_MASK) * 0x1_0000_0000 + ((lo & 0xc0000000) >>> 0);
          this.pageShift = L_PAGE_SHIFT_1G;
        } else {
          if ((lo & L_PDE_HUGE_RESERVED_LO) !== 0) return this.fail(FAULT_RESERVED, level, reads);
          this.frame = (hi & L_PTE_HI_FRAME_MASK) * 0x1_0000_0000 + ((lo & 0xffe00000) >>> 0);
          this.pageShift = L_PAGE_SHIFT_2M;
        }
        break;
      }
      // A non-leaf entry used by the walk: set its accessed flag (§4.8), cache it, descend.
      if ((lo & L_PTE_ACCESSED) === 0) Atomics.or(words, entryIndex, L_PTE_ACCESSED);
      // With RAM below 2 GiB a next table inside RAM has frame bits 51:31 clear and its address is
      // a non-negative int32: int arithmetic keeps the chain of dependent reads short (a float
      // address costs a conversion each way per level). Any other address takes the float form
      // (and fails the bounds check above on the next step, as before).
      table = small && (hi & L_PTE_HI_FRAME_MASK) === 0 && lo >= 0 ? lo & L_PTE_LO_FRAME_MASK : (hi & L_PTE_HI_FRAME_MASK) * 0x1_0000_0000 + ((lo & L_PTE_LO_FRAME_MASK) >>> 0);
      if (cache !== null) cache.fill(vaddr, pcid, level, table, perms);
      level--;
    }
    this.lastReads = reads;
    counters.walkReads += reads;
    // A leaf whose page starts past the end of RAM maps memory the machine does not have (a frame
    // within MAXPHYADDR, so no reserved-bit fault): a kernel bug, raised as such before anything is
    // cached or marked accessed. (A large page that starts inside RAM and runs past its end is
    // legal; the CPU checks each access's address, cpu.ts remember().)
    if (this.frame >= this.ramBytes) throw new PhysicalAddressError(this.frame, 1 << this.pageShift, this.ramBytes);
    if (!rightsAllow(perms, access, user, this.smep, this.smap)) return this.fail(FAULT_PROTECTION, level, 0);
    // Allowed: the leaf gets A, and D on a write (§4.8), atomically as the hardware's locked update.
    const set = access === ACCESS_WRITE ? L_PTE_ACCESSED | L_PTE_DIRTY : L_PTE_ACCESSED;
    if ((lo & set) !== set) lo = Atomics.or(words, entryIndex, set) | set;
    if ((lo & L_PTE_DIRTY) !== 0) perms |= PERM_DIRTY;
    if ((lo & L_PTE_GLOBAL) !== 0) perms |= PERM_GLOBAL;
    this.perms = perms;
    return WALK_OK;
  }

  private fail(reason: number, level: number, reads: number): number {
    // `reads` is 0 when the entries were already counted (a protection fault after the leaf).
    this.counters.walkReads += reads;
    if (reads !== 0) this.lastReads = reads;
    this.counters.faults++;
    this.faultLevel = level;
    return reason;
  }
}

export function faultRecord(
  vaddr: number,
  access: number,
  user: boolean,
  reason: number,
  level: number,
  cr3: number,
  pcid: number,
  cpuIndex: number,
): PageFault {
  return {
    vaddr,
    access: ACCESS_NAMES[access] ?? 'read',
    user,
    reason: FAULT_REASON_NAMES[reason] ?? 'not-present',
    level,
    errorCode: faultErrorCode(reason, access, user),
    cr3,
    pcid,
    cpuIndex,
  };
}
