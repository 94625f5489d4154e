/**
 * The memory manager's typed errors. Each names the frame or address involved and what was
 * expected; the operation that throws has changed nothing, so `validate()` still passes.
 */
import { ArgumentError, KmemError } from '../util/errors.ts';
import { MAX_PAGE_ORDER, PAGE_SHIFT } from './types.ts';

function hexPaddr(pfn: number): string {
  return `0x${(pfn * 2 ** PAGE_SHIFT).toString(16)}`;
}

/** A misuse of the page allocator, about one frame. */
export class PageError extends KmemError {
  override name = 'PageError';
  constructor(
    readonly pfn: number,
    message: string,
  ) {
    super(message);
  }
}

export class PfnRangeError extends PageError {
  override name = 'PfnRangeError';
  constructor(pfn: number, nrPages: number) {
    super(pfn, `pfn ${pfn} is out of range: expected an integer in [0, ${nrPages})`);
  }
}

export class OrderError extends ArgumentError {
  override name = 'OrderError';
  constructor(readonly order: number) {
    super(`order ${order}: expected an integer in [0, ${MAX_PAGE_ORDER}]`);
  }
}

export class ReservedPageError extends PageError {
  override name = 'ReservedPageError';
  constructor(pfn: number, region: string) {
    super(pfn, `pfn ${pfn} (paddr ${hexPaddr(pfn)}) is reserved (${region}): expected a page the allocator handed out`);
  }
}

/**
 * What a call asked of a block: freePages frees it, splitPage splits it (split_page); the
 * errors about a block that is not the caller's to change name the call.
 */
export type PageOp = 'free' | 'split';

/**
 * Where a free page is: in a free block on the buddy lists, or on CPU `pcpCpu`'s per-CPU list (−1
 * where its flags name no CPU slot; the Pcp bit and the CPU's tag are written in one store, so a
 * valid kernel never shows one without the other).
 */
export type FreePlace = { readonly block: { readonly pfn: number; readonly order: number } } | { readonly pcpCpu: number };

function freePlace(place: FreePlace): string {
  if ('block' in place) return `in the free block at pfn ${place.block.pfn} of order ${place.block.order}`;
  return place.pcpCpu < 0 ? "on a CPU's per-CPU page list" : `on CPU ${place.pcpCpu}'s per-CPU page list`;
}

/**
 * A free (or a split) of a page that is free already: in a free block on the buddy lists, or on a
 * CPU's per-CPU list (the CPU its flags name: pcp.ts pcpPageFlags).
 */
export class DoubleFreeError extends PageError {
  override name = 'DoubleFreeError';
  /** The free block holding the page (the page itself, order 0, for a page on a per-CPU list). */
  readonly freeBlockPfn: number;
  readonly freeBlockOrder: number;
  /** The CPU whose per-CPU list holds the page (−1: one its tag does not name); null on the buddy lists. */
  readonly pcpCpu: number | null;
  constructor(
    pfn: number,
    place: FreePlace,
    readonly op: PageOp = 'free',
  ) {
    const where = freePlace(place);
    super(
      pfn,
      op === 'free'
        ? `double free of pfn ${pfn} (paddr ${hexPaddr(pfn)}): it is already free, ${where}; expected an allocated block`
        : `split of pfn ${pfn} (paddr ${hexPaddr(pfn)}): it is free, not allocated, ${where}; expected an allocated block`,
    );
    this.freeBlockPfn = 'block' in place ? place.block.pfn : pfn;
    this.freeBlockOrder = 'block' in place ? place.block.order : 0;
    this.pcpCpu = 'block' in place ? null : place.pcpCpu;
  }
}

export class NotAllocatedError extends PageError {
  override name = 'NotAllocatedError';
  constructor(pfn: number, detail: string, op: PageOp = 'free') {
    const what = `pfn ${pfn} (paddr ${hexPaddr(pfn)}) was never handed out as the first page of a block: ${detail}`;
    super(pfn, op === 'free' ? what : `${op} of ${what}`);
  }
}

