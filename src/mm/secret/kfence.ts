/**
 * A KFENCE-like sampled guarded pool (Linux mm/kfence/): one kmalloc in every `sampleInterval`
 * (counted on kmalloc's slow path) gets a page of its own in a dedicated pool, at a page edge, with
 * guard pages on both sides; an access beyond it, or any access after it is freed, faults through
 * the emulated CPU into a KfenceError naming the object, the offset and the allocation/free sites.
 *
 *   const kfence = enableKfence(kernel, { sampleInterval: 100, objects: 63 });
 *   const a = kfence.alloc(24, 'my-driver:probe');   // or every 100th kmalloc slow path
 *
 * Pool (one buddy block of 2 + 2·objects pages, owner VM_OWNER_KFENCE, its pfn in Vm root word
 * ROOT.KFENCE_POOL): page 0 metadata, then guard, object, guard, object, … guard; guards and every
 * object page not allocated are absent from the direct map (direct-map.ts), as kfence_protect() does.
 * Metadata page, i32 words:
 *   [0] objects  [1] sampleInterval  [2] cursor (next object tried)  [3] allocations  [4] reports
 *   [5] the report page's pfn
 *   from word 16, 8 words per object: [0] state (0 unused, 1 allocated, 2 freed) [1] size
 *   [2] offset in its page [3] allocation site id [4] free site id
 * Report block (two more buddy pages, owner VM_OWNER_KFENCE), so that every thread attached to the
 * arena reports alike and reads every thread's reports:
 *   page 0            the site table: SITE_SLOTS slots of 64 bytes, byte 0 the length, then the text
 *                     (UTF-8, its last 63 bytes: a stack frame's file and line); slot 0 is '?', and a
 *                     full table names new sites '?'
 *   page 1            the report ring: REPORT_RING records of 32 bytes (i32 bug, i32 object index or
 *                     −1, i32 offset, i32 the reporting CPU slot, f64 vaddr, i32 allocation site,
 *                     i32 free site or −1); report n (counting from 1, word [4]) is record (n − 1) mod
 *                     REPORT_RING, as Linux's reports go to one kernel log whoever hits them
 * Sites are strings (a label the caller gives, else the first caller outside kmem's mm/ from a stack
 * trace). A thread other than the one that enabled KFENCE finds the pool through the Vm root when it
 * first faults in it (or calls attachKfence), and from then on samples, frees and reports as well.
 *
 * Placement alternates: even allocations end at the page end (an overflow hits the next guard at its
 * first byte), odd ones start at the page start (an underflow hits the guard before). The rest of the
 * page is filled with a canary (0xaa ^ offset, as kfence's canary) checked on free: a write there is
 * a 'corruption' report, Linux's third kind.
 *
 * Linux samples with a timer that flips a static key every sample_interval ms, so its fast path costs
 * nothing between samples. kmem has no timer interrupt; a count of slow-path kmallocs is deterministic
 * and costs one branch where allocations already take a slower path (docs/secrets.md).
 *
 * Locking: the Vm root lock around pool changes (one pool for the kernel).
 */
import { assert } from '../../util/assert.ts';
import { ArgumentError, KmemError } from '../../util/errors.ts';
import type { Kernel } from '../kernel.ts';
import { GFP } from '../gfp.ts';
import { VM_OWNER_KFENCE } from '../vm/owners.ts';
import { DIRECT_MAP_BASE, PAGE_SIZE, formatVaddr } from '../vm/types.ts';
import type { Vm } from '../vm/vm.ts';
import { ROOT } from '../vm/vm.ts';
import { directMapPresent, setDirectMapDefault, setDirectMapInvalid } from './direct-map.ts';

export type KfenceBug = 'out-of-bounds' | 'use-after-free' | 'corruption' | 'invalid-free';

