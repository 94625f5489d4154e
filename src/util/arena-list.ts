/**
 * Intrusive doubly-linked lists kept in an arena's 32-bit words (Linux's struct list_head, with
 * the links in typed-array words instead of pointers). The slab allocator's partial, full and
 * empty slab lists are such lists of slab descriptors.
 *
 * A list is two words of the caller's: its head (the first node, 0 when empty) and its length. A
 * node is a nonzero byte address, a multiple of 4, read as unsigned (nodes may lie above 2 GiB);
 * its links are the words node / 4 + links.next and node / 4 + links.prev, 0 ending the list. A node
 * on no list has both links poisoned, as Linux's list_del() leaves them (LIST_POISON1 = 0x100,
 * LIST_POISON2 = 0x122, include/linux/poison.h without POISON_POINTER_DELTA): page 0 of the arena
 * is reserved, so no node has those addresses.
 *
 * Assertion tiers (the page allocator's, src/mm/types.ts, use the same three):
 *   cheap, always on     arguments: a node is a nonzero multiple of 4 (one test)
 *   internal, always on  link integrity, in the loads the operation makes anyway (Linux's
 *                        CONFIG_LIST_HARDENED checks in __list_add_valid / __list_del_entry_valid):
 *                        a node goes on a list only with poisoned links (it is on no list), and
 *                        comes off only if its neighbours (or the head) point at it
 *   expensive, opt-in    listCheck(): the whole list walked, bounded by `maxNodes`: every prev link
 *                        points back, no cycle, the length word matches; callers run it after each
 *                        change when their debug flag is set, and validate() walks with listWalk()
 * Every failure is an InvariantError naming the list, the node and what was expected, raised
 * before any word changes.
 *
 * Locking: none here; the caller holds whatever lock guards the list's words.
 */
import { InvariantError } from './errors.ts';

/** Word offsets of a node's links from the node's first word. */
export interface ListLinks {
  readonly next: number;
  readonly prev: number;
  /** Names the list in error messages. */
  readonly name: string;
}

export const LIST_POISON_NEXT = 0x100;
export const LIST_POISON_PREV = 0x122;

function fail(links: ListLinks, op: string, node: number, message: string): never {
  throw new InvariantError(`${links.name} ${op}: node 0x${(node >>> 0).toString(16)} ${message}`);
}

/** Cheap tier: a node is a nonzero byte address, a multiple of 4. */
function checkNode(links: ListLinks, op: string, node: number): void {
  if (node === 0 || (node & 3) !== 0) fail(links, op, node, 'is not a node address (nonzero, a multiple of 4)');
}

/** Poisons a new node's links: it is on no list (call before its first listAdd). */
export function listNodeInit(w: Int32Array, node: number, links: ListLinks): void {
  checkNode(links, 'init', node);
  const at = node >>> 2;
  w[at + links.next] = LIST_POISON_NEXT;
  w[at + links.prev] = LIST_POISON_PREV;
}

/** Adds `node` at the head of the list whose head and length are the words `head` and `length`. */
export function listAdd(w: Int32Array, head: number, length: number, node: number, links: ListLinks): void {
  checkNode(links, 'add', node);
  const at = node >>> 2;
  // Internal tier: only a node on no list goes on one.
  if (w[at + links.next] !== LIST_POISON_NEXT || w[at + links.prev] !== LIST_POISON_PREV) fail(links, 'add', node, 'is already on a list (its links are not poisoned)');
  const first = w[head] as number;
  w[at + links.next] = first;
  w[at + links.prev] = 0;
  if (first !== 0) w[(first >>> 2) + links.prev] = node;
  w[head] = node;
  w[length] = (w[length] as number) + 1;
}

/** Takes `node` off the list whose head and length are the words `head` and `length`; poisons its links. */
export function listDel(w: Int32Array, head: number, length: number, node: number, links: ListLinks): void {
  checkNode(links, 'del', node);
  const at = node >>> 2;
  const next = w[at + links.next] as number;
  const prev = w[at + links.prev] as number;
  // Internal tier: the neighbours must point at the node (else it is on another list, or none).
  if (next === LIST_POISON_NEXT || prev === LIST_POISON_PREV) fail(links, 'del', node, 'is on no list (its links are poisoned)');
  if ((((prev === 0 ? w[head] : w[(prev >>> 2) + links.next]) as number) >>> 0) !== node >>> 0) fail(links, 'del', node, `is not linked from ${prev === 0 ? 'the head' : `its prev 0x${(prev >>> 0).toString(16)}`}`);
  if (next !== 0 && (w[(next >>> 2) + links.prev] as number) >>> 0 !== node >>> 0) fail(links, 'del', node, `is not linked back from its next 0x${(next >>> 0).toString(16)}`);
  if ((w[length] as number) <= 0) fail(links, 'del', node, `is listed but the length word says ${w[length]}`);
  if (prev === 0) w[head] = next;
  else w[(prev >>> 2) + links.next] = next;
  if (next !== 0) w[(next >>> 2) + links.prev] = prev;
  w[at + links.next] = LIST_POISON_NEXT;
  w[at + links.prev] = LIST_POISON_PREV;
  w[length] = (w[length] as number) - 1;
}

/**
 * Walks the list from the word `head`, calling `visit` with each node (as an unsigned address),
 * checking every prev link and stopping with an error after `maxNodes` nodes (a cycle). Returns
 * the nodes walked.
 */
export function listWalk(w: Int32Array, head: number, links: ListLinks, maxNodes: number, visit?: (node: number) => void): number {
  let walked = 0;
  let prev = 0;
  for (let node = (w[head] as number) >>> 0; node !== 0; node = (w[(node >>> 2) + links.next] as number) >>> 0) {
    if (walked >= maxNodes) fail(links, 'walk', node, `is past the ${maxNodes} nodes the list can hold (a cycle?)`);
    checkNode(links, 'walk', node);
    if ((w[(node >>> 2) + links.prev] as number) >>> 0 !== prev) fail(links, 'walk', node, `has prev 0x${((w[(node >>> 2) + links.prev] as number) >>> 0).toString(16)}, expected 0x${prev.toString(16)}`);
    visit?.(node);
    prev = node;
    walked++;
  }
  return walked;
}

/** Expensive tier: the whole list is well linked and as long as its length word says. */
export function listCheck(w: Int32Array, head: number, length: number, links: ListLinks, maxNodes: number): void {
  const walked = listWalk(w, head, links, maxNodes);
  if (walked !== w[length]) fail(links, 'check', (w[head] as number) >>> 0, `heads a list of ${walked} nodes, but the length word says ${w[length]}`);
}
