/**
 * The flash translation layer's view of the chip's blocks: what each holds and where it stands, the
 * pool of erased blocks, and the indexes the victim policies search. Shared by the page-mapped store
 * (ftl.ts) and the object store (object-store.ts); "units" are what a block's valid count counts
 * (pages for the former, 8-byte granules for the latter).
 *
 * Each block is in one state:
 *   Free     erased, in the free pool
 *   Open     a write frontier, or a victim being cleaned
 *   Closed   full (or closed at mount), holding data: a candidate victim
 *   Bad      retired (its erase failed)
 *
 * Indexes, host-side typed arrays (this is controller RAM, not the chip):
 *   closed set   closedList[0..nrClosed) with closedPos[b]: O(1) add, remove and uniform sampling
 *   age list     the closed blocks in the order they closed, doubly linked (FIFO's order)
 *   buckets      (when a policy needs them) one doubly-linked list per valid count, and a pointer to
 *                the lowest non-empty one: greedy's O(1) victim (Desnoyers' bins, runsim_greedy.c)
 *   oldest       (when a policy needs them) per bucket, the block with the least `youngest` or the
 *                least `mtime`, kept lazily: a push that undercuts it takes its place, and when it
 *                leaves the bucket (or its mtime moves) the bucket is marked unknown and the next
 *                query walks that one list. Both cost-benefit scores fall as that time rises at a
 *                fixed valid count, so the best block of a bucket is its oldest, and a policy
 *                scores Np + 1 buckets instead of every closed block (LFS's segment usage table,
 *                grouped by utilisation)
 *   free pool    a FIFO ring (blocks are reused in the order they were erased: round-robin wear), or
 *                a min-heap on erase count (dynamic wear levelling: the least-worn block first)
 * Per block: valid units, the stream that wrote it, when it closed, the youngest data it holds (LFS's
 * segment age) and F2FS's running-average mtime.
 *
 * Invariants (validate()): every block is in exactly the structures its state implies; the closed
 * set, age list and buckets hold exactly the Closed blocks; bucket v holds the Closed blocks with v
 * valid units; oldest[v] is NONE (unknown) or a block of bucket v whose time is the bucket's least;
 * the free pool holds exactly the Free blocks; 0 ≤ valid ≤ unitsPerBlock.
 */
import { ArgumentError, InvariantError } from '../util/errors.ts';
import { MinHeap } from '../util/min-heap.ts';

export const BlockState = { Free: 0, Open: 1, Closed: 2, Bad: 3 } as const;
/** BlockState.Closed as a module constant, for the write path: a property of BlockState is a load
 * and a check in optimised code, a constant folds away (so do the `=== true` tests of boolean
 * fields there, where a bare test is a full ToBoolean). */
const CLOSED = BlockState.Closed;
export type BlockState = (typeof BlockState)[keyof typeof BlockState];
const BLOCK_STATE_NAMES: readonly string[] = ['free', 'open', 'closed', 'bad'];

/** How the free pool hands out erased blocks. */
export type FreeBlockOrder = 'fifo' | 'least-worn';
export const FREE_BLOCK_ORDERS: readonly FreeBlockOrder[] = ['fifo', 'least-worn'];

const NONE = -1;

/** A per-block time a bucket's oldest block is kept by: LFS's youngest data, or F2FS's mtime. */
export type BucketTime = 'youngest' | 'mtime';

export interface BlockTableOptions {
  blocks: number;
  unitsPerBlock: number;
  freeOrder: FreeBlockOrder;
  /** Keep the per-valid-count buckets (greedy needs them). */
  buckets: boolean;
  /** Keep each bucket's oldest block by these per-block times (the cost-benefit policies; implies buckets). */
  oldestBy?: readonly BucketTime[];
  /** The chip's erase counters (read only). */
  eraseCounts: Uint32Array;
}

