// Freeing through the public API only what the caller owns (issue 9, hole 1), and the allocPages /
// tryAllocPages split. Each misuse is a typed error that names the owner and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { DoubleFreeError, NotAllocatedError, OutOfMemoryError, PageError, PageInUseError, PageOwnerError, WrongOrderError } from '../../src/mm/errors.ts';
import * as kmem from '../../src/index.ts';
import { PAGE_SHIFT } from '../../src/mm/types.ts';

function digest(kernel: Kernel): string {
  return createHash('sha256').update(new Uint8Array(kernel.buffer)).digest('hex');
}

/** Runs `misuse`, expects `error` matching `pattern`, and checks that not one byte of RAM changed. */
function refused(kernel: Kernel, misuse: () => void, error: new (...args: never[]) => Error, pattern: RegExp): void {
  const before = digest(kernel);
  assert.throws(misuse, (e: unknown) => e instanceof error && pattern.test((e as Error).message));
  assert.equal(digest(kernel), before, 'a refused free changed the arena');
  kernel.validate();
}

test('freePages of a page a slab cache owns is refused, names the cache, and the page is not handed out again', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const cache = kernel.createCache('pinned_cache', 128);
  const obj = cache.alloc() as number;
  const pfn = obj >>> PAGE_SHIFT;
  refused(kernel, () => kernel.pages.freePages(pfn, 0), PageOwnerError, /: the block has owner tag 0x[0-9a-f]+ \(a slab page: it belongs to cache 'pinned_cache'\); expected a block allocated with owner tag 0x0/);
  // On today's main the free was accepted and the next allocPages returned the slab's page.
  for (let i = 0; i < 64; i++) assert.notEqual(kernel.pages.allocPages(0), pfn);
  cache.free(obj);
  kernel.validate();
});

test('freePages of a large kmalloc block, or a tail page of it, is refused and names kmalloc', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const addr = kernel.kmalloc(64 << 10) as number;
  const pfn = addr >>> PAGE_SHIFT;
  refused(kernel, () => kernel.pages.freePages(pfn, 4), PageOwnerError, /large kmalloc block/);
  refused(kernel, () => kernel.pages.freePages(pfn + 3, 0), PageOwnerError, /large kmalloc block.*inside its block/);
  kernel.kfree(addr);
  kernel.validate();
});

test('wrong order, wrong owner tag, tail page, never allocated and already free: each typed, nothing changed', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  const tagged = pa.allocPages(2, GFP.KERNEL | GFP.COMP, 0x1234);
  refused(kernel, () => pa.freePages(tagged, 2), PageOwnerError, /owner tag 0x1234/);
  refused(kernel, () => pa.freePages(tagged, 1, 0x1234), WrongOrderError, /expected order 2/);
  refused(kernel, () => pa.freePages(tagged + 1, 0, 0x1234), NotAllocatedError, /inside the block allocated at pfn/);
  pa.freePages(tagged, 2, 0x1234);
  const page = pa.allocPages(0);
  pa.freePages(page, 0);
  refused(kernel, () => pa.freePages(page, 0), DoubleFreeError, /double free/);
  const free = pa.zones[0]!.startPfn + 100;
  refused(kernel, () => pa.freePages(free, 0), NotAllocatedError, /never handed out/);
  assert.throws(() => pa.allocPages(0, GFP.KERNEL, -1), /owner tag -1/);
});

