/**
 * A read-mostly hash table in the arena, for the rcu scenario: `buckets` chains of `chain` nodes,
 * every node a kmalloc'd object. One updater replaces nodes (a copy with the next version is
 * published in its predecessor's link with one atomic store, then the old node is retired); readers
 * in other workers walk chains without locks and check every node they reach.
 *
 *   node (NODE_BYTES): [0] NODE_MAGIC  [1] key  [2] version  [3] check = mix(key, version)  [4] next
 *
 * A reader that reaches a node freed under it finds either the slab's poison (0x6b6b6b6b: the
 * object is free; slab_debug=P) or a node with another key (the object was already reused): both
 * are uses after free, counted apart. With RCU neither can happen.
 */
import type { Kernel } from '../../mm/kernel.ts';
import { InvariantError } from '../../util/errors.ts';

export const NODE_MAGIC = 0x4e4f4445; // 'NODE'
export const NODE_BYTES = 20;
/** Four bytes of free-object poison (Poison.FREE, include/linux/poison.h). */
export const POISON_WORD = 0x6b6b6b6b;
const N_MAGIC = 0;
const N_KEY = 1;
const N_VERSION = 2;
const N_CHECK = 3;
const N_NEXT = 4;

function mix(key: number, version: number): number {
  return Math.imul(key ^ 0x5bd1e995, 0x27d4eb2d) ^ version;
}

export interface ReadOutcome {
  nodes: number;
  /** What the reader's work with the nodes computed (kept so that the work is not optimised away). */
  useSum: number;
  poisonHits: number;
  reusedHits: number;
}

export class RcuTable {
  private readonly w: Int32Array;

  /** The table whose bucket array is at `headsPaddr` (built by create()). */
  constructor(
    private readonly kernel: Kernel,
    readonly headsPaddr: number,
    readonly buckets: number,
    readonly chain: number,
  ) {
    this.w = new Int32Array(kernel.ram.buffer);
  }

  static create(kernel: Kernel, buckets: number, chain: number): RcuTable {
    const heads = kernel.kzalloc(buckets * 4) as number;
    const table = new RcuTable(kernel, heads, buckets, chain);
    for (let b = 0; b < buckets; b++) {
      for (let i = chain - 1; i >= 0; i--) {
        const node = table.newNode(b * chain + i, 0, table.w[heads / 4 + b] as number);
        table.w[heads / 4 + b] = node;
      }
    }
    return table;
  }

  private newNode(key: number, version: number, next: number): number {
    const node = this.kernel.kmalloc(NODE_BYTES) as number;
    const n = node / 4;
    this.w[n + N_KEY] = key;
    this.w[n + N_VERSION] = version;
    this.w[n + N_CHECK] = mix(key, version);
    this.w[n + N_NEXT] = next;
    Atomics.store(this.w, n + N_MAGIC, NODE_MAGIC);
    return node;
  }

  /** Replaces node `index` of bucket `bucket` by a copy with the next version; returns the old node (to retire). */
  replace(bucket: number, index: number): number {
    let link = this.headsPaddr / 4 + bucket;
    for (let i = 0; i < index; i++) link = (this.w[link] as number) / 4 + N_NEXT;
    const old = this.w[link] as number;
    const o = old / 4;
    const copy = this.newNode(this.w[o + N_KEY] as number, (this.w[o + N_VERSION] as number) + 1, this.w[o + N_NEXT] as number);
    Atomics.store(this.w, link, copy);
    return old;
  }

  /**
   * Walks bucket `bucket`, checking every node; stops at the first one that is not a live node of
   * it. `useLoads` is the reader's work with each node it holds, between reaching it and checking it
   * (the longer a reader holds a node, the likelier an early free lands under it).
   */
  read(bucket: number, useLoads = 0): ReadOutcome {
    const w = this.w;
    const out: ReadOutcome = { nodes: 0, useSum: 0, poisonHits: 0, reusedHits: 0 };
    let p = Atomics.load(w, this.headsPaddr / 4 + bucket);
    for (let i = 0; i < this.chain && p !== 0; i++) {
      if (p === POISON_WORD) {
        out.poisonHits++;
        return out;
      }
      if ((p & 3) !== 0 || p >>> 0 >= w.byteLength) {
        out.reusedHits++;
        return out;
      }
      const n = p >>> 2;
      let use = 0;
      for (let k = 0; k < useLoads; k++) use += Atomics.load(w, n + N_VERSION);
      out.useSum += use;
      const magic = w[n + N_MAGIC] as number;
      const key = w[n + N_KEY] as number;
      const version = w[n + N_VERSION] as number;
      const check = w[n + N_CHECK] as number;
      if (magic === POISON_WORD || key === POISON_WORD || version === POISON_WORD || check === POISON_WORD) {
        out.poisonHits++;
        return out;
      }
      if (magic !== NODE_MAGIC || check !== mix(key, version) || key !== bucket * this.chain + i) {
        out.reusedHits++;
        return out;
      }
      out.nodes++;
      p = w[n + N_NEXT] as number;
    }
    return out;
  }

  /** Every chain has `chain` live nodes with the right keys (call with no updater running). */
  validate(): void {
    for (let b = 0; b < this.buckets; b++) {
      const r = this.read(b);
      if (r.nodes !== this.chain) throw new InvariantError(`rcu table bucket ${b}: ${r.nodes} good nodes of ${this.chain}`);
    }
  }

  /** Frees every node and the bucket array. */
  destroy(): void {
    for (let b = 0; b < this.buckets; b++) {
      let p = this.w[this.headsPaddr / 4 + b] as number;
      while (p !== 0) {
        const next = this.w[p / 4 + N_NEXT] as number;
        this.kernel.kfree(p);
        p = next;
      }
    }
    this.kernel.kfree(this.headsPaddr);
  }
}
