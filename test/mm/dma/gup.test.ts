import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GFP } from '../../../src/mm/gfp.ts';
import { GUP_PIN_COUNTING_BIAS, PinError, getPage, pageMaybeDmaPinned, pinPages, putPage, unpinPages } from '../../../src/mm/dma/gup.ts';
import { Kernel } from '../../../src/mm/kernel.ts';

test('gup: a pin adds GUP_PIN_COUNTING_BIAS (1024) to a small page\'s refcount; unpin takes it away', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const pfn = kernel.pages.allocPages(0) as number;
  assert.equal(GUP_PIN_COUNTING_BIAS, 1024);
  assert.equal(pageMaybeDmaPinned(kernel, pfn), false);
  pinPages(kernel, [pfn, pfn]);
  assert.equal(kernel.memMap.refcount[pfn], 1 + 2 * 1024);
  assert.equal(pageMaybeDmaPinned(kernel, pfn), true);
  unpinPages(kernel, [pfn, pfn]);
  assert.equal(kernel.memMap.refcount[pfn], 1);
  assert.throws(() => unpinPages(kernel, [pfn]), PinError);
  assert.equal(kernel.memMap.refcount[pfn], 1, 'the refused unpin changed nothing');
  kernel.pages.freePages(pfn, 0);
  kernel.validate();
});

test('gup: 1024 plain references make a small page look pinned (the documented false positive)', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const pfn = kernel.pages.allocPages(0) as number;
  for (let i = 0; i < 1022; i++) getPage(kernel, pfn);
  assert.equal(pageMaybeDmaPinned(kernel, pfn), false, '1023 references');
  getPage(kernel, pfn);
  assert.equal(pageMaybeDmaPinned(kernel, pfn), true, '1024 references and no pin: "maybe" pinned');
  for (let i = 0; i < 1023; i++) putPage(kernel, pfn);
  assert.throws(() => putPage(kernel, pfn), PinError, 'the allocation\'s own reference is not getPage\'s to drop');
});

test('gup: a compound page counts pins exactly in its head\'s pincount, through any of its pages', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const head = kernel.pages.allocPages(2, GFP.COMP) as number;
  for (let i = 0; i < 2000; i++) getPage(kernel, head + 1);
  assert.equal(pageMaybeDmaPinned(kernel, head + 3), false, 'no false positive for a large folio');
  pinPages(kernel, [head + 2]);
  assert.deepEqual([kernel.memMap.refcount[head], kernel.memMap.pincount[head]], [2002, 1]);
  assert.equal(pageMaybeDmaPinned(kernel, head), true);
  unpinPages(kernel, [head + 1]);
  assert.equal(pageMaybeDmaPinned(kernel, head), false);
});

test('gup: free, reserved and non-head pages cannot be pinned; a failing batch pins nothing', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB' });
  const block = kernel.pages.allocPages(1) as number; // not compound: its second page has no refcount
  const free = kernel.pages.allocPages(0) as number;
  kernel.pages.freePages(free, 0);
  assert.throws(() => pinPages(kernel, [block, free]), PinError);
  assert.throws(() => pinPages(kernel, [block + 1]), PinError);
  assert.throws(() => pinPages(kernel, [0]), PinError);
  assert.equal(kernel.memMap.refcount[block], 1, 'nothing pinned by the refused batch');
  assert.throws(() => pinPages(kernel, [kernel.pages.nrPages]), /out of range/);
});
