// destroyCache while another worker allocates from the cache: the worker gets CacheDestroyedError,
// never a corrupt object; the slab layer and the page allocator end as they began.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { CacheBusyError } from '../../../src/mm/slab/errors.ts';
import { SlabFlag } from '../../../src/mm/slab/layout.ts';
import type { KmemCache } from '../../../src/mm/slab/allocator.ts';
import { runTsWorker } from '../../helpers/worker.ts';

test('destroyCache racing an allocating worker: the worker sees CacheDestroyedError, nothing leaks or breaks', async () => {
  const rounds = 24;
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 2 });
  kernel.slab.shrink();
  const freeAtBoot = kernel.pages.stats().freePages;
  const sync = new SharedArrayBuffer(32);
  const gate = new Int32Array(sync);
  const done = runTsWorker<{ pairs: number; destroyedSeen: number; lookupMissed: number; capped: number; bad: number; otherErrors: string[] }>(new URL('./destroy-worker.ts', import.meta.url), {
    buffer: kernel.buffer,
    sync,
    rounds,
  });
  let busy = 0;
  for (let round = 1; round <= rounds; round++) {
    // Half the rounds with a slow-only (debug) cache: every allocation takes the locked path. A
    // third of the rounds with a constructor, which grow() runs with the slab lock dropped and its
    // new slab on no list: a destroy then must be refused, never succeed under the worker's feet.
    const withCtor = round % 3 === 0;
    const cache = kernel.createCache('victim', 96, {
      magazineRounds: 2,
      ...(round % 2 === 0 ? { flags: SlabFlag.RED_ZONE } : {}),
      ...(withCtor ? { ctor: () => undefined } : {}),
    });
    if (withCtor) Atomics.store(gate, 3, round);
    Atomics.store(gate, 0, round);
    Atomics.notify(gate, 0);
    while (Atomics.load(gate, 1) < round) await new Promise((resolve) => setTimeout(resolve, 1));
    if (withCtor) {
      while (Atomics.load(gate, 4) < round) await new Promise((resolve) => setTimeout(resolve, 1));
      // The worker is inside its first constructor call.
      assert.throws(
        () => kernel.slab.destroyCache(cache),
        (e: unknown) => e instanceof CacheBusyError && /CPU \d+ is making a slab of it/.test(e.message),
        'a destroy while the worker constructs objects',
      );
      Atomics.store(gate, 5, round);
      Atomics.notify(gate, 5);
    }
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

test('destroyCache from inside a constructor (grow runs them with the slab lock dropped) is refused, and the allocation goes on', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', cpus: 1 });
  for (const flags of [0, SlabFlag.RED_ZONE]) {
    let refused: unknown = null;
    let calls = 0;
    const cache: KmemCache = kernel.createCache(`ctor-destroys-${flags}`, 128, {
      flags,
      ctor: () => {
        if (calls++ > 0) return;
        try {
          kernel.slab.destroyCache(cache);
        } catch (error) {
          refused = error;
        }
      },
    });
    const addr = cache.alloc();
    assert.ok(refused instanceof CacheBusyError && /CPU 0 is making a slab of it/.test(refused.message), String(refused));
    assert.equal(cache.objectStartError(addr), null);
    kernel.validate();
    cache.free(addr);
    cache.drain();
    kernel.slab.destroyCache(cache);
    kernel.validate();
  }
});
