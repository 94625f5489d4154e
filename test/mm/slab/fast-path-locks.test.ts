// README: "allocates without locks on its fast path" — alloc/free pairs on a magazine cache, once its
// magazines are warm, take neither its depot lock nor its slab-list lock (their lock_stat
// acquisition counts stay put), on a plain and on a shared arena. And kernel.stats() is JSON-ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';

test('magazine-cache alloc/free pairs take no lock once warm; kernel.stats() survives JSON', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', shared, cpus: 2 });
    const cache = kernel.createCache('fastpath', 128);
    const acquisitions = (): number[] => kernel.slab.lockStats().filter((l) => l.name.startsWith('slab fastpath ')).map((l) => l.acquisitions);
    for (let i = 0; i < 100; i++) cache.free(cache.alloc()); // warm: this CPU's magazines loaded
    const before = acquisitions();
    assert.ok(before.length >= 2, `the cache's depot and slab-list locks: ${JSON.stringify(kernel.slab.lockStats().map((l) => l.name))}`);
    for (let i = 0; i < 100_000; i++) cache.free(cache.alloc());
    assert.deepEqual(acquisitions(), before, `${shared ? 'shared' : 'plain'} arena: no lock taken by 100,000 pairs`);
    const stats = kernel.stats();
    assert.deepEqual(JSON.parse(JSON.stringify(stats)), stats, 'stats() holds only JSON values');
    kernel.validate();
  }
});