export class KfenceError extends KmemError {
  override name = 'KfenceError';
  constructor(
    readonly bug: KfenceBug,
    /** The object's address (physical, as kmalloc's are). */
    readonly object: number,
    readonly sizeBytes: number,
    /** From the object's first byte: negative before it, ≥ sizeBytes after it. */
    readonly offset: number,
    readonly allocSite: string,
    readonly freeSite: string | null,
    readonly vaddr: number,
  ) {
    super(
      `KFENCE: ${bug} at 0x${formatVaddr(vaddr)}: offset ${offset} of the ${sizeBytes}-byte object at 0x${object.toString(16)} allocated at ${allocSite}` +
        (freeSite === null ? '' : `, freed at ${freeSite}`) +
        '; expected accesses inside a live object',
    );
  }
}

export interface KfenceOptions {
  /** One in this many kmalloc slow-path allocations is sampled (kfence.sample_interval); 0 samples none. */
  sampleInterval: number;
  /** Objects in the pool (CONFIG_KFENCE_NUM_OBJECTS; Linux's default is 255). Default 63. */
  objects?: number;
}

const META_HEADER_WORDS = 16;
/** Metadata word of the report page's pfn. */
const META_REPORT_PFN = 5;
const SITE_BYTES = 64;
export const SITE_SLOTS = PAGE_SIZE / SITE_BYTES;
/** Reports the ring keeps (the most recent). */
export const REPORT_RING = 128;
const RING_BYTE = PAGE_SIZE;
const RECORD_BYTES = 32;
const BUGS: readonly KfenceBug[] = ['out-of-bounds', 'use-after-free', 'corruption', 'invalid-free'];
const META_OBJECT_WORDS = 8;
/** The objects whose metadata fits the one metadata page: (1024 − 16) / 8 = 126. */
export const KFENCE_OBJECTS_MAX = Math.floor((PAGE_SIZE / 4 - META_HEADER_WORDS) / META_OBJECT_WORDS);
/** Ranks a freed neighbour after every live one (distances are below two pages). */
const P2 = 2 * PAGE_SIZE;
const UNUSED = 0;
const ALLOCATED = 1;
const FREED = 2;

/** The page-edge sampled pool of one kernel. */
export class Kfence {
  readonly poolPfn: number;
  readonly objects: number;
  private readonly meta: Int32Array;
  /** The report page: the site table and the report ring (bytes, i32 and f64 views). */
  private readonly reportBytes: Uint8Array;
  private readonly reportWords: Int32Array;
  private readonly reportF64: Float64Array;
  private slowPathCount = 0;

  /** `options` enables KFENCE on the kernel; null attaches this thread to the pool another thread made. */
  constructor(
    readonly kernel: Kernel,
    options: KfenceOptions | null,
  ) {
    const vm = kernel.vm;
    if (options === null) {
      const pfn = vm.root(ROOT.KFENCE_POOL);
      if (pfn === 0) throw new ArgumentError('KFENCE is not enabled on this kernel: nothing to attach to');
      this.poolPfn = pfn;
      this.meta = new Int32Array(kernel.ram.buffer, pfn * PAGE_SIZE, PAGE_SIZE / 4);
      this.objects = this.meta[0] as number;
    } else {
      [this.poolPfn, this.objects, this.meta] = Kfence.create(kernel, options);
    }
    const reportPfn = this.meta[META_REPORT_PFN] as number;
    this.reportBytes = new Uint8Array(kernel.ram.buffer, reportPfn * PAGE_SIZE, 2 * PAGE_SIZE);
    this.reportWords = new Int32Array(kernel.ram.buffer, reportPfn * PAGE_SIZE, (2 * PAGE_SIZE) / 4);
    this.reportF64 = new Float64Array(kernel.ram.buffer, reportPfn * PAGE_SIZE, (2 * PAGE_SIZE) / 8);
    kernel.slab.kmalloc.sampler = {
      alloc: (size) => this.sample(size),
      owns: (addr) => this.owns(addr),
      free: (addr) => this.free(addr),
      ksize: (addr) => this.ksize(addr),
    };
    kfences.set(vm, this);
  }

