/**
 * A generator of synthetic Linux `kmem` traces, for `kmem replay` when no recorded trace is at hand
 * (no public trace of useful size exists). It writes what a traced Linux kernel would print — in
 * the 6.x format or the pre-6.1 one (ftrace-kmem.ts) — for a seeded mix of call sites:
 *
 *   - each call site allocates through kmalloc or one named cache, with its own size distribution
 *     and mean lifetime (objects are freed when their lifetime, drawn from an exponential, ends);
 *   - bytes_alloc is what the traced kernel reports: for kmalloc the size class of Linux's
 *     kmalloc_info[] table (8 … 8192, with 96 and 192; above 8 KiB the page allocator's
 *     PAGE_SIZE << order), for a cache the cache's slot size;
 *   - pointers are reused last-freed-first per size class, as SLUB's free lists reuse them, and are
 *     printed hashed (16 hex digits), as %p prints them;
 *   - mm_page_alloc / mm_page_free events of orders 0–3 interleave;
 *   - a trace starts mid-run: a share of the first frees are of objects allocated before tracing.
 *
 * The call sites are named after real kernel functions so the output reads like a real trace, but
 * their sizes and lifetimes are illustrative, not measured.
 */
import { MinHeap } from '../../util/min-heap.ts';
import { Prng, mix32 } from '../../util/prng.ts';
import { ArgumentError } from '../../util/errors.ts';

export type KmemTraceFormat = '6.x' | 'pre-6.1';
export const KMEM_TRACE_FORMATS: readonly KmemTraceFormat[] = ['6.x', 'pre-6.1'];

export interface GenerateOptions {
  seed: number;
  /** Events to write (allocations, frees and page events together). */
  events: number;
  format: KmemTraceFormat;
  /** Share of the frees in the first tenth of the trace that free objects older than the trace. */
  preexistingFreeShare?: number;
}

interface Site {
  symbol: string;
  /** The function that frees the site's objects. */
  freeSymbol: string;
  task: string;
  /** null: kmalloc; else the cache's name and its slot size (s->size). */
  cache: { name: string; slotBytes: number } | null;
  /** Relative frequency. */
  weight: number;
  /** Mean lifetime, in events. */
  lifetimeEvents: number;
  size(prng: Prng): number;
}

const fixed = (bytes: number) => () => bytes;
const uniform = (lo: number, hi: number) => (prng: Prng) => prng.range(lo, hi);
const choice = (sizes: readonly number[]) => (prng: Prng) => prng.pick(sizes);

const SITES: readonly Site[] = [
  { symbol: '__alloc_skb+0x8d/0x330', freeSymbol: 'skb_free_head+0x8e/0xb0', task: 'ksoftirqd/0', cache: null, weight: 30, lifetimeEvents: 40, size: choice([320, 704, 1536, 1600, 2368]) },
  { symbol: 'kmalloc_reserve+0x68/0xe0', freeSymbol: 'skb_free_head+0x8e/0xb0', task: 'sshd', cache: null, weight: 10, lifetimeEvents: 60, size: uniform(64, 1024) },
  { symbol: 'skb_clone+0x4e/0xb0', freeSymbol: 'kfree_skbmem+0x6b/0x90', task: 'ksoftirqd/0', cache: { name: 'skbuff_head_cache', slotBytes: 256 }, weight: 25, lifetimeEvents: 40, size: fixed(232) },
  { symbol: 'alloc_inode+0x57/0xb0', freeSymbol: 'ext4_free_in_core_inode+0x3a/0x50', task: 'find', cache: { name: 'ext4_inode_cache', slotBytes: 1192 }, weight: 6, lifetimeEvents: 4000, size: fixed(1184) },
  { symbol: 'd_alloc+0x2e/0x90', freeSymbol: '__d_free+0x1a/0x20', task: 'find', cache: { name: 'dentry', slotBytes: 192 }, weight: 8, lifetimeEvents: 3000, size: fixed(192) },
  { symbol: 'getname_flags+0x4a/0x1e0', freeSymbol: 'putname+0x55/0x70', task: 'bash', cache: { name: 'names_cache', slotBytes: 4096 }, weight: 6, lifetimeEvents: 2, size: fixed(4096) },
  { symbol: 'load_elf_phdrs+0x57/0xb0', freeSymbol: 'load_elf_binary+0x6c3/0x1640', task: 'bash', cache: null, weight: 3, lifetimeEvents: 5, size: choice([56, 392, 504, 728]) },
  { symbol: 'kvmalloc_node_noprof+0x4b/0x100', freeSymbol: 'kvfree+0x2b/0x40', task: 'systemd-journal', cache: null, weight: 1, lifetimeEvents: 500, size: choice([12288, 16384, 24576, 65536]) },
  { symbol: 'seq_buf_alloc+0x1c/0x40', freeSymbol: 'seq_release+0x24/0x30', task: 'cat', cache: null, weight: 2, lifetimeEvents: 8, size: fixed(4096) },
  { symbol: 'kstrdup+0x2f/0x60', freeSymbol: 'kfree_const+0x1c/0x30', task: 'systemd', cache: null, weight: 6, lifetimeEvents: 800, size: uniform(4, 40) },
  { symbol: 'alloc_pipe_info+0x6a/0x1d0', freeSymbol: 'free_pipe_info+0x9c/0xd0', task: 'bash', cache: null, weight: 2, lifetimeEvents: 200, size: fixed(640) },
  { symbol: 'security_file_alloc+0x24/0xd0', freeSymbol: 'security_file_free+0x4b/0x60', task: 'bash', cache: null, weight: 4, lifetimeEvents: 150, size: fixed(24) },
];

