// index-list.ts against a shadow array: random adds at either end, deletions and replacements,
// the list read back after every operation; a node unlinked from where its links do not say is an
// InvariantError with nothing changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexListAdd, indexListDel, indexListReplace } from '../../src/util/index-list.ts';
import type { IndexLinks } from '../../src/util/index-list.ts';
import { InvariantError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';

const NODES = 64;

function fresh(): { words: Int32Array; links: IndexLinks } {
  const words = new Int32Array([7, -1, -1, 0, 7]); // a list's [head, tail, count] at word 1, guards either side
  return { words, links: { next: new Int32Array(NODES).fill(-1), prev: new Int32Array(NODES).fill(-1), name: 'test list' } };
}

/** The list followed from head, checked both ways against tail and count. */
function read(words: Int32Array, links: IndexLinks): number[] {
  const out: number[] = [];
  let prev = -1;
  for (let node = words[1] as number; node !== -1; node = links.next[node] as number) {
    assert.ok(out.length <= NODES, 'the list ends');
    assert.equal(links.prev[node], prev, `prev of ${node}`);
    out.push(node);
    prev = node;
  }
  assert.equal(words[2], prev, 'tail');
  assert.equal(words[3], out.length, 'count');
  assert.deepEqual([words[0], words[4]], [7, 7], 'nothing outside the triple written');
  return out;
}

test('index-list: 20,000 seeded operations match a shadow array', () => {
  const { words, links } = fresh();
  const rng = new Prng(11);
  const shadow: number[] = [];
  for (let op = 0; op < 20_000; op++) {
    const off = Array.from({ length: NODES }, (_, i) => i).filter((n) => !shadow.includes(n));
    const kind = rng.int(3);
    if (kind === 0 && off.length > 0) {
      const node = off[rng.int(off.length)] as number;
      const toTail = rng.chance(0.5);
      indexListAdd(words, 1, links, node, toTail);
      if (toTail) shadow.push(node);
      else shadow.unshift(node);
    } else if (kind === 1 && shadow.length > 0) {
      const node = shadow[rng.int(shadow.length)] as number;
      indexListDel(words, 1, links, node);
      shadow.splice(shadow.indexOf(node), 1);
    } else if (shadow.length > 0 && off.length > 0) {
      const node = shadow[rng.int(shadow.length)] as number;
      const replacement = off[rng.int(off.length)] as number;
      indexListReplace(words, 1, links, node, replacement);
      shadow[shadow.indexOf(node)] = replacement;
    }
    assert.deepEqual(read(words, links), shadow, `after operation ${op}`);
  }
});

test('index-list: deleting or replacing a node that is not where its links say is refused before any word changes', () => {
  const { words, links } = fresh();
  for (const node of [3, 4, 5]) indexListAdd(words, 1, links, node, true);
  const before = [Array.from(words), Array.from(links.next), Array.from(links.prev)];
  // Node 9 is on no list; its links (−1, −1) claim it is the only node.
  assert.throws(() => indexListDel(words, 1, links, 9), (e: unknown) => e instanceof InvariantError && /test list del: node 9 is not linked where its links say/.test(e.message));
  assert.throws(() => indexListReplace(words, 1, links, 9, 10), InvariantError);
  // A stale link: node 4 claims a prev that does not point at it.
  links.prev[4] = 5;
  assert.throws(() => indexListDel(words, 1, links, 4), InvariantError);
  links.prev[4] = 3;
  assert.deepEqual([Array.from(words), Array.from(links.next), Array.from(links.prev)], before);
  assert.deepEqual(read(words, links), [3, 4, 5]);
});
