// The lock order src/mm/slab/types.ts and docs/architecture.md state, watched as lockdep would:
// every LockWord acquisition is recorded with the locks this thread already holds, while a cache
// grows, its magazines come from the depot and from their own cache, and shrink() gives everything
// back. Every nesting seen must go left to right in the stated order, and the one a magazine
// cache's slab makes (a kmem_magazine_<M> slab lock held while kmem_slab's is taken, for the new
// slab's descriptor: internalTake, and to give it back) must be among them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { LockWord } from '../../../src/sync/lock-word.ts';

/** The stated order, outermost first. */
const ORDER = ['slab table', 'cache depot', 'cache slab', 'kmem_magazine_<M> slab', 'kmem_slab slab', 'zone'] as const;
type Rank = (typeof ORDER)[number];

/** A lock word's index in the whole arena (LockWord keeps its view and index private). */
function wordOf(lock: LockWord): number {
  const { words, index } = lock as unknown as { words: Int32Array; index: number };
  return words.byteOffset / 4 + index;
}

test('slab and zone locks nest only in the stated order, and a magazine cache’s slab lock is held while kmem_slab’s is taken', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '64MiB', shared, cpus: 2 });
    const cache = kernel.createCache('lockdep_probe', 64);
    cache.free(cache.alloc());
    // Which lock each arena word is: the table lock, every cache's depot and slab locks, the zone locks.
    const rank = new Map<number, Rank>();
    const slab = kernel.slab as unknown as { tableLock: LockWord; liveContexts(): { name: string; depotLock: LockWord; slabLock: LockWord }[] };
    rank.set(wordOf(slab.tableLock), 'slab table');
    for (const ctx of slab.liveContexts()) {
      rank.set(wordOf(ctx.depotLock), 'cache depot');
      rank.set(wordOf(ctx.slabLock), ctx.name === 'kmem_slab' ? 'kmem_slab slab' : ctx.name.startsWith('kmem_magazine_') ? 'kmem_magazine_<M> slab' : 'cache slab');
    }
    for (const zone of kernel.pages.zones) rank.set(wordOf(zone.lock), 'zone');
    const held: number[] = [];
    const nestings = new Map<string, number>();
    const proto = LockWord.prototype;
    const { acquire, release } = proto;
    try {
      proto.acquire = function (this: LockWord, whileWaiting?: () => void): void {
        const word = wordOf(this);
        const taking = rank.get(word);
        if (taking !== undefined) {
          for (const h of held) {
            const holding = rank.get(h);
            if (holding !== undefined) nestings.set(`${holding} → ${taking}`, (nestings.get(`${holding} → ${taking}`) ?? 0) + 1);
          }
        }
        acquire.call(this, whileWaiting);
        held.push(word);
      };
      proto.release = function (this: LockWord): void {
        release.call(this);
        held.splice(held.lastIndexOf(wordOf(this)), 1);
      };
      // Enough objects that the cache grows many slabs and the magazine cache grows slabs of its own.
      const objects = Array.from({ length: 40_000 }, () => cache.alloc());
      for (const obj of objects) cache.free(obj);
      cache.shrink();
      kernel.slab.shrink();
    } finally {
      proto.acquire = acquire;
      proto.release = release;
    }
    assert.equal(held.length, 0, 'every lock taken was released');
    const seen = [...nestings.keys()];
    for (const pair of seen) {
      const [outer, inner] = pair.split(' → ') as [Rank, Rank];
      assert.ok(ORDER.indexOf(outer) < ORDER.indexOf(inner), `${pair} goes against the stated order (seen: ${seen.join(', ')})`);
    }
    assert.ok(nestings.has('kmem_magazine_<M> slab → kmem_slab slab'), `seen: ${seen.join(', ')}`);
    assert.ok(nestings.has('cache slab → zone') && nestings.has('kmem_slab slab → zone'), `seen: ${seen.join(', ')}`);
    kernel.validate();
  }
});