export class BlockTable {
  readonly blocks: number;
  readonly unitsPerBlock: number;
  readonly freeOrder: FreeBlockOrder;
  readonly state: Uint8Array;
  readonly valid: Int32Array;
  readonly stream: Uint8Array;
  readonly closedAt: Float64Array;
  /** LFS: the most recent time any data now in the block was written by the host. */
  readonly youngest: Float64Array;
  /** F2FS: the running average of its data's write times, weighted by valid units (update_segment_mtime). */
  readonly mtime: Float64Array;
  readonly closedList: Int32Array;
  nrClosed = 0;
  nrFree = 0;
  nrBad = 0;
  /** The oldest closed block, NONE when there is none. */
  ageHead = NONE;
  private ageTail = NONE;
  private readonly closedPos: Int32Array;
  private readonly ageNext: Int32Array;
  private readonly agePrev: Int32Array;
  private readonly bucketed: boolean;
  private readonly bucketHead: Int32Array;
  private readonly bucketNext: Int32Array;
  private readonly bucketPrev: Int32Array;
  private minBucket = 0;
  /** Per BucketTime kept: the times and each bucket's oldest block (NONE: unknown, or the bucket is empty). */
  private readonly oldest: { time: Float64Array; block: Int32Array }[];
  private readonly oldestByYoungest: Int32Array | null;
  private readonly oldestByMtime: Int32Array | null;
  /** Whether either of the two is kept. */
  private readonly oldestKept: boolean;
  private readonly freeRing: Int32Array;
  private freeHead = 0;
  private readonly freeHeap: MinHeap | null;
  private readonly eraseCounts: Uint32Array;

  constructor(options: BlockTableOptions) {
    const B = options.blocks;
    if (!Number.isInteger(options.unitsPerBlock) || options.unitsPerBlock < 1) {
      throw new ArgumentError(`units per block ${options.unitsPerBlock}: expected a positive integer`);
    }
    this.blocks = B;
    this.unitsPerBlock = options.unitsPerBlock;
    this.freeOrder = options.freeOrder;
    this.eraseCounts = options.eraseCounts;
    this.state = new Uint8Array(B).fill(BlockState.Open);
    this.valid = new Int32Array(B);
    this.stream = new Uint8Array(B);
    this.closedAt = new Float64Array(B);
    this.youngest = new Float64Array(B);
    this.mtime = new Float64Array(B);
    this.closedList = new Int32Array(B);
    this.closedPos = new Int32Array(B).fill(NONE);
    this.ageNext = new Int32Array(B).fill(NONE);
    this.agePrev = new Int32Array(B).fill(NONE);
    const oldestBy = [...new Set(options.oldestBy ?? [])];
    this.bucketed = options.buckets || oldestBy.length > 0;
    this.bucketHead = new Int32Array(this.bucketed ? options.unitsPerBlock + 1 : 0).fill(NONE);
    this.bucketNext = new Int32Array(this.bucketed ? B : 0).fill(NONE);
    this.bucketPrev = new Int32Array(this.bucketed ? B : 0).fill(NONE);
    const oldestArray = (by: BucketTime): Int32Array | null => (oldestBy.includes(by) ? new Int32Array(options.unitsPerBlock + 1).fill(NONE) : null);
    this.oldestByYoungest = oldestArray('youngest');
    this.oldestByMtime = oldestArray('mtime');
    this.oldestKept = this.oldestByYoungest !== null || this.oldestByMtime !== null;
    this.oldest = [];
    if (this.oldestByYoungest !== null) this.oldest.push({ time: this.youngest, block: this.oldestByYoungest });
    if (this.oldestByMtime !== null) this.oldest.push({ time: this.mtime, block: this.oldestByMtime });
    this.freeRing = new Int32Array(options.freeOrder === 'fifo' ? B : 0);
    this.freeHeap = options.freeOrder === 'least-worn' ? new MinHeap(B) : null;
  }

  /** Puts an erased block in the free pool. */
  addFree(b: number): void {
    this.state[b] = BlockState.Free;
    this.valid[b] = 0;
    if (this.freeHeap !== null) this.freeHeap.push(this.eraseCounts[b] as number, b);
    else this.freeRing[(this.freeHead + this.nrFree) % this.blocks] = b;
    this.nrFree++;
  }

  /** Takes a block from the free pool (it becomes Open), or NONE when the pool is empty. */
  takeFree(): number {
    if (this.nrFree === 0) return NONE;
    let b: number;
    if (this.freeHeap !== null) {
      b = this.freeHeap.pop();
    } else {
      b = this.freeRing[this.freeHead] as number;
      this.freeHead = this.freeHead + 1 === this.blocks ? 0 : this.freeHead + 1;
    }
    return this.opened(b);
  }

