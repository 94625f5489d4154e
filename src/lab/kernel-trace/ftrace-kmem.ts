/**
 * Linux ftrace `kmem` events, as `trace-cmd report` or /sys/kernel/tracing/trace print them, parsed
 * into records kmem can replay. The event formats are those of include/trace/events/kmem.h:
 *
 *   Linux 6.1+      kmalloc / kmem_cache_alloc:
 *                     call_site=%pS ptr=%p [name=%s] bytes_req=%zu bytes_alloc=%zu gfp_flags=%s
 *                     node=%d accounted=%s
 *                   (kmem_cache_alloc gained name= after ptr= in later 6.x kernels)
 *                   kfree: call_site=%pS ptr=%p     kmem_cache_free: call_site=%pS ptr=%p name=%s
 *   before 6.1      call_site=%lx (a raw address, no symbol); no node= or accounted= except on the
 *                   *_node variants (kmalloc_node, kmem_cache_alloc_node: node=%d); kmem_cache_free
 *                   without name=
 *   pages           mm_page_alloc: page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s
 *                   mm_page_free: page=%p pfn=0x%lx order=%d   mm_page_free_batched: … order=0
 *                   (kernels before 5.x print pfn=%lu, in decimal; both are read)
 *
 * Each line starts with ftrace's prefix, `TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS`, where the
 * FLAGS column (irqs-off, need-resched, hardirq/softirq, preempt depth) may be absent, and a `%pS`
 * call site of a module carries ` [module]`. Pointers are whatever the kernel printed: hashed
 * (`%p` since 4.15) or raw (`no_hash_pointers`); they are only compared, never interpreted.
 *
 * Lines that are not events (`#` comments, `CPU:N [LOST n EVENTS]`, blank lines, events of other
 * systems) are skipped; an event of this system whose fields do not parse is an error naming what
 * was expected.
 */

export type KmemEventKind = 'kmalloc' | 'cacheAlloc' | 'kfree' | 'cacheFree' | 'pageAlloc' | 'pageFree';

interface EventBase {
  /** 1-based line of the trace it came from. */
  line: number;
  cpu: number;
  timestampS: number;
}

export interface ObjectAllocEvent extends EventBase {
  kind: 'kmalloc' | 'cacheAlloc';
  callSite: string;
  ptr: string;
  /** The cache's name where the event carries it (kmem_cache_alloc in later 6.x kernels). */
  cacheName: string | null;
  bytesReq: number;
  bytesAlloc: number;
  gfpFlags: string;
}

export interface ObjectFreeEvent extends EventBase {
  kind: 'kfree' | 'cacheFree';
  callSite: string;
  ptr: string;
  cacheName: string | null;
}

export interface PageAllocEvent extends EventBase {
  kind: 'pageAlloc';
  pfn: number;
  order: number;
  migratetype: number;
  gfpFlags: string;
}

export interface PageFreeEvent extends EventBase {
  kind: 'pageFree';
  pfn: number;
  order: number;
}

export type KmemEvent = ObjectAllocEvent | ObjectFreeEvent | PageAllocEvent | PageFreeEvent;

/** What the parser makes of a line: an event, nothing to replay (null), or what was expected. */
export type KmemLineParse = KmemEvent | null | { error: string };

/** TASK-PID [CPU] [FLAGS] TIMESTAMP: EVENT: FIELDS (trace-cmd may add a `(TGID)` column). */
const PREFIX = /^\s*.+?-\d+\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:[.\w]{4,5}\s+)?(\d+\.\d+):\s+(\w+):\s?(.*)$/;
/** key=value, where a %pS value may be followed by ` [module]`. */
const FIELD = /(\w+)=(\S+(?: \[[\w-]+\])?)/g;