/** Page events' share of all events, and their orders' weights (orders 0, 1, 2, 3). */
const PAGE_EVENT_SHARE = 0.15;
const PAGE_ORDER_WEIGHTS = [80, 10, 6, 4];
const PAGE_LIFETIME_EVENTS = 300;

/** Linux's kmalloc size classes (mm/slab_common.c kmalloc_info[], 4 KiB pages), as the traced kernel reports them. */
const LINUX_KMALLOC_CLASSES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

function linuxBytesAlloc(bytesReq: number): number {
  for (const size of LINUX_KMALLOC_CLASSES) if (bytesReq <= size) return size;
  let pages = 1;
  while (pages * 4096 < bytesReq) pages *= 2;
  return pages * 4096;
}

/** A %p-style hashed pointer: 16 hex digits, high word zero, as Linux prints hashed pointers. */
function hashedPointer(id: number): string {
  return `00000000${mix32(id + 0x9e3779b9).toString(16).padStart(8, '0')}`;
}

/** Writes the trace as lines (with a header of comments), one call of `emit` per line. */
export function generateKmemTrace(options: GenerateOptions, emit: (line: string) => void): void {
  const { seed, events, format } = options;
  if (!Number.isInteger(events) || events < 1) throw new ArgumentError(`events ${events}: expected a whole number ≥ 1`);
  if (!KMEM_TRACE_FORMATS.includes(format)) throw new ArgumentError(`trace format '${format}': expected one of ${KMEM_TRACE_FORMATS.join(', ')}`);
  const preexisting = options.preexistingFreeShare ?? 0.05;
  const prng = new Prng(seed);
  const weights = SITES.map((s) => s.weight);
  const modern = format === '6.x';
  const cpus = 4;

  // Live objects by handle: site, pointer id, and its size class for pointer reuse.
  const siteOf: number[] = [];
  const ptrOf: number[] = [];
  const classOf: number[] = [];
  const expiries = new MinHeap();
  const freePtrs = new Map<number, number[]>();
  const pagePfn: number[] = [];
  const pageOrder: number[] = [];
  const pageExpiries = new MinHeap();
  let nextPtr = 1;
  let nextPfn = 0x10000;
  let time = 1000 + prng.nextFloat();

  emit('# tracer: nop');
  emit(`# kmem events written by kmem's trace generator (seed ${seed}, ${format} format)`);
  emit('#');
  emit('#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION');
  const line = (task: string, event: string, fields: string): void => {
    time += prng.exponential(20e-6);
    const cpu = prng.int(cpus);
    const flags = modern ? ' .....' : '';
    emit(`${task.padStart(16)}-${1000 + (mix32(task.length * 7919) % 3000)} [${String(cpu).padStart(3, '0')}]${flags} ${time.toFixed(6)}: ${event}: ${fields}`);
  };
  const callSite = (symbol: string): string => (modern ? symbol : `ffffffff81${(mix32(symbol.length * 131 + symbol.charCodeAt(0)) & 0xffffff).toString(16).padStart(6, '0')}`);
  const tail = modern ? ' node=-1 accounted=false' : '';

  for (let step = 0; step < events; step++) {
    const due = expiries.peekKey() <= step;
    const pageDue = pageExpiries.peekKey() <= step;
    if (pageDue) {
      const h = pageExpiries.pop();
      line('kswapd0', 'mm_page_free', `page=${hashedPointer(0x40000000 + h)} pfn=${pfnText(pagePfn[h] as number, modern)} order=${pageOrder[h]}`);
    } else if (due) {
      const h = expiries.pop();
      const site = SITES[siteOf[h] as number] as Site;
      const ptr = ptrOf[h] as number;
      const list = freePtrs.get(classOf[h] as number) ?? [];
      list.push(ptr);
      freePtrs.set(classOf[h] as number, list);
      if (site.cache === null) line(site.task, 'kfree', `call_site=${callSite(site.freeSymbol)} ptr=${hashedPointer(ptr)}`);
      else line(site.task, 'kmem_cache_free', `call_site=${callSite(site.freeSymbol)} ptr=${hashedPointer(ptr)}${modern ? ` name=${site.cache.name}` : ''}`);
    } else if (step < events / 10 && prng.chance(preexisting)) {
      // An object allocated before tracing began.
      line('kworker/0:1', 'kfree', `call_site=${callSite('kfree_rcu_work+0x1e5/0x390')} ptr=${hashedPointer(0x20000000 + step)}`);
    } else if (prng.chance(PAGE_EVENT_SHARE)) {
      const order = prng.weighted(PAGE_ORDER_WEIGHTS);
      const h = pagePfn.length;
      pagePfn.push(nextPfn);
      pageOrder.push(order);
      nextPfn += 1 << order;
      pageExpiries.push(step + 1 + prng.exponential(PAGE_LIFETIME_EVENTS), h);
      const movable = order === 0 && prng.chance(0.6);
      line('bash', 'mm_page_alloc', `page=${hashedPointer(0x40000000 + h)} pfn=${pfnText(pagePfn[h] as number, modern)} order=${order} migratetype=${movable ? 1 : 0} gfp_flags=${movable ? 'GFP_HIGHUSER_MOVABLE' : 'GFP_KERNEL'}`);
    } else {
      const s = prng.weighted(weights);
      const site = SITES[s] as Site;
      const bytesReq = site.size(prng);
      const bytesAlloc = site.cache === null ? linuxBytesAlloc(bytesReq) : site.cache.slotBytes;
      const sizeClass = site.cache === null ? bytesAlloc : -1 - s;
      const reuse = freePtrs.get(sizeClass);
      const ptr = reuse !== undefined && reuse.length > 0 ? (reuse.pop() as number) : nextPtr++;
      const h = siteOf.length;
      siteOf.push(s);
      ptrOf.push(ptr);
      classOf.push(sizeClass);
      expiries.push(step + 1 + prng.exponential(site.lifetimeEvents), h);
      const gfp = site.cache?.name === 'ext4_inode_cache' ? 'GFP_KERNEL|__GFP_RECLAIMABLE' : site.task.startsWith('ksoftirqd') ? 'GFP_ATOMIC|__GFP_NOWARN' : 'GFP_KERNEL';
      const name = site.cache !== null && modern ? ` name=${site.cache.name}` : '';
      const event = site.cache === null ? 'kmalloc' : 'kmem_cache_alloc';
      line(site.task, event, `call_site=${callSite(site.symbol)} ptr=${hashedPointer(ptr)}${name} bytes_req=${bytesReq} bytes_alloc=${bytesAlloc} gfp_flags=${gfp}${tail}`);
    }
  }
}

function pfnText(pfn: number, modern: boolean): string {
  return modern ? `0x${pfn.toString(16)}` : String(pfn);
}
