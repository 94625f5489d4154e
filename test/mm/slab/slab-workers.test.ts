import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { runTsWorker } from '../../helpers/worker.ts';
import { ringBytes } from './ring.ts';

interface Report {
  id: number;
  allocs: number;
  frees: number;
  crossFrees: number;
  doubles: number;
  corrupt: number;
  failures: number;
}

test('4 workers × 1 M mixed slab and kmalloc operations on one arena, shrunk while they run: no overlaps, nothing lost', async () => {
  const workers = 4;
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: workers + 1 });
  kernel.createCache('shared48', 48);
  kernel.slab.shrink();
  const bootFree = kernel.pages.stats().zones.map((z) => z.freeBlocks.join(','));
  const claims = new SharedArrayBuffer(kernel.ram.sizeBytes / 2);
  const rings = new SharedArrayBuffer(ringBytes(workers));
  let running = true;
  const all = Promise.all(
    Array.from({ length: workers }, (_, id) =>
      runTsWorker<Report>(new URL('./slab-worker.ts', import.meta.url), { buffer: kernel.buffer, claims, rings, id, workers, ops: 1_000_000 }),
    ),
  ).finally(() => {
    running = false;
  });
  // Meanwhile the main thread shrinks every cache again and again (kmem_cache_shrink from another
  // CPU): depots purged, empty slabs returned, every worker asked to give its magazines back.
  let shrinks = 0;
  while (running) {
    kernel.slab.shrink();
    shrinks++;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const reports = await all;
  assert.ok(shrinks > 5, `shrinks while running: ${shrinks}`);
  let allocs = 0;
  let frees = 0;
  let cross = 0;
  for (const r of reports) {
    assert.equal(r.doubles, 0, `worker ${r.id}: an object was handed out twice`);
    assert.equal(r.corrupt, 0, `worker ${r.id}: an object's stamp was overwritten`);
    assert.equal(r.failures, 0);
    allocs += r.allocs;
    frees += r.frees;
    cross += r.crossFrees;
  }
  assert.equal(frees, allocs, 'every object allocated was freed');
  assert.ok(cross > 10_000, `objects freed by another worker: ${cross}`);
  assert.ok(new Int32Array(claims).every((c) => c === 0));
  kernel.validate();
  for (const stats of kernel.slab.stats().caches) {
    if (!stats.name.startsWith('kmem_')) assert.equal(stats.inUse, 0, `${stats.name}: objects lost`);
  }
  kernel.slab.shrink();
  kernel.validate();
  assert.deepEqual(kernel.pages.stats().zones.map((z) => z.freeBlocks.join(',')), bootFree);
});