  /** The pool, its metadata and report pages, made and published in the Vm root. */
  private static create(kernel: Kernel, options: KfenceOptions): [number, number, Int32Array] {
    const objects = options.objects ?? 63;
    if (!Number.isInteger(objects) || objects < 1 || objects > KFENCE_OBJECTS_MAX) throw new ArgumentError(`kfence objects ${objects}: expected an integer in [1, ${KFENCE_OBJECTS_MAX}] (the metadata page holds that many)`);
    if (!Number.isInteger(options.sampleInterval) || options.sampleInterval < 0) throw new ArgumentError(`kfence sampleInterval ${options.sampleInterval}: expected a non-negative integer`);
    const vm = kernel.vm;
    if (vm.root(ROOT.KFENCE_POOL) !== 0) throw new ArgumentError('KFENCE is already enabled on this kernel');
    const pages = 2 + 2 * objects;
    const order = Math.ceil(Math.log2(pages));
    const pfn = kernel.pages.allocPages(order, GFP.KERNEL | GFP.ZERO, VM_OWNER_KFENCE);
    assert(pfn !== null, 'no block for the KFENCE pool');
    const reportPfn = kernel.pages.allocPages(1, GFP.KERNEL | GFP.ZERO, VM_OWNER_KFENCE);
    assert(reportPfn !== null, 'no page for the KFENCE report ring');
    const meta = new Int32Array(kernel.ram.buffer, pfn * PAGE_SIZE, PAGE_SIZE / 4);
    meta[0] = objects;
    meta[1] = options.sampleInterval;
    meta[META_REPORT_PFN] = reportPfn;
    const reportBytes = new Uint8Array(kernel.ram.buffer, reportPfn * PAGE_SIZE, 2 * PAGE_SIZE);
    reportBytes[0] = 1;
    reportBytes[1] = '?'.charCodeAt(0);
    for (let p = 1; p < pages; p++) assert(setDirectMapInvalid(vm, pfn + p), 'no page to split the direct map for KFENCE');
    vm.setRoot(ROOT.KFENCE_POOL, pfn);
    return [pfn, objects, meta];
  }

  get sampleInterval(): number {
    return this.meta[1] as number;
  }

  private sample(size: number): number | null {
    const interval = this.sampleInterval;
    if (interval === 0 || ++this.slowPathCount % interval !== 0) return null;
    return this.tryAlloc(size, null);
  }

  /** An object of sizeBytes in the pool (≤ a page), recorded with `site`; null when every object is in use. */
  tryAlloc(sizeBytes: number, site: string | null): number | null {
    if (!Number.isInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > PAGE_SIZE) throw new ArgumentError(`kfence alloc of ${sizeBytes} bytes: expected 1 to ${PAGE_SIZE}`);
    const m = this.meta;
    for (let tried = 0; tried < this.objects; tried++) {
      const i = ((m[2] as number) + tried) % this.objects;
      const w = META_HEADER_WORDS + i * META_OBJECT_WORDS;
      if (m[w] === ALLOCATED) continue;
      m[2] = (i + 1) % this.objects;
      const count = m[3] as number;
      m[3] = count + 1;
      const offset = count % 2 === 0 ? PAGE_SIZE - sizeBytes : 0;
      const pagePfn = this.objectPfn(i);
      setDirectMapDefault(this.kernel.vm, pagePfn);
      const page = pagePfn * PAGE_SIZE;
      const bytes = this.kernel.ram.bytes;
      for (let b = 0; b < PAGE_SIZE; b++) bytes[page + b] = 0xaa ^ (b & 0xff);
      bytes.fill(0, page + offset, page + offset + sizeBytes);
      m[w] = ALLOCATED;
      m[w + 1] = sizeBytes;
      m[w + 2] = offset;
      m[w + 3] = this.site(site);
      m[w + 4] = 0;
      return page + offset;
    }
    return null;
  }

  /** alloc with a site label; KfenceError-free null when the pool is full. */
  alloc(sizeBytes: number, site?: string): number | null {
    return this.tryAlloc(sizeBytes, site ?? null);
  }

  owns(addr: number): boolean {
    const first = (this.poolPfn + 1) * PAGE_SIZE;
    return addr >= first && addr < first + 2 * this.objects * PAGE_SIZE;
  }

