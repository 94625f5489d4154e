// destroyCache while another worker allocates from the cache: the worker gets CacheDestroyedError,
// never a corrupt object; the slab layer and the page allocator end as they began.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { CacheBusyError } from '../../../src/mm/slab/errors.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import { runTsWorker } from '../../helpers/worker.ts';

test('destroyCache racing an allocating worker: the worker sees CacheDestroyedError, nothing leaks or breaks', async () => {
  const rounds = 24;
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 2 });
  kernel.slab.shrink();
  const freeAtBoot = kernel.pages.stats().freePages;
  const sync = new SharedArrayBuffer(16);
  const gate = new Int32Array(sync);
  const done = runTsWorker<{ pairs: number; destroyedSeen: number; lookupMissed: number; capped: number; bad: number; otherErrors: string[] }>(new URL('./destroy-worker.ts', import.meta.url), {
    buffer: kernel.buffer,
    sync,
    rounds,
  });
  let busy = 0;
  for (let round = 1; round <= rounds; round++) {
    // Half the rounds with a slow-only (debug) cache: every allocation takes the locked path.
    const cache = kernel.createCache('victim', 96, { magazineRounds: 2, ...(round % 2 === 0 ? { flags: SlabFlag.RED_ZONE } : {}) });
    Atomics.store(gate, 0, round);
    Atomics.notify(gate, 0);
    while (Atomics.load(gate, 1) < round) await new Promise((resolve) => setTimeout(resolve, 1));
    for (let attempt = 0; ; attempt++) {
      try {
        kernel.slab.destroyCache(cache);
        break;
      } catch (error) {
        if (!(error instanceof CacheBusyError) || attempt > 1_000_000) throw error;
        busy++;
        if (attempt % 64 === 63) await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    while (Atomics.load(gate, 2) < round) await new Promise((resolve) => setTimeout(resolve, 1));
    kernel.validate();
  }
  const report = await done;
  assert.deepEqual(report.otherErrors, []);
  assert.equal(report.bad, 0, 'an allocation returned something that is not an object of the cache');
  assert.ok(report.pairs > 0 && busy > 0, `pairs ${report.pairs}, busy refusals ${busy}`);
  // Every round the worker entered ended with the typed error (or found the cache gone at lookup), never by running out of tries.
  assert.equal(report.capped, 0);
  assert.equal(report.destroyedSeen + report.lookupMissed, rounds, JSON.stringify(report));
  assert.ok(report.destroyedSeen > 0, 'the worker saw CacheDestroyedError');
  kernel.validate();
  kernel.slab.shrink();
  assert.equal(kernel.pages.stats().freePages, freeAtBoot, 'every page of the destroyed caches came back');
});