  /** Takes the most-erased block from the free pool (it becomes Open), or NONE when it is empty: where
   * static wear levelling puts cold data. An O(free blocks) scan. */
  takeMostWornFree(): number {
    if (this.nrFree === 0) return NONE;
    let b: number;
    if (this.freeHeap !== null) {
      b = this.freeHeap.popMax();
    } else {
      let best = this.freeHead;
      for (let i = 1; i < this.nrFree; i++) {
        const at = (this.freeHead + i) % this.blocks;
        if ((this.eraseCounts[this.freeRing[at] as number] as number) > (this.eraseCounts[this.freeRing[best] as number] as number)) best = at;
      }
      b = this.freeRing[best] as number;
      this.freeRing[best] = this.freeRing[this.freeHead] as number;
      this.freeHead = this.freeHead + 1 === this.blocks ? 0 : this.freeHead + 1;
    }
    return this.opened(b);
  }

  /** Block b, just taken from the free pool, is Open and empty. */
  private opened(b: number): number {
    this.nrFree--;
    this.state[b] = BlockState.Open;
    this.valid[b] = 0;
    this.youngest[b] = 0;
    this.mtime[b] = 0;
    return b;
  }

  retire(b: number): void {
    this.state[b] = BlockState.Bad;
    this.valid[b] = 0;
    this.nrBad++;
  }

  /** An Open block becomes Closed: a candidate victim. */
  close(b: number, clock: number): void {
    this.state[b] = BlockState.Closed;
    this.closedAt[b] = clock;
    this.closedPos[b] = this.nrClosed;
    this.closedList[this.nrClosed++] = b;
    this.agePrev[b] = this.ageTail;
    this.ageNext[b] = NONE;
    if (this.ageTail === NONE) this.ageHead = b;
    else this.ageNext[this.ageTail] = b;
    this.ageTail = b;
    if (this.bucketed) this.bucketPush(b, this.valid[b] as number);
  }

  /** A Closed block chosen as a victim leaves every index and becomes Open until it is erased. */
  open(b: number): void {
    const pos = this.closedPos[b] as number;
    const last = this.closedList[--this.nrClosed] as number;
    this.closedList[pos] = last;
    this.closedPos[last] = pos;
    this.closedPos[b] = NONE;
    const prev = this.agePrev[b] as number;
    const next = this.ageNext[b] as number;
    if (prev === NONE) this.ageHead = next;
    else this.ageNext[prev] = next;
    if (next === NONE) this.ageTail = prev;
    else this.agePrev[next] = prev;
    if (this.bucketed) this.bucketUnlink(b, this.valid[b] as number);
    this.state[b] = BlockState.Open;
  }

  /** Moves a Closed block to the young end of the age list (FIFO passing over a block it cannot clean). */
  requeue(b: number, clock: number): void {
    this.open(b);
    this.close(b, clock);
  }

  /** One unit of block `b` became invalid (invalidateUnits(b, 1), written out for the write path). */
  invalidate(b: number): void {
    const v = (this.valid[b] as number) - 1;
    if (this.bucketed === true && this.state[b] === CLOSED) this.bucketDown(b, v);
    this.valid[b] = v;
  }

  /** `units` units of block `b` became invalid. */
  invalidateUnits(b: number, units: number): void {
    const v = (this.valid[b] as number) - units;
    if (this.bucketed === true && this.state[b] === CLOSED) {
      this.bucketUnlink(b, v + units);
      this.bucketPush(b, v);
    }
    this.valid[b] = v;
  }

  /** F2FS's update_segment_mtime() for a new block address: `units` units just counted valid in block
   * b were written at time t; the block's mtime is the running average of its write times, weighted
   * by valid units: ⌊(mtime·v + t·units) / (v + units)⌋ (div_u64), v the valid units before (t alone
   * when none). */
  addMtime(b: number, t: number, units: number): void {
    const before = (this.valid[b] as number) - units;
    const m = this.mtime;
    if (before <= 0) m[b] = t;
    else if (units === 1) m[b] = BlockTable.averageInOne(m[b] as number, before, t);
    else m[b] = Math.floor(((m[b] as number) * before + t * units) / (before + units));
  }