  ksize(addr: number): number {
    return this.meta[this.metaOf(addr, 'free') + 1] as number;
  }

  /** Frees an object: canary checked, then its page leaves the direct map (a later access is a use-after-free). */
  free(addr: number, site?: string): void {
    const w = this.metaOf(addr, 'free');
    const m = this.meta;
    const page = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
    const bytes = this.kernel.ram.bytes;
    const offset = m[w + 2] as number;
    const size = m[w + 1] as number;
    for (let b = 0; b < PAGE_SIZE; b++) {
      if (b >= offset && b < offset + size) continue;
      if (bytes[page + b] !== (0xaa ^ (b & 0xff))) {
        m[4] = (m[4] as number) + 1;
        m[w] = FREED;
        m[w + 4] = this.site(site ?? null);
        setDirectMapInvalid(this.kernel.vm, page / PAGE_SIZE);
        throw this.report('corruption', w, page + b, page + b - addr);
      }
    }
    m[w] = FREED;
    m[w + 4] = this.site(site ?? null);
    setDirectMapInvalid(this.kernel.vm, page / PAGE_SIZE);
  }

  /** The report for a kernel fault at vaddr in the pool, or null when vaddr is not the pool's. */
  faultError(vaddr: number): KfenceError | null {
    const paddr = vaddr - DIRECT_MAP_BASE;
    if (!this.owns(paddr) && !(paddr >= (this.poolPfn + 1) * PAGE_SIZE && paddr < (this.poolPfn + 2 + 2 * this.objects) * PAGE_SIZE)) return null;
    const rel = Math.floor(paddr / PAGE_SIZE) - this.poolPfn; // 1, 3, … guards; 2, 4, … objects
    this.meta[4] = (this.meta[4] as number) + 1;
    if (rel % 2 === 0) {
      const w = this.metaW(rel / 2 - 1);
      const addr = this.objectPfn(rel / 2 - 1) * PAGE_SIZE + (this.meta[w + 2] as number);
      return this.report(this.meta[w] === FREED ? 'use-after-free' : 'invalid-free', w, vaddr, paddr - addr);
    }
    // A guard: the object the access ran off is a live neighbour, the nearer if both are live (as
    // kfence_handle_page_fault picks); a freed neighbour only when no live one is there.
    const candidates: { w: number; distance: number; offset: number }[] = [];
    for (const i of [(rel - 1) / 2 - 1, (rel + 1) / 2 - 1]) {
      if (i < 0 || i >= this.objects) continue;
      const w = this.metaW(i);
      if (this.meta[w] === UNUSED) continue;
      const addr = this.objectPfn(i) * PAGE_SIZE + (this.meta[w + 2] as number);
      const size = this.meta[w + 1] as number;
      const offset = paddr - addr;
      candidates.push({ w, offset, distance: offset < 0 ? -offset : offset - size + 1 });
    }
    candidates.sort((a, b) => (this.meta[a.w] === ALLOCATED ? 0 : P2) + a.distance - ((this.meta[b.w] === ALLOCATED ? 0 : P2) + b.distance));
    const best = candidates[0];
    if (best === undefined) return this.report('out-of-bounds', -1, vaddr, 0);
    return this.report(this.meta[best.w] === FREED ? 'use-after-free' : 'out-of-bounds', best.w, vaddr, best.offset);
  }

