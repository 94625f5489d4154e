// The arena's intrusive doubly-linked lists (src/util/arena-list.ts) and their assertion tiers:
// a shadow array checked after every operation; the internal tier refusing a listed node on add
// and a node its neighbours do not point at on del, with nothing changed; the expensive tier
// catching a wrong length and a cycle; and the slab's lists using them (a debug cache checks the
// whole list at each change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIST_POISON_NEXT, listAdd, listCheck, listDel, listNodeInit, listWalk } from '../../src/util/arena-list.ts';
import type { ListLinks } from '../../src/util/arena-list.ts';
import { InvariantError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';
import { Kernel } from '../../src/mm/kernel.ts';
import { SlabFlag } from '../../src/mm/slab/layout.ts';
import { C_PARTIAL, D_NEXT } from '../../src/mm/slab/types.ts';

const LINKS: ListLinks = { next: 1, prev: 2, name: 'test list' };
const HEAD = 0;
const LENGTH = 1;
/** Node i at byte address 4096 + 64 · i (page 0 holds no node: the poison values live there). */
const node = (i: number): number => 4096 + 64 * i;

function fresh(nodes: number): Int32Array {
  const w = new Int32Array(1024 + 16 * nodes);
  for (let i = 0; i < nodes; i++) listNodeInit(w, node(i), LINKS);
  return w;
}

function contents(w: Int32Array): number[] {
  const out: number[] = [];
  listWalk(w, HEAD, LINKS, 1000, (n) => out.push(n));
  return out;
}

test('add and del against a shadow list, checked after every operation', () => {
  const w = fresh(40);
  const prng = new Prng(5);
  let shadow: number[] = [];
  for (let step = 0; step < 2000; step++) {
    const i = prng.int(40);
    if (shadow.includes(node(i))) {
      listDel(w, HEAD, LENGTH, node(i), LINKS);
      shadow = shadow.filter((n) => n !== node(i));
    } else {
      listAdd(w, HEAD, LENGTH, node(i), LINKS);
      shadow.unshift(node(i));
    }
    assert.deepEqual(contents(w), shadow);
    listCheck(w, HEAD, LENGTH, LINKS, 40);
  }
});

test('internal tier: a listed node is not added again, an unlisted or mislinked one not deleted; nothing changes', () => {
  const w = fresh(4);
  for (let i = 0; i < 3; i++) listAdd(w, HEAD, LENGTH, node(i), LINKS);
  const before = w.slice();
  assert.throws(() => listAdd(w, HEAD, LENGTH, node(1), LINKS), (e: unknown) => e instanceof InvariantError && /already on a list/.test((e as Error).message));
  assert.throws(() => listDel(w, HEAD, LENGTH, node(3), LINKS), (e: unknown) => e instanceof InvariantError && /on no list/.test((e as Error).message));
  assert.throws(() => listAdd(w, HEAD, LENGTH, 66, LINKS), /not a node address/);
  assert.deepEqual(w, before);
  // A neighbour that no longer points back (a stray write): the del refuses before unlinking.
  w[node(1) / 4 + LINKS.prev] = node(3);
  const corrupt = w.slice();
  assert.throws(() => listDel(w, HEAD, LENGTH, node(1), LINKS), /not linked from its prev/);
  assert.deepEqual(w, corrupt);
});

test('expensive tier: a wrong length word and a cycle are caught by listCheck', () => {
  const w = fresh(3);
  for (let i = 0; i < 3; i++) listAdd(w, HEAD, LENGTH, node(i), LINKS);
  w[LENGTH] = 2;
  assert.throws(() => listCheck(w, HEAD, LENGTH, LINKS, 3), /length word says 2/);
  w[LENGTH] = 3;
  w[node(0) / 4 + LINKS.next] = node(2); // the tail points back at the head
  assert.throws(() => listCheck(w, HEAD, LENGTH, LINKS, 3), (e: unknown) => e instanceof InvariantError);
  assert.equal(w[node(0) / 4 + LINKS.next] === LIST_POISON_NEXT, false);
});

test('slab lists: validate() walks them, and a debug cache catches a broken list at its next list change', () => {
  for (const flags of [0, SlabFlag.RED_ZONE]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', cpus: 1 });
    const cache = kernel.createCache('listed', 512, { flags });
    const held = Array.from({ length: 40 }, () => cache.alloc());
    for (const addr of held.filter((_, i) => i % 3 === 0)) cache.free(addr);
    kernel.validate();
    const w = new Int32Array(kernel.buffer);
    const base = cache.base;
    const first = (w[base + C_PARTIAL] as number) >>> 0;
    assert.notEqual(first, 0, 'a partial slab exists');
    const saved = w[first / 4 + D_NEXT] as number;
    w[first / 4 + D_NEXT] = first; // a cycle of one
    assert.throws(() => kernel.validate(), InvariantError);
    if (flags !== 0) {
      // Debug caches run the expensive tier at every list change: the next slab-level free finds it.
      assert.throws(() => {
        for (const addr of held.filter((_, i) => i % 3 !== 0)) cache.free(addr);
      }, InvariantError);
    }
    w[first / 4 + D_NEXT] = saved;
  }
});
