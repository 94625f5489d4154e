/**
 * Intrusive doubly-linked lists of integer-indexed nodes (page frame numbers), the links in two
 * Int32Arrays indexed by node (struct page's fields in the arena: mem_map.ts) and the list itself a
 * triple of words [head, tail, count] in another Int32Array. −1 (NO_PFN) ends a list and marks an
 * empty one. The buddy allocator's free lists (src/mm/zone.ts, per order and migratetype) and the
 * anonymous LRU lists (src/mm/swap/lru.ts) are such lists; arena-list.ts is the same idea for nodes
 * named by byte address (slab descriptors), without a tail.
 *
 *   add at head   node.prev = −1, node.next = head, head.prev = node (or tail = node), head = node
 *   add at tail   the mirror image (Linux's list_add_tail: the buddy allocator puts a block there
 *                 when its buddy may soon be free, so that it is taken last)
 *   del           the neighbours (or head, tail) skip the node; count − 1
 *
 * Invariants (checked by the callers' validate(): zone lists in page-alloc-validate.ts, LRU lists
 * in swap/validate.ts): following next from head visits count nodes and ends at tail; each node's
 * prev is the node before it (−1 for head).
 *
 * Assertion tiers (as arena-list.ts):
 *   cheap, always on     none here: the callers check what a node must be before it goes on or
 *                        comes off a list (a Buddy block of that order; a page's LRU flags)
 *   internal, always on  del: the node's neighbours (or the head and the tail) point at it, in the
 *                        loads the unlink makes anyway (Linux's CONFIG_LIST_HARDENED
 *                        __list_del_entry_valid); an InvariantError before any word changes
 *   expensive            the callers' validate() walks every list
 *
 * Locking: none here; the caller holds the lock of the list's words (the zone lock, the swap lock).
 */
import { InvariantError } from './errors.ts';

/** The two link arrays of a list's nodes and the list's name for error messages. */
export interface IndexLinks {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly name: string;
}

const NIL = -1;

/** Internal tier: `node` is linked where its own links say (Linux's __list_del_entry_valid); an InvariantError naming `op` otherwise. */
function checkLinked(words: Int32Array, at: number, links: IndexLinks, node: number, op: string): void {
  const after = links.next[node] as number;
  const before = links.prev[node] as number;
  if ((before === NIL ? words[at] : links.next[before]) !== node || (after === NIL ? words[at + 1] : links.prev[after]) !== node) {
    throw new InvariantError(`${links.name} ${op}: node ${node} is not linked where its links say (prev ${before}, next ${after}); expected a node on this list`);
  }
}

/** Links `node` at the head (or, with `toTail`, the tail) of the list whose [head, tail, count] start at words[at]. */
export function indexListAdd(words: Int32Array, at: number, links: IndexLinks, node: number, toTail: boolean): void {
  const { next, prev } = links;
  const head = words[at] as number;
  if (head === NIL) {
    next[node] = NIL;
    prev[node] = NIL;
    words[at] = node;
    words[at + 1] = node;
  } else if (toTail) {
    const tail = words[at + 1] as number;
    next[node] = NIL;
    prev[node] = tail;
    next[tail] = node;
    words[at + 1] = node;
  } else {
    next[node] = head;
    prev[node] = NIL;
    prev[head] = node;
    words[at] = node;
  }
  words[at + 2] = (words[at + 2] as number) + 1;
}

/** Unlinks `node` from the list whose [head, tail, count] start at words[at]; its links are left as they were. */
export function indexListDel(words: Int32Array, at: number, links: IndexLinks, node: number): void {
  checkLinked(words, at, links, node, 'del');
  const { next, prev } = links;
  const after = next[node] as number;
  const before = prev[node] as number;
  if (before === NIL) words[at] = after;
  else next[before] = after;
  if (after === NIL) words[at + 1] = before;
  else prev[after] = before;
  words[at + 2] = (words[at + 2] as number) - 1;
}

/** Puts `replacement` in `node`'s place on the list whose [head, tail, count] start at words[at] (Linux's list_replace); `node`'s links are left as they were. */
export function indexListReplace(words: Int32Array, at: number, links: IndexLinks, node: number, replacement: number): void {
  checkLinked(words, at, links, node, 'replace');
  const { next, prev } = links;
  const after = next[node] as number;
  const before = prev[node] as number;
  prev[replacement] = before;
  next[replacement] = after;
  if (before === NIL) words[at] = replacement;
  else next[before] = replacement;
  if (after === NIL) words[at + 1] = replacement;
  else prev[after] = replacement;
}
