import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';

test('/proc/slabinfo: version 2.1 header and the kernel’s column formats, newest cache first', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const cache = kernel.createCache('dentry', 192, { magazineRounds: 7 });
  const objs = Array.from({ length: 30 }, () => cache.alloc() as number);
  const lines = kernel.slab.slabinfo().split('\n');
  assert.equal(lines[0], 'slabinfo - version: 2.1');
  assert.equal(
    lines[1],
    '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
  );
  // 30 objects taken through magazines of 7 rounds: 5 batch refills bring 35 out of the slabs, and
  // the 5 still in the magazine count as active, as SLUB counts its per-CPU slabs.
  const stats = kernel.slab.stats().caches.find((c) => c.name === 'dentry')!;
  assert.equal(lines[2], 'dentry                35     42    192   21    1 : tunables    0    0    0 : slabdata      2      2      0');
  assert.equal(stats.inUse, 30);
  assert.equal(stats.activeObjs, 35);
  assert.match(lines[3] ?? '', /^kmalloc-8k {13}0 {6}0 {3}8192 {4}4 {4}8 : tunables {4}0 {4}0 {4}0 : slabdata {6}0 {6}0 {6}0$/);
  assert.equal(lines[lines.length - 2]?.slice(0, 9), 'kmem_slab');
  for (const addr of objs) cache.free(addr);
});

test('slabtop --once: summary lines and the cache table sorted by objects', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const addrs = Array.from({ length: 100 }, () => kernel.kmalloc(8) as number);
  const text = kernel.slab.slabtop().split('\n');
  assert.match(text[0] ?? '', /^ Active \/ Total Objects \(% used\) {4}: \d+ \/ \d+ \(\d+\.\d%\)$/);
  assert.match(text[4] ?? '', /^ Minimum \/ Average \/ Maximum Object : \d+\.\d\dK \/ \d+\.\d\dK \/ 8\.00K$/);
  assert.equal(text[6], '  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME                   ');
  assert.match(text[7] ?? '', /^ {3}512 {4}1\d\d {2}\d\d% {4}0\.01K {6}1 {6}512 {9}4K kmalloc-8 {14}$/);
  for (const addr of addrs) kernel.kfree(addr);
});
