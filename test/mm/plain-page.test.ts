// A plain page (PageFlag.SlowFree clear): the one flags word the order-0 fast free decides by.
// SlowFree is set exactly when an allocated block is not order 0, carries an owner tag, or holds a
// reference, a mapping or a pin beyond the allocation's own; a page on a per-CPU list has owner 0
// and refcount 1 and names its CPU in its flags (mem-map.ts, pcp.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { DoubleFreeError, PageInUseError } from '../../src/mm/errors.ts';
import { getPage, pinPages, putPage, unpinPages } from '../../src/mm/dma/gup.ts';
import { PAGE_FLAG_PCP_TAG_SHIFT, PageFlag } from '../../src/mm/types.ts';
import { pcpFlagsCpu, pcpPageFlags } from '../../src/mm/pcp.ts';

const slowFree = (kernel: Kernel, pfn: number): boolean => ((kernel.memMap.flags[pfn] as number) & PageFlag.SlowFree) !== 0;

test('SlowFree is clear exactly on plain blocks: order 0 with owner 0; set for an owner tag or an order above 0, and after splitPage per page', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  const plain = pa.allocPages(0);
  assert.equal(slowFree(kernel, plain), false);
  const tagged = pa.allocPages(0, GFP.KERNEL, 0x77);
  assert.equal(slowFree(kernel, tagged), true, 'an owner tag');
  const block = pa.allocPages(2);
  assert.equal(slowFree(kernel, block), true, 'order 2');
  const viaGeneral = pa.tryAllocPages(0, GFP.KERNEL | GFP.ZERO) as number; // the general path marks it
  assert.equal(slowFree(kernel, viaGeneral), false);
  kernel.validate();
  pa.splitPage(block, 2);
  for (let i = 0; i < 4; i++) assert.equal(slowFree(kernel, block + i), false, `split page ${i} of an owner-0 block is plain`);
  const taggedBlock = pa.allocPages(1, GFP.KERNEL, 0x78);
  pa.splitPage(taggedBlock, 1, 0x78);
  for (let i = 0; i < 2; i++) assert.equal(slowFree(kernel, taggedBlock + i), true, `split page ${i} keeps its owner tag`);
  kernel.validate();
  for (let i = 0; i < 4; i++) pa.freePages(block + i, 0);
  for (let i = 0; i < 2; i++) pa.freePages(taggedBlock + i, 0, 0x78);
  pa.freePages(plain, 0);
  pa.freePages(tagged, 0, 0x77);
  pa.freePages(viaGeneral, 0);
  kernel.validate();
});

test('get_page and pins make a plain page not plain: its free is refused with nothing changed; put_page and unpin make it plain again', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  const pfn = pa.allocPages(0);
  getPage(kernel, pfn);
  assert.equal(slowFree(kernel, pfn), true);
  const before = new Uint8Array(kernel.buffer.slice(0));
  assert.throws(() => pa.freePages(pfn, 0), (e: unknown) => e instanceof PageInUseError && /held by 1 reference/.test((e as Error).message));
  assert.deepEqual(new Uint8Array(kernel.buffer), before, 'the refused free changed the arena');
  kernel.validate();
  putPage(kernel, pfn);
  assert.equal(slowFree(kernel, pfn), false);
  pinPages(kernel, [pfn]);
  assert.equal(slowFree(kernel, pfn), true);
  assert.throws(() => pa.freePages(pfn, 0), PageInUseError);
  unpinPages(kernel, [pfn]);
  assert.equal(slowFree(kernel, pfn), false);
  kernel.validate();
  pa.freePages(pfn, 0);
  kernel.validate();
});

test('validate() names a block whose refcount changed without its SlowFree bit: the fast free would trust a stale bit', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pfn = kernel.pages.allocPages(0);
  kernel.memMap.refcount[pfn] = 2; // as a writer that forgets MemMap.markSlowFree would leave it
  assert.throws(() => kernel.validate(), /allocated pfn \d+ has SlowFree clear but order 0, owner 0, refcount 2, mapcount 0, pincount 0: expected it set exactly when the block is not plain/);
  kernel.memMap.refcount[pfn] = 1;
  kernel.validate();
  kernel.memMap.flags[pfn] = (kernel.memMap.flags[pfn] as number) | PageFlag.SlowFree;
  assert.throws(() => kernel.validate(), /has SlowFree set but order 0, owner 0, refcount 1/);
});

test('a page on a per-CPU list: Pcp and its CPU in one flags word, owner 0, refcount 1; a second free names the CPU', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', cpus: 2 });
  const pa = kernel.pages;
  const pfn = pa.allocPages(0);
  pa.freePages(pfn, 0);
  const cpu = pa.cpu;
  assert.ok(cpu >= 0);
  const flags = kernel.memMap.flags[pfn] as number;
  assert.equal(flags, pcpPageFlags(cpu));
  assert.equal(flags >>> PAGE_FLAG_PCP_TAG_SHIFT, cpu + 1);
  assert.equal(pcpFlagsCpu(flags, 2), cpu);
  assert.equal(kernel.memMap.owner[pfn], 0);
  assert.equal(kernel.memMap.refcount[pfn], 1);
  assert.throws(() => pa.freePages(pfn, 0), (e: unknown) => e instanceof DoubleFreeError && new RegExp(`on CPU ${cpu}'s per-CPU page list`).test((e as Error).message));
  // An owner-tagged page takes the general path, and still lands on the per-CPU list.
  const tagged = pa.allocPages(0, GFP.KERNEL, 9);
  const count = pa.pcpPages();
  pa.freePages(tagged, 0, 9);
  assert.equal(pa.pcpPages(), count + 1);
  assert.equal(kernel.memMap.flags[tagged], pcpPageFlags(cpu));
  assert.equal(kernel.memMap.owner[tagged], 0);
  assert.equal(kernel.memMap.refcount[tagged], 1);
  kernel.validate();
  // Drained to the buddy allocator: free pages have refcount 0 and no CPU tag.
  pa.drainPages();
  assert.equal(kernel.memMap.refcount[pfn], 0);
  assert.equal((kernel.memMap.flags[pfn] as number) >>> PAGE_FLAG_PCP_TAG_SHIFT, 0);
  kernel.validate();
});
