/**
 * kfree_rcu() batching, as Linux's kvfree_rcu bulk path (kernel/rcu/tree.c, "kvfree_rcu_bulk_data"):
 * the addresses to free are collected in page-sized blocks, one chain per CPU and flavour, so that
 * a grace period frees a thousand objects at once instead of running a callback per object. A block
 * is a page from the page allocator (types.ts, KB_*); the open block (cookie 0) fills until it is
 * full or the next poll closes it with a grace-period cookie; blocks are reclaimed oldest first once
 * their grace period has ended: each address kfree()d, then the page freed.
 *
 * The chain is in the arena (the CPU line's KC_* words) and touched by its CPU alone, or by the CPU
 * that offlines it (adopt()), so it needs no lock and survives its worker.
 */
import { GFP } from '../mm/gfp.ts';
import { PAGE_SHIFT } from '../machine/ram.ts';
import { InvariantError } from '../util/errors.ts';
import type { SyncDomain } from './domain.ts';
import { KB_COOKIE, KB_COUNT, KB_HEADER_WORDS, KB_KIND, KB_NEXT, KC_BYTES, KC_HEAD, KC_OBJECTS, KC_TAIL, KFREE_BLOCK_SLOTS, KfreeKind } from './types.ts';

export interface KfreePending {
  /** Entries waiting: objects, and page blocks (freePagesRcu). */
  objects: number;
  bytes: number;
}

export class KfreeBatcher {
  private readonly w: Int32Array;
  private readonly chain: number;

  constructor(
    private readonly domain: SyncDomain,
    /** CPU-line offset of this flavour's chain (CPU_KFREE_QSBR or CPU_KFREE_EPOCH). */
    private readonly chainField: number,
  ) {
    this.w = domain.w;
    this.chain = domain.cpuWord(domain.cpu, chainField);
  }

  /**
   * Queues `entry` (of `bytes`) to be freed after a grace period: an object address to kfree(), or
   * (kind Pages) a page block pfn | order << 24. `startGp` closes a block that is full, or an open
   * block of the other kind.
   */
  add(entry: number, bytes: number, startGp: () => number, kind: number = KfreeKind.Objects): void {
    const w = this.w;
    let tail = w[this.chain + KC_TAIL] as number;
    if (tail !== 0 && w[tail + KB_COOKIE] === 0 && w[tail + KB_KIND] !== kind) w[tail + KB_COOKIE] = startGp();
    if (tail === 0 || w[tail + KB_COOKIE] !== 0) tail = this.newBlock(kind);
    const count = w[tail + KB_COUNT] as number;
    w[tail + KB_HEADER_WORDS + count] = entry;
    w[tail + KB_COUNT] = count + 1;
    w[this.chain + KC_OBJECTS] = (w[this.chain + KC_OBJECTS] as number) + 1;
    w[this.chain + KC_BYTES] = (w[this.chain + KC_BYTES] as number) + bytes;
    if (count + 1 === KFREE_BLOCK_SLOTS) w[tail + KB_COOKIE] = startGp();
  }

  /** Word index of a new, empty, open block of `kind` appended to the chain. */
  private newBlock(kind: number): number {
    const pfn = this.domain.kernel.pages.allocPages(0, GFP.KERNEL);
    if (pfn === null) throw new InvariantError('kfree_rcu: the page allocator returned null without GFP.NORETRY');
    const block = (pfn << PAGE_SHIFT) / 4;
    const w = this.w;
    w[block + KB_NEXT] = 0;
    w[block + KB_COUNT] = 0;
    w[block + KB_COOKIE] = 0;
    w[block + KB_KIND] = kind;
    const tail = w[this.chain + KC_TAIL] as number;
    if (tail === 0) w[this.chain + KC_HEAD] = block;
    else w[tail + KB_NEXT] = block;
    w[this.chain + KC_TAIL] = block;
    return block;
  }