  /** Walks the pool: guards absent, allocated pages present, freed and unused ones absent, metadata sane. */
  validate(): void {
    const vm = this.kernel.vm;
    assert(vm.root(ROOT.KFENCE_POOL) === this.poolPfn, 'KFENCE pool pfn in the Vm root changed');
    for (let i = 0; i < this.objects; i++) {
      const w = this.metaW(i);
      const state = this.meta[w] as number;
      assert(state === UNUSED || state === ALLOCATED || state === FREED, () => `KFENCE object ${i}: state ${state}`);
      assert(directMapPresent(vm, this.objectPfn(i)) === (state === ALLOCATED), () => `KFENCE object ${i} (state ${state}): direct-map entry ${directMapPresent(vm, this.objectPfn(i)) ? 'present' : 'absent'}`);
      assert(!directMapPresent(vm, this.objectPfn(i) - 1), () => `KFENCE guard before object ${i} is mapped`);
      if (state !== UNUSED) {
        const size = this.meta[w + 1] as number;
        const offset = this.meta[w + 2] as number;
        assert(size >= 1 && size <= PAGE_SIZE && (offset === 0 || offset === PAGE_SIZE - size), () => `KFENCE object ${i}: size ${size} offset ${offset}, expected at a page edge`);
      }
    }
    assert(!directMapPresent(vm, this.objectPfn(this.objects - 1) + 1), 'KFENCE last guard is mapped');
  }

  stats(): { objects: number; allocated: number; freed: number; allocations: number; reports: number; sampleInterval: number } {
    let allocated = 0;
    let freed = 0;
    for (let i = 0; i < this.objects; i++) {
      const s = this.meta[this.metaW(i)];
      if (s === ALLOCATED) allocated++;
      else if (s === FREED) freed++;
    }
    return { objects: this.objects, allocated, freed, allocations: this.meta[3] as number, reports: this.meta[4] as number, sampleInterval: this.sampleInterval };
  }

  private objectPfn(i: number): number {
    return this.poolPfn + 2 + 2 * i;
  }
  private metaW(i: number): number {
    return META_HEADER_WORDS + i * META_OBJECT_WORDS;
  }

  private metaOf(addr: number, what: 'free'): number {
    const rel = Math.floor(addr / PAGE_SIZE) - this.poolPfn;
    const i = rel / 2 - 1;
    const w = Number.isInteger(i) && i >= 0 && i < this.objects ? this.metaW(i) : -1;
    if (w < 0 || this.meta[w] !== ALLOCATED || (this.objectPfn(i) * PAGE_SIZE + (this.meta[w + 2] as number)) !== addr) {
      this.meta[4] = (this.meta[4] as number) + 1;
      throw this.report('invalid-free', w, addr, w < 0 ? 0 : addr - (this.objectPfn(i) * PAGE_SIZE + (this.meta[w + 2] as number)));
    }
    void what;
    return w;
  }

  /** Builds the error for a report and records it in the arena's ring (the report count, word [4], is already raised). */
  private report(bug: KfenceBug, w: number, vaddr: number, offset: number): KfenceError {
    const i = w < 0 ? -1 : (w - META_HEADER_WORDS) / META_OBJECT_WORDS;
    const allocId = w < 0 ? 0 : (this.meta[w + 3] as number);
    const freeId = w < 0 || this.meta[w] !== FREED ? -1 : (this.meta[w + 4] as number);
    const seq = this.meta[4] as number;
    const r = ((seq - 1) % REPORT_RING) * RECORD_BYTES + RING_BYTE;
    this.reportWords[r / 4] = BUGS.indexOf(bug);
    this.reportWords[r / 4 + 1] = i;
    this.reportWords[r / 4 + 2] = offset;
    this.reportWords[r / 4 + 3] = this.kernel.thisCpu();
    this.reportF64[r / 8 + 2] = vaddr;
    this.reportWords[r / 4 + 6] = allocId;
    this.reportWords[r / 4 + 7] = freeId;
    return this.errorOf(bug, i, offset, vaddr, allocId, freeId);
  }

  private errorOf(bug: KfenceBug, i: number, offset: number, vaddr: number, allocId: number, freeId: number): KfenceError {
    if (i < 0) return new KfenceError(bug, 0, 0, offset, '?', null, vaddr);
    const w = this.metaW(i);
    const addr = this.objectPfn(i) * PAGE_SIZE + (this.meta[w + 2] as number);
    return new KfenceError(bug, addr, this.meta[w + 1] as number, offset, this.siteText(allocId), freeId < 0 ? null : this.siteText(freeId), vaddr);
  }