  /** addMtime(b, t + i, 1) for i = 0..units-1 in turn (units written one at a time, a tick apart, as
   * GC's copies of a run), all of them already counted in b's valid units. */
  addMtimeEach(b: number, t: number, units: number): void {
    let before = (this.valid[b] as number) - units;
    let m = this.mtime[b] as number;
    for (let i = 0; i < units; i++, before++) m = before <= 0 ? t + i : BlockTable.averageInOne(m, before, t + i);
    this.mtime[b] = m;
  }

  /**
   * ⌊(m·before + t) / (before + 1)⌋, the average of `before` units at time m and one at t, written
   * m + ⌊(t − m) / (before + 1)⌋ (m is a whole number: every mtime is a floor or a time), so that
   * when 0 ≤ t − m ≤ before the quotient is 0 and no division runs: GC's copies into a fresh
   * frontier, a tick apart, leave its mtime at the first copy's time. Both forms are exact, and so
   * equal, while m·before + t < 2^53 (a double holds every integer there, and a quotient of two of
   * them never rounds across a whole number).
   */
  private static averageInOne(m: number, before: number, t: number): number {
    const d = t - m;
    return d >= 0 && d <= before ? m : m + Math.floor(d / (before + 1));
  }

  /** F2FS's update_segment_mtime() for the old block address of an overwrite or a delete (not GC),
   * called before `units` of block b's valid units stop being valid at time t: the average moves
   * towards t as if t were written, ⌊(mtime·v + t·units) / (v + units)⌋, v the valid units now, so a
   * block whose data is still being updated looks young. */
  touchMtime(b: number, t: number, units: number): void {
    const v = this.valid[b] as number;
    const m = this.mtime;
    m[b] = v <= 0 ? t : Math.floor(((m[b] as number) * v + t * units) / (v + units));
    const oldest = this.oldestByMtime;
    if (oldest !== null && this.state[b] === BlockState.Closed && oldest[v] === b) oldest[v] = NONE;
  }

  /** The Closed block with the fewest valid units (greedy), or NONE. Needs buckets. */
  fewestValid(): number {
    return this.nrClosed === 0 ? NONE : (this.bucketHead[this.lowestBucket()] as number);
  }

  /** The fewest valid units of any Closed block (the lowest non-empty bucket; the buckets below it
   * hold nothing, so a search over buckets starts there), unitsPerBlock + 1 when none is Closed.
   * Needs buckets. */
  lowestBucket(): number {
    if (this.nrClosed === 0) return this.unitsPerBlock + 1;
    const heads = this.bucketHead;
    let m = this.minBucket;
    while ((heads[m] as number) === NONE) m++;
    this.minBucket = m;
    return m;
  }

  /** Block b's position in closedList (the order a scan of every closed block meets them), -1 when it
   * is not Closed. */
  closedIndex(b: number): number {
    return this.closedPos[b] as number;
  }

  /** Whether the table keeps each bucket's oldest block by `by` (oldestIn answers). */
  keepsOldest(by: BucketTime): boolean {
    return (by === 'youngest' ? this.oldestByYoungest : this.oldestByMtime) !== null;
  }

  /**
   * The Closed block with `valid` valid units whose `by` time is least (among equal times, one of
   * them, deterministically), or NONE when there is none. Needs oldestBy to include `by`. O(1) when known,
   * else one walk of the bucket.
   */
  oldestIn(valid: number, by: BucketTime): number {
    const oldest = by === 'youngest' ? this.oldestByYoungest : this.oldestByMtime;
    if (oldest === null) throw new ArgumentError(`the block table keeps no oldest block by ${by}`);
    const known = oldest[valid] as number;
    if (known !== NONE || this.bucketHead[valid] === NONE) return known;
    const time = by === 'youngest' ? this.youngest : this.mtime;
    let best = NONE;
    let bestTime = Infinity;
    for (let b = this.bucketHead[valid] as number; b !== NONE; b = this.bucketNext[b] as number) {
      const t = time[b] as number;
      if (t < bestTime) {
        bestTime = t;
        best = b;
      }
    }
    oldest[valid] = best;
    return best;
  }