  /** Whether the newest block is open with objects in it (a poll should close it). */
  get hasOpen(): boolean {
    const tail = this.w[this.chain + KC_TAIL] as number;
    return tail !== 0 && this.w[tail + KB_COOKIE] === 0 && (this.w[tail + KB_COUNT] as number) > 0;
  }

  /** Closes the open block with `cookie`. */
  close(cookie: number): void {
    if (this.hasOpen) this.w[(this.w[this.chain + KC_TAIL] as number) + KB_COOKIE] = cookie;
  }

  /** The oldest closed block's cookie, or 0 when none waits. */
  get oldestCookie(): number {
    const head = this.w[this.chain + KC_HEAD] as number;
    return head === 0 ? 0 : (this.w[head + KB_COOKIE] as number);
  }

  /** Frees every block whose grace period has ended, oldest first; returns the objects freed. */
  reclaim(done: (cookie: number) => boolean): number {
    const w = this.w;
    let freed = 0;
    for (let guard = 0; guard < 1 << 20; guard++) {
      const head = w[this.chain + KC_HEAD] as number;
      if (head === 0) break;
      const cookie = w[head + KB_COOKIE] as number;
      if (cookie === 0 || !done(cookie)) break;
      const count = w[head + KB_COUNT] as number;
      const pages = w[head + KB_KIND] === KfreeKind.Pages;
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const entry = (w[head + KB_HEADER_WORDS + i] as number) >>> 0;
        if (pages) {
          const order = entry >>> 24;
          bytes += 4096 << order;
          this.domain.kernel.pages.freePages(entry & 0xffffff, order);
        } else {
          bytes += this.domain.kernel.ksize(entry);
          this.domain.kernel.kfree(entry);
        }
      }
      const next = w[head + KB_NEXT] as number;
      w[this.chain + KC_HEAD] = next;
      if (next === 0) w[this.chain + KC_TAIL] = 0;
      w[this.chain + KC_OBJECTS] = (w[this.chain + KC_OBJECTS] as number) - count;
      w[this.chain + KC_BYTES] = (w[this.chain + KC_BYTES] as number) - bytes;
      this.domain.kernel.pages.freePages((head * 4) >>> PAGE_SHIFT, 0);
      freed += count;
    }
    return freed;
  }

  /** Appends CPU `cpu`'s chain (it is offline) to this CPU's, closing its open block with `cookie`. */
  adopt(cpu: number, cookie: number): number {
    const w = this.w;
    const theirs = this.domain.cpuWord(cpu, this.chainField);
    const head = w[theirs + KC_HEAD] as number;
    if (head === 0) return 0;
    const tail = w[theirs + KC_TAIL] as number;
    if (w[tail + KB_COOKIE] === 0) w[tail + KB_COOKIE] = cookie;
    const myTail = w[this.chain + KC_TAIL] as number;
    if (myTail !== 0 && w[myTail + KB_COOKIE] === 0) w[myTail + KB_COOKIE] = cookie;
    if (myTail === 0) w[this.chain + KC_HEAD] = head;
    else w[myTail + KB_NEXT] = head;
    w[this.chain + KC_TAIL] = tail;
    const objects = w[theirs + KC_OBJECTS] as number;
    w[this.chain + KC_OBJECTS] = (w[this.chain + KC_OBJECTS] as number) + objects;
    w[this.chain + KC_BYTES] = (w[this.chain + KC_BYTES] as number) + (w[theirs + KC_BYTES] as number);
    w.fill(0, theirs, theirs + 4);
    return objects;
  }

  /** What waits for a grace period in every CPU's chain of this flavour (reads other CPUs' lines racily). */
  pendingAll(): KfreePending {
    const out: KfreePending = { objects: 0, bytes: 0 };
    for (let c = 0; c < this.domain.cpus; c++) {
      const chain = this.domain.cpuWord(c, this.chainField);
      out.objects += Atomics.load(this.w, chain + KC_OBJECTS);
      out.bytes += Atomics.load(this.w, chain + KC_BYTES) >>> 0;
    }
    return out;
  }
}