test('freePages of a page on a per-CPU list says whose list holds it (the pcp owner tag), on a plain and a shared arena, nothing changed', () => {
  // It said "in the free block at pfn X of order 0", as if the page were on the buddy lists.
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '64MiB', shared, cpus: 2 });
    const mine = kernel.pages.allocPages(0);
    kernel.pages.freePages(mine, 0);
    const cpu = kernel.pages.cpu;
    const pcpPattern = (pfn: number, on: number): RegExp =>
      new RegExp(`^double free of pfn ${pfn} \\(paddr 0x[0-9a-f]+\\): it is already free, on CPU ${on}'s per-CPU page list; expected an allocated block$`);
    refused(kernel, () => kernel.pages.freePages(mine, 0), DoubleFreeError, pcpPattern(mine, cpu));
    // A page on the list of another handle's CPU (a second slot of the same arena).
    const other = Kernel.attach(kernel.buffer);
    const theirs = other.pages.allocPages(0);
    other.pages.freePages(theirs, 0);
    assert.notEqual(other.pages.cpu, cpu);
    refused(kernel, () => kernel.pages.freePages(theirs, 0), DoubleFreeError, pcpPattern(theirs, other.pages.cpu));
    assert.throws(() => kernel.pages.freePages(theirs, 0), (e: unknown) => e instanceof DoubleFreeError && e.pcpCpu === other.pages.cpu && e.freeBlockPfn === theirs && e.freeBlockOrder === 0);
    // On the buddy lists it still names the free block.
    const block = kernel.pages.allocPages(2);
    kernel.pages.freePages(block, 2);
    assert.throws(() => kernel.pages.freePages(block, 2), (e: unknown) => e instanceof DoubleFreeError && e.pcpCpu === null && /it is already free, in the free block at pfn \d+ of order \d+;/.test(e.message));
  }
});

test('splitPage of a block the caller does not own, a free block or a wrong order: the typed error freePages raises for it, worded for the split, nothing changed', () => {
  // A slab page and a large kmalloc block raised InvariantError "a compound page", and a free block "double free".
  const kernel = Kernel.boot({ ramBytes: '64MiB', cpus: 2 });
  const pa = kernel.pages;
  const cache = kernel.createCache('split_cache', 1664);
  const obj = cache.alloc();
  const slab = pa.findAllocatedBlock(obj >>> PAGE_SHIFT)!;
  assert.ok(slab.order > 0);
  refused(kernel, () => pa.splitPage(slab.pfn, slab.order), PageOwnerError, /^split of pfn \d+ \(paddr 0x[0-9a-f]+\): the block has owner tag 0x[0-9a-f]+ \(a slab page: it belongs to cache 'split_cache'\); expected a block allocated with owner tag 0x0: split it through its owner$/);
  const big = kernel.kmalloc(20000);
  refused(kernel, () => pa.splitPage(big >>> PAGE_SHIFT, 3), PageOwnerError, /^split of pfn \d+ .*large kmalloc block/);
  const tagged = pa.allocPages(3, GFP.KERNEL, 0x55);
  refused(kernel, () => pa.splitPage(tagged, 3), PageOwnerError, /^split of pfn \d+ .*owner tag 0x55 .*expected a block allocated with owner tag 0x0/);
  refused(kernel, () => pa.splitPage(tagged, 2, 0x55), WrongOrderError, /^split of pfn \d+ with order 2: expected order 3/);
  const free = pa.allocPages(3);
  pa.freePages(free, 3);
  refused(kernel, () => pa.splitPage(free, 3), DoubleFreeError, new RegExp(`^split of pfn ${free} \\(paddr 0x[0-9a-f]+\\): it is free, not allocated, in the free block at pfn \\d+ of order \\d+; expected an allocated block$`));
  // A page inside a block the caller owns: the error says split, and names the block's first page.
  const inside = pa.allocPages(3);
  refused(kernel, () => pa.splitPage(inside + 2, 0), NotAllocatedError, new RegExp(`^split of pfn ${inside + 2} \\(paddr 0x[0-9a-f]+\\) was never handed out as the first page of a block: it lies inside the block allocated at pfn ${inside} of order 3; split that pfn$`));
  pa.freePages(inside, 3);
  const comp = pa.allocPages(2, GFP.COMP);
  refused(kernel, () => pa.splitPage(comp, 2), PageError, /^split of pfn \d+ with order 2: a compound page \(GFP\.COMP\); expected a block allocated without GFP\.COMP$/);
  // The owner splits its own block, naming its tag.
  pa.splitPage(tagged, 3, 0x55);
  for (let i = 0; i < 8; i++) pa.freePages(tagged + i, 0, 0x55);
  cache.free(obj);
  kernel.kfree(big);
  pa.freePages(comp, 2);
  kernel.validate();
});