  /** The number of Closed blocks per valid count (the distribution greedy and cost-benefit see). */
  validHistogram(): number[] {
    const hist = new Array<number>(this.unitsPerBlock + 1).fill(0);
    for (let i = 0; i < this.nrClosed; i++) hist[this.valid[this.closedList[i] as number] as number]!++;
    return hist;
  }

  validate(): void {
    const fail = (message: string): never => {
      throw new InvariantError(`block table: ${message}`);
    };
    let free = 0;
    let closed = 0;
    let bad = 0;
    for (let b = 0; b < this.blocks; b++) {
      const s = this.state[b] as number;
      const v = this.valid[b] as number;
      if (v < 0 || v > this.unitsPerBlock) fail(`block ${b} has ${v} valid units, expected 0..${this.unitsPerBlock}`);
      if (s === BlockState.Free) free++;
      else if (s === BlockState.Closed) closed++;
      else if (s === BlockState.Bad) bad++;
      else if (s !== BlockState.Open) fail(`block ${b} has unknown state ${s}`);
      if ((s === BlockState.Free || s === BlockState.Bad) && v !== 0) fail(`${BLOCK_STATE_NAMES[s]} block ${b} has ${v} valid units`);
      if ((s === BlockState.Closed) !== (this.closedPos[b] !== NONE)) fail(`block ${b} (${BLOCK_STATE_NAMES[s]}) closed-set membership is wrong`);
    }
    if (free !== this.nrFree) fail(`${free} free blocks, the pool counts ${this.nrFree}`);
    if (closed !== this.nrClosed) fail(`${closed} closed blocks, the closed set counts ${this.nrClosed}`);
    if (bad !== this.nrBad) fail(`${bad} bad blocks, counted ${this.nrBad}`);
    for (let i = 0; i < this.nrClosed; i++) {
      const b = this.closedList[i] as number;
      if (this.closedPos[b] !== i) fail(`closed set position of block ${b} is ${this.closedPos[b]}, expected ${i}`);
    }
    let walked = 0;
    let prev = NONE;
    for (let b = this.ageHead; b !== NONE; b = this.ageNext[b] as number) {
      if (walked++ > this.nrClosed) fail('age list longer than the closed set (a cycle?)');
      if (this.state[b] !== BlockState.Closed) fail(`age list holds block ${b}, which is not closed`);
      if (this.agePrev[b] !== prev) fail(`age list back link of block ${b} is wrong`);
      if (prev !== NONE && (this.closedAt[prev] as number) > (this.closedAt[b] as number)) fail(`age list out of order at block ${b}`);
      prev = b;
    }
    if (walked !== this.nrClosed || prev !== this.ageTail) fail(`age list holds ${walked} blocks, expected ${this.nrClosed}`);
    if (this.bucketed) this.validateBuckets(fail);
    const seen = new Uint8Array(this.blocks);
    const pool = this.freeHeap !== null ? this.heapContents() : Array.from({ length: this.nrFree }, (_, i) => this.freeRing[(this.freeHead + i) % this.blocks] as number);
    for (const b of pool) {
      if (this.state[b] !== BlockState.Free) fail(`free pool holds block ${b}, which is ${BLOCK_STATE_NAMES[this.state[b] as number]}`);
      if (seen[b] === 1) fail(`free pool holds block ${b} twice`);
      seen[b] = 1;
    }
  }

  private validateBuckets(fail: (message: string) => never): void {
    let total = 0;
    for (let v = 0; v <= this.unitsPerBlock; v++) {
      let prev = NONE;
      for (let b = this.bucketHead[v] as number; b !== NONE; b = this.bucketNext[b] as number) {
        if (total++ > this.nrClosed) fail('buckets hold more blocks than the closed set (a cycle?)');
        if (this.state[b] !== BlockState.Closed || this.valid[b] !== v) fail(`bucket ${v} holds block ${b} (${this.valid[b]} valid, ${BLOCK_STATE_NAMES[this.state[b] as number]})`);
        if (this.bucketPrev[b] !== prev) fail(`bucket ${v}: back link of block ${b} is wrong`);
        if (v < this.minBucket) fail(`bucket ${v} is below the lowest-bucket pointer ${this.minBucket}`);
        prev = b;
      }
    }
    if (total !== this.nrClosed) fail(`buckets hold ${total} blocks, expected ${this.nrClosed}`);
    for (const { time, block } of this.oldest) {
      for (let v = 0; v <= this.unitsPerBlock; v++) {
        const o = block[v] as number;
        if (o === NONE) continue;
        if (this.state[o] !== BlockState.Closed || this.valid[o] !== v) fail(`bucket ${v}'s oldest block ${o} is not in it`);
        for (let b = this.bucketHead[v] as number; b !== NONE; b = this.bucketNext[b] as number) {
          if ((time[b] as number) < (time[o] as number)) fail(`bucket ${v}: block ${b} is older than its oldest block ${o}`);
        }
      }
    }
  }

