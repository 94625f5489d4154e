/**
 * Pinning pages for DMA (Linux mm/gup.c, FOLL_PIN): a page a device will write into must not be
 * migrated, swapped or freed under it, and fork must know it is pinned. kmem pins physical pages for
 * now; `pinUserPages` on a user address range will walk the page tables to these same calls once user
 * address spaces exist.
 *
 * Counting, as Linux does it (include/linux/mm.h, GUP_PIN_COUNTING_BIAS):
 *   a small page (order 0, or any page of a non-compound block's head) has no pin counter of its own:
 *     each pin adds GUP_PIN_COUNTING_BIAS = 1024 to its refcount;
 *     pageMaybeDmaPinned(pfn) = refcount ≥ 1024, so 1024 plain references look like a pin
 *     (the documented false positive: "maybe");
 *   a compound page (a large folio): each pin adds 1 to the head's refcount and 1 to its pincount,
 *     and pageMaybeDmaPinned = pincount > 0, exactly.
 * State: mem_map.refcount and mem_map.pincount of the head page, and its PageFlag.SlowFree, set
 * while a reference or a pin makes it not plain (mem-map.ts) (arena). Nothing host-side.
 */
import type { Kernel } from '../kernel.ts';
import { PageError } from '../errors.ts';
import { PageFlag } from '../types.ts';

/** include/linux/mm.h: GUP_PIN_COUNTING_BIAS (1U << 10). */
export const GUP_PIN_COUNTING_BIAS = 1024;
const REFCOUNT_MAX = 2 ** 31 - 1;

/** A pin or reference on a page that cannot take one (free, reserved, a non-head page), or an unpin of an unpinned page. */
export class PinError extends PageError {
  override name = 'PinError';
}

/** The pfn whose refcount counts for `pfn` (the compound head for a tail page); throws unless it is allocated. */
function headOf(kernel: Kernel, pfn: number, op: string): number {
  const memMap = kernel.memMap;
  if (!Number.isInteger(pfn) || pfn < 0 || pfn >= memMap.nrPages) throw new PinError(pfn, `${op}: pfn ${pfn} is out of range: expected [0, ${memMap.nrPages})`);
  const flags = memMap.flags[pfn] as number;
  const head = (flags & PageFlag.Tail) !== 0 ? (memMap.head[pfn] as number) : pfn;
  if (((memMap.flags[head] as number) & PageFlag.Allocated) === 0) {
    throw new PinError(pfn, `${op}: pfn ${pfn} is not an allocated page (free, reserved, or inside a non-compound block): expected the first page of a block or a page of a compound one`);
  }
  return head;
}

function isCompound(kernel: Kernel, head: number): boolean {
  return ((kernel.memMap.flags[head] as number) & PageFlag.Head) !== 0;
}

/** get_page: one plain reference. */
export function getPage(kernel: Kernel, pfn: number): void {
  const head = headOf(kernel, pfn, 'getPage');
  const refcount = kernel.memMap.refcount;
  if ((refcount[head] as number) >= REFCOUNT_MAX) throw new PinError(pfn, `getPage: refcount of pfn ${head} would overflow`);
  // No longer plain: the order-0 fast free must refuse it (PageFlag.SlowFree), marked first.
  kernel.memMap.markSlowFree(head);
  refcount[head] = (refcount[head] as number) + 1;
}

/** put_page for a reference taken with getPage (the allocation's own reference is the allocator's). */
export function putPage(kernel: Kernel, pfn: number): void {
  const head = headOf(kernel, pfn, 'putPage');
  const refcount = kernel.memMap.refcount;
  const pinned = isCompound(kernel, head) ? (kernel.memMap.pincount[head] as number) : 0;
  if ((refcount[head] as number) - 1 < 1 + pinned) throw new PinError(pfn, `putPage: pfn ${head} holds no reference taken with getPage (refcount ${refcount[head]})`);
  refcount[head] = (refcount[head] as number) - 1;
  kernel.memMap.syncSlowFree(head);
}

/** pin_user_pages on physical pages (FOLL_PIN): all pinned, or none if one cannot be. */
export function pinPages(kernel: Kernel, pfns: readonly number[]): void {
  const heads = pfns.map((pfn) => headOf(kernel, pfn, 'pinPages'));
  const refcount = kernel.memMap.refcount;
  const adds = new Map<number, number>();
  for (const head of heads) adds.set(head, (adds.get(head) ?? 0) + (isCompound(kernel, head) ? 1 : GUP_PIN_COUNTING_BIAS));
  for (const [head, add] of adds) {
    if ((refcount[head] as number) + add > REFCOUNT_MAX) throw new PinError(head, `pinPages: refcount of pfn ${head} would overflow`);
  }
  for (const head of heads) {
    kernel.memMap.markSlowFree(head);
    if (isCompound(kernel, head)) {
      refcount[head] = (refcount[head] as number) + 1;
      kernel.memMap.pincount[head] = (kernel.memMap.pincount[head] as number) + 1;
    } else {
      refcount[head] = (refcount[head] as number) + GUP_PIN_COUNTING_BIAS;
    }
  }
}

/** unpin_user_pages: all unpinned, or none if one was not pinned. */
export function unpinPages(kernel: Kernel, pfns: readonly number[]): void {
  const heads = pfns.map((pfn) => headOf(kernel, pfn, 'unpinPages'));
  const refcount = kernel.memMap.refcount;
  const subs = new Map<number, number>();
  for (const head of heads) subs.set(head, (subs.get(head) ?? 0) + 1);
  for (const [head, n] of subs) {
    const ok = isCompound(kernel, head) ? (kernel.memMap.pincount[head] as number) >= n : (refcount[head] as number) - n * GUP_PIN_COUNTING_BIAS >= 1;
    if (!ok) throw new PinError(head, `unpinPages: pfn ${head} is not pinned ${n} time(s) (refcount ${refcount[head]}): expected a page pinned with pinPages`);
  }
  for (const head of heads) {
    if (isCompound(kernel, head)) {
      refcount[head] = (refcount[head] as number) - 1;
      kernel.memMap.pincount[head] = (kernel.memMap.pincount[head] as number) - 1;
    } else {
      refcount[head] = (refcount[head] as number) - GUP_PIN_COUNTING_BIAS;
    }
    kernel.memMap.syncSlowFree(head);
  }
}

/**
 * folio_maybe_dma_pinned: exact for a compound page; for a small page, true once the refcount reaches
 * the bias, which 1024 plain references also do (a false positive the caller must tolerate).
 */
export function pageMaybeDmaPinned(kernel: Kernel, pfn: number): boolean {
  const head = headOf(kernel, pfn, 'pageMaybeDmaPinned');
  if (isCompound(kernel, head)) return (kernel.memMap.pincount[head] as number) > 0;
  return (kernel.memMap.refcount[head] as number) >= GUP_PIN_COUNTING_BIAS;
}