  /**
   * The most recent reports, oldest first (up to REPORT_RING), whichever thread hit them: the arena's
   * ring. Object fields are the object's as it is now (Linux prints them at the time of the report).
   */
  reports(): { error: KfenceError; cpu: number }[] {
    const n = this.meta[4] as number;
    const out: { error: KfenceError; cpu: number }[] = [];
    for (let seq = Math.max(1, n - REPORT_RING + 1); seq <= n; seq++) {
      const r = (((seq - 1) % REPORT_RING) * RECORD_BYTES + RING_BYTE) / 4;
      const bug = BUGS[this.reportWords[r] as number] ?? 'out-of-bounds';
      const error = this.errorOf(bug, this.reportWords[r + 1] as number, this.reportWords[r + 2] as number, this.reportF64[r / 2 + 2] as number, this.reportWords[r + 6] as number, this.reportWords[r + 7] as number);
      out.push({ error, cpu: this.reportWords[r + 3] as number });
    }
    return out;
  }

  /** The site table's id for a site (its text's last 63 bytes), added when new; 0 ('?') when the table is full. */
  private site(label: string | null): number {
    const full = siteEncoder.encode(label ?? callerSite());
    const text = full.length < SITE_BYTES ? full : full.subarray(full.length - (SITE_BYTES - 1));
    const b = this.reportBytes;
    for (let id = 0; id < SITE_SLOTS; id++) {
      const at = id * SITE_BYTES;
      const len = b[at] as number;
      if (len === 0) {
        b.set(text, at + 1);
        b[at] = text.length;
        return id;
      }
      if (len === text.length && text.every((c, k) => b[at + 1 + k] === c)) return id;
    }
    return 0;
  }

  private siteText(id: number): string {
    if (id < 0 || id >= SITE_SLOTS) return '?';
    const at = id * SITE_BYTES;
    return siteDecoder.decode(this.reportBytes.subarray(at + 1, at + 1 + (this.reportBytes[at] as number))) || '?';
  }
}

const siteEncoder = new TextEncoder();
const siteDecoder = new TextDecoder();

/** The first stack frame outside kmem's kernel code: a stack-ish allocation or free site. */
function callerSite(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  const frame = lines.find((l) => !/[/\\]src[/\\](mm|machine|util)[/\\]/.test(l)) ?? lines[0] ?? '?';
  return frame.trim().replace(/^at /, '');
}

const kfences = new WeakMap<Vm, Kfence>();

/** KFENCE on `kernel` (the boot parameter kfence.sample_interval); one pool per kernel. */
export function enableKfence(kernel: Kernel, options: KfenceOptions): Kfence {
  return new Kfence(kernel, options);
}

/** This worker's Kfence of vm, if enabled here. */
export function kfenceOf(vm: Vm): Kfence | undefined {
  return kfences.get(vm);
}

/**
 * This thread joins the KFENCE pool another thread enabled on the kernel (kmalloc samples into it,
 * kfree and faults know it). A fault in the pool attaches by itself; a worker that may kfree a sampled
 * object first calls this.
 */
export function attachKfence(kernel: Kernel): Kfence {
  return kfences.get(kernel.vm) ?? new Kfence(kernel, null);
}

/** The KfenceError for a kernel fault at vaddr in this kernel's pool, or null (cpu-binding, Vm.kernelRead). */
export function kfenceFaultError(vm: Vm, vaddr: number): KfenceError | null {
  let k = kfences.get(vm);
  if (k === undefined) {
    if (vm.root(ROOT.KFENCE_POOL) === 0) return null;
    k = new Kfence(vm.kernel, null);
  }
  return k.faultError(vaddr);
}

/** The pool's pfn range [start, end), for validateSecrets' accounting of direct-map holes; null when off. */
export function kfencePoolRange(vm: Vm): [number, number] | null {
  const pfn = vm.root(ROOT.KFENCE_POOL);
  if (pfn === 0) return null;
  const objects = vm.w[(pfn * PAGE_SIZE) / 4] as number;
  return [pfn, pfn + 2 + 2 * objects];
}