test('freePages of a page still mapped, pinned or referenced is refused (Linux bad_page), on the per-CPU path and the buddy path, nothing changed', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pages = kernel.pages;
  const memMap = pages.memMap;
  const { mapcount, pincount } = memMap;
  // Order 0 (the per-CPU fast path): a page-table mapping left behind, then a DMA pin. Each field
  // is written as the kernel's writers of it do, keeping PageFlag.SlowFree (MemMap.syncSlowFree).
  const pfn = pages.allocPages(0);
  mapcount[pfn] = 1;
  memMap.syncSlowFree(pfn);
  refused(kernel, () => pages.freePages(pfn, 0), PageInUseError, new RegExp(`^free of pfn ${pfn}: it is still mapped by 1 page-table entry; expected mapcount 0, pincount 0 and refcount at most 1`));
  mapcount[pfn] = 0;
  pincount[pfn] = 2;
  memMap.syncSlowFree(pfn);
  refused(kernel, () => pages.freePages(pfn, 0), PageInUseError, /pinned 2 times for DMA; expected mapcount 0/);
  pincount[pfn] = 0;
  // A reference besides the allocation's own: a get_page, or an order-0 page's FOLL_PIN bias (1024).
  const { refcount } = memMap;
  refcount[pfn] = 2;
  memMap.syncSlowFree(pfn);
  refused(kernel, () => pages.freePages(pfn, 0), PageInUseError, /it is held by 1 reference \(get_page or a DMA pin\) besides the allocation's own \(refcount 2\)/);
  refcount[pfn] = 1025;
  refused(kernel, () => pages.freePages(pfn, 0), PageInUseError, /held by 1024 references/);
  refcount[pfn] = 1;
  memMap.syncSlowFree(pfn);
  pages.freePages(pfn, 0);
  // A block of order 2 whose third page is still mapped: the error names that page.
  const block = pages.allocPages(2);
  mapcount[block + 2] = 3;
  refused(kernel, () => pages.freePages(block, 2), PageInUseError, new RegExp(`^free of pfn ${block + 2}: it is still mapped by 3 page-table entries`));
  mapcount[block + 2] = 0;
  pages.freePages(block, 2);
  // Every free page is unmapped and unpinned: validate() says so when it is not.
  const again = pages.allocPages(0);
  pages.freePages(again, 0);
  mapcount[again] = 1;
  assert.throws(() => kernel.validate(), /free pfn \d+ has mapcount 1 and pincount 0; expected 0 and 0 on a free page/);
  mapcount[again] = 0;
  kernel.validate();
});

test('the buddy internals are not part of the public API', () => {
  const pa = Kernel.boot({ ramBytes: '16MiB' }).pages as unknown as Record<string, unknown>;
  for (const name of ['freeOneBlock', 'expand', 'rmqueueSmallest', 'setPageblockRange', 'tryAlloc', 'prepNewPage', 'diagnoseBadFree']) {
    assert.equal(pa[name], undefined, `PageAllocator.${name} is reachable`);
  }
  const zone = (pa.zones as unknown as Record<string, unknown>[])[0]!;
  for (const name of ['addFree', 'delFree', 'flags', 'next', 'prev']) assert.equal(zone[name], undefined, `Zone.${name} is reachable`);
  for (const name of ['freeOneBlock', 'expand', 'rmqueueSmallest', 'pageAllocInternals', 'addFree', 'delFree']) {
    assert.equal((kmem as Record<string, unknown>)[name], undefined, `kmem exports ${name}`);
  }
});

test('allocPages returns a number (throws on failure); tryAllocPages returns null', () => {
  const kernel = Kernel.boot({ ramBytes: '8MiB' });
  const pa = kernel.pages;
  // The type is the claim: this line does not compile if allocPages may return null.
  const pfn: number = pa.allocPages(0);
  pa.freePages(pfn, 0);
  const held: number[] = [];
  for (let p = pa.tryAllocPages(3, GFP.NORETRY); p !== null; p = pa.tryAllocPages(3, GFP.NORETRY)) held.push(p);
  assert.throws(() => pa.allocPages(10, GFP.NORETRY), OutOfMemoryError);
  assert.equal(pa.tryAllocPages(10), null);
  for (const p of held) pa.freePages(p, 3);
  kernel.validate();
});

test('the README’s page-allocator lines compile under strict tsc (npm run check) and run', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  // Verbatim from README.md ("The page allocator underneath"):
  const pfn = kernel.pages.allocPages(9, GFP.HIGHUSER_MOVABLE | GFP.COMP);   // a 2 MiB page
  kernel.pages.freePages(pfn, 9);
  kernel.validate();
});