export class WrongOrderError extends PageError {
  override name = 'WrongOrderError';
  constructor(
    pfn: number,
    readonly order: number,
    readonly allocatedOrder: number,
    readonly op: PageOp = 'free',
  ) {
    super(pfn, `${op} of pfn ${pfn} with order ${order}: expected order ${allocatedOrder}, the order it was allocated with`);
  }
}

/** A free of a page that page tables still map, that DMA still pins, or that another holder still
 *  references (Linux's bad_page(): "nonzero mapcount", and the _refcount put_page_testzero() must
 *  bring to zero). `refcount` counts the allocation's own reference, so at most 1 is free-able;
 *  FOLL_PIN pins of an order-0 page are in it, GUP_PIN_COUNTING_BIAS each, as in Linux. */
export class PageInUseError extends PageError {
  override name = 'PageInUseError';
  constructor(
    pfn: number,
    readonly mapcount: number,
    readonly pincount: number,
    readonly refcount: number,
  ) {
    const why: string[] = [];
    if (mapcount !== 0) why.push(`still mapped by ${mapcount} page-table entr${mapcount === 1 ? 'y' : 'ies'}`);
    if (pincount !== 0) why.push(`pinned ${pincount} time${pincount === 1 ? '' : 's'} for DMA`);
    if (refcount > 1) why.push(`held by ${refcount - 1} reference${refcount === 2 ? '' : 's'} (get_page or a DMA pin) besides the allocation's own (refcount ${refcount})`);
    super(pfn, `free of pfn ${pfn}: it is ${why.join(' and ')}; expected mapcount 0, pincount 0 and refcount at most 1 (unmap, unpin and put the other references first)`);
  }
}

export class OutOfMemoryError extends KmemError {
  override name = 'OutOfMemoryError';
  constructor(
    readonly order: number,
    readonly gfp: number,
    readonly reason: 'exhausted' | 'limit',
    detail: string,
  ) {
    super(`out of memory: no free block of order ${order} (gfp 0x${gfp.toString(16)}): ${detail}`);
  }
}

/**
 * A call that empties a CPU's per-CPU state (the page allocator's lists: drainCpu; the slab's
 * magazines) named a CPU slot that another thread holds: that thread may be popping from or
 * pushing onto them at this moment, and emptying them under it hands one pfn or object out twice.
 * Nothing changes. A slot is drained when it goes offline (kernel.offlineCpu, once its worker has
 * exited), or by the thread that holds it.
 */
export class CpuInUseError extends KmemError {
  override name = 'CpuInUseError';
  constructor(
    readonly cpu: number,
    /** Who holds the slot ("thread 3 (epoch 5)"). */
    readonly holder: string,
    /** The call refused: 'drainCpu', or an allocator's offline hook called by hand. */
    call: string,
    /** What of the CPU's the call would empty ('per-CPU page lists', 'magazines'). */
    what: string,
  ) {
    super(
      `${call}(${cpu}): CPU slot ${cpu} is held by ${holder}, which may be using its ${what} now; ` +
        `expected a slot that is offline or held by this thread: offline it with kernel.offlineCpu(${cpu}, epoch) once its worker has exited, which empties them`,
    );
  }
}

/**
 * A free (or a split) of a block the caller does not own: a slab's page, a large kmalloc block, or
 * a block allocated with another owner tag. Nothing changes; the owner keeps its pages.
 */
export class PageOwnerError extends PageError {
  override name = 'PageOwnerError';
  constructor(
    pfn: number,
    readonly owner: number,
    readonly expectedOwner: number,
    /** Whose block it is, as a clause ("it belongs to cache 'x'"). */
    readonly ownerName: string,
    readonly op: PageOp = 'free',
  ) {
    super(
      pfn,
      `${op} of pfn ${pfn} (paddr ${hexPaddr(pfn)}): the block has owner tag 0x${owner.toString(16)} (${ownerName}); ` +
        `expected a block allocated with owner tag 0x${expectedOwner.toString(16)}: ${op} it through its owner`,
    );
  }
}