  private heapContents(): number[] {
    const heap = this.freeHeap as MinHeap;
    const out: number[] = [];
    const keys: number[] = [];
    while (heap.size > 0) {
      keys.push(heap.peekKey());
      out.push(heap.pop());
    }
    out.forEach((b, i) => heap.push(keys[i] as number, b));
    return out;
  }

  /** The bucket moves run on every host write: small, so the write path inlines them, with the
   * oldest blocks' upkeep apart (only the cost-benefit policies keep them). */
  private bucketPush(b: number, v: number): void {
    const head = this.bucketHead[v] as number;
    if (this.oldestKept === true) this.offerOldest(b, v, head);
    this.bucketNext[b] = head;
    this.bucketPrev[b] = NONE;
    if (head !== NONE) this.bucketPrev[head] = b;
    this.bucketHead[v] = b;
    if (v < this.minBucket) this.minBucket = v;
  }

  /** Block b joins bucket v (whose head was `head`): for each kept time, it becomes the bucket's
   * oldest if the bucket was empty, or if the oldest is known and b is older. */
  private offerOldest(b: number, v: number, head: number): void {
    // Each kept time by name, not through this.oldest: this runs on every host write.
    const byYoungest = this.oldestByYoungest;
    if (byYoungest !== null) BlockTable.offerOldestBy(byYoungest, this.youngest, b, v, head);
    const byMtime = this.oldestByMtime;
    if (byMtime !== null) BlockTable.offerOldestBy(byMtime, this.mtime, b, v, head);
  }

  private static offerOldestBy(block: Int32Array, time: Float64Array, b: number, v: number, head: number): void {
    const o = block[v] as number;
    if (head === NONE || (o !== NONE && (time[b] as number) < (time[o] as number))) block[v] = b;
  }

  /** Block b leaves bucket v: where it was the oldest by a kept time, that becomes unknown. */
  private forgetOldest(b: number, v: number): void {
    const byYoungest = this.oldestByYoungest;
    if (byYoungest !== null && byYoungest[v] === b) byYoungest[v] = NONE;
    const byMtime = this.oldestByMtime;
    if (byMtime !== null && byMtime[v] === b) byMtime[v] = NONE;
  }

  /** bucketUnlink(b, v + 1) then bucketPush(b, v), fused: every host write moves one block down a
   * bucket, and this whole move fits the write path's inlining budget where the two calls do not
   * (V8 inlines by bytecode size). The oldest blocks' upkeep goes through the two calls. */
  private bucketDown(b: number, v: number): void {
    if (this.oldestKept === true) {
      this.bucketUnlink(b, v + 1);
      this.bucketPush(b, v);
      return;
    }
    const heads = this.bucketHead;
    const next = this.bucketNext;
    const prev = this.bucketPrev;
    // b as an int32 (it is one): stored into the lists without a float conversion.
    const block = b | 0;
    const after = next[block] as number;
    const before = prev[block] as number;
    if (before === NONE) heads[v + 1] = after;
    else next[before] = after;
    if (after !== NONE) prev[after] = before;
    const head = heads[v] as number;
    next[block] = head;
    prev[block] = NONE;
    if (head !== NONE) prev[head] = block;
    heads[v] = block;
    if (v < this.minBucket) this.minBucket = v;
  }

  private bucketUnlink(b: number, v: number): void {
    if (this.oldestKept === true) this.forgetOldest(b, v);
    const next = this.bucketNext[b] as number;
    const prev = this.bucketPrev[b] as number;
    if (prev === NONE) this.bucketHead[v] = next;
    else this.bucketNext[prev] = next;
    if (next !== NONE) this.bucketPrev[next] = prev;
  }
}