const ALLOC_EVENTS: Record<string, 'kmalloc' | 'cacheAlloc'> = {
  kmalloc: 'kmalloc',
  kmalloc_node: 'kmalloc',
  kmem_cache_alloc: 'cacheAlloc',
  kmem_cache_alloc_node: 'cacheAlloc',
};
const FREE_EVENTS: Record<string, 'kfree' | 'cacheFree'> = { kfree: 'kfree', kmem_cache_free: 'cacheFree' };

function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of text.matchAll(FIELD)) out.set(match[1] as string, match[2] as string);
  return out;
}

/** A decimal size or order; null if the text is not one. */
function decimal(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}

/** pfn=0x%lx (6.x) or pfn=%lu (older). */
function pfnValue(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (/^0x[0-9a-f]{1,13}$/i.test(text)) return Number.parseInt(text.slice(2), 16);
  return decimal(text);
}

const POINTER = /^(?:0x)?[0-9a-f]{1,16}$|^\(null\)$/i;

/** Whether `ptr` is the NULL pointer (kfree(NULL) is traced, then returns). */
export function isNullPointer(ptr: string): boolean {
  return ptr === '(null)' || /^(?:0x)?0+$/i.test(ptr);
}

export function parseKmemLine(text: string, line: number): KmemLineParse {
  if (text.length === 0 || text.startsWith('#')) return null;
  const prefix = PREFIX.exec(text);
  if (prefix === null) return null;
  const cpu = Number(prefix[1]);
  const timestampS = Number(prefix[2]);
  const event = prefix[3] as string;
  const f = fields(prefix[4] as string);
  const base = { line, cpu, timestampS };
  const alloc = ALLOC_EVENTS[event];
  if (alloc !== undefined) {
    const callSite = f.get('call_site');
    const ptr = f.get('ptr');
    const bytesReq = decimal(f.get('bytes_req'));
    const bytesAlloc = decimal(f.get('bytes_alloc'));
    if (callSite === undefined || ptr === undefined || !POINTER.test(ptr) || bytesReq === null || bytesAlloc === null) {
      return { error: `${event}: expected call_site=SITE ptr=POINTER bytes_req=N bytes_alloc=N` };
    }
    if (bytesAlloc < bytesReq) return { error: `${event}: bytes_alloc ${bytesAlloc} below bytes_req ${bytesReq}` };
    return { ...base, kind: alloc, callSite, ptr, cacheName: f.get('name') ?? null, bytesReq, bytesAlloc, gfpFlags: f.get('gfp_flags') ?? '' };
  }
  const free = FREE_EVENTS[event];
  if (free !== undefined) {
    const callSite = f.get('call_site');
    const ptr = f.get('ptr');
    if (callSite === undefined || ptr === undefined || !POINTER.test(ptr)) return { error: `${event}: expected call_site=SITE ptr=POINTER` };
    return { ...base, kind: free, callSite, ptr, cacheName: f.get('name') ?? null };
  }
  if (event === 'mm_page_alloc') {
    // A failed allocation prints a NULL page (and pfn 0): nothing was handed out.
    const page = f.get('page');
    if (page !== undefined && isNullPointer(page)) return null;
    const pfn = pfnValue(f.get('pfn'));
    const order = decimal(f.get('order'));
    const migratetype = decimal(f.get('migratetype'));
    if (pfn === null || order === null || migratetype === null) {
      return { error: 'mm_page_alloc: expected pfn=0xN (or decimal) order=N migratetype=N' };
    }
    return { ...base, kind: 'pageAlloc', pfn, order, migratetype, gfpFlags: f.get('gfp_flags') ?? '' };
  }
  if (event === 'mm_page_free' || event === 'mm_page_free_batched') {
    const pfn = pfnValue(f.get('pfn'));
    const order = event === 'mm_page_free_batched' ? 0 : decimal(f.get('order'));
    if (pfn === null || order === null) return { error: `${event}: expected pfn=0xN (or decimal) order=N` };
    return { ...base, kind: 'pageFree', pfn, order };
  }
  return null;
}
