// The README's virtual-memory snippet, as written there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel, MADV, MAP, PROT } from '../../../src/index.ts';

test('README: mmap, a write that maps a huge page, DONTNEED of one page, and the /proc views', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const mm = kernel.vm.createAddressSpace();
  const addr = mm.mmap(0, 4 << 20, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  mm.write(addr, new Uint8Array([1, 2, 3]));
  assert.equal(addr % (2 << 20), 0, 'linux-6.12 alignment: a multiple of 2 MiB starts aligned');
  assert.equal(kernel.vm.counter('thp_fault_alloc'), 1);
  mm.madvise(addr, 4096, MADV.DONTNEED);
  assert.equal(kernel.vm.counter('thp_split_pmd'), 1);
  assert.equal(mm.readByte(addr), 0);
  assert.match(mm.maps(), /rw-p 00000000 00:00 0 \n$/);
  assert.match(mm.smapsRollup(), /^Rss:\s+2044 kB$/m);
  assert.match(kernel.vm.meminfo(), /^AnonHugePages:\s+0 kB$/m);
  kernel.validate();
});
