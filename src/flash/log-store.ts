/**
 * What every log-structured store on the NAND chip shares: write frontiers (streams), the block
 * table, garbage collection between free-block watermarks, wear levelling, and the block-level half
 * of mounting. The page-mapped store (ftl.ts) and the object store (object-store.ts) extend it; each
 * says how to copy a victim's live data (cleanBlock) and how much room a frontier has (roomUnits).
 *
 * Streams: host streams 0..hostStreams-1 (temperature classes: a write names its class), then, with
 * gcFrontier 'separate', one stream for GC copies (MQSim's GC write frontier; F2FS sends cleaned data
 * to its cold logs), then, with static wear levelling, one for the cold data it moves (opened when
 * first needed). With 'shared' a victim's live data rejoins the frontier of the stream that wrote
 * the victim: with one host stream that is Desnoyers' single log, the model the analytic
 * write-amplification results describe. A full frontier is replaced from the free pool when its
 * stream next programs.
 *
 * Garbage collection (the collecting flag keeps it from re-entering):
 *   foreground  when a frontier is opened, while free blocks < lowWatermark, clean a victim chosen
 *               by `policy` (F2FS: greedy in the foreground)
 *   background  idle(): while free blocks < highWatermark, clean a victim chosen by
 *               `backgroundPolicy` (F2FS: cost-benefit in the background)
 *   cleaning    the victim leaves the indexes, its live data is copied to the GC target frontier, it
 *               is erased and returns to the free pool (or is retired when its erase fails)
 *   a victim whose units are all valid frees nothing: it is passed over (FIFO moves it to the young
 *   end of its list, as a circular log would); if every candidate is full, FlashFullError
 *   a frontier that fills is closed; its stream opens the next one (and GC runs then if free blocks
 *   are short) when it next programs, so FlashFullError comes before a write is stored
 *   dynamic wear levelling  freeBlockOrder 'least-worn': the free pool hands out the least-erased block
 *   static wear levelling   after an erase, when (most erased − least erased closed block) ≥ the
 *               threshold T, that closed block (cold data) is cleaned so its block returns to
 *               circulation (MQSim's Static_Wearleveling_Threshold, default 100). Its data goes to the
 *               levelling stream, whose frontier is opened on the *most*-worn free block: cold data
 *               rests on worn blocks, young blocks carry the hot traffic. The check (an O(blocks)
 *               scan) runs again only after max(T/4, T − spread) more erases, at least one: the
 *               spread grows by at most one per erase, so little is missed, and at most one static
 *               move per T/4 erases. Erase counts come from the chip, so a mounted store resumes
 *               with the chip's wear.
 *
 * Time: the store's program sequence number (every program, host or copy, takes the next one), which
 * is also what orders versions at mount.
 */
import { EraseStatus, PageState } from '../machine/nand.ts';
import type { NandDevice } from '../machine/nand.ts';
import { InvariantError } from '../util/errors.ts';
import { BlockState, BlockTable, FREE_BLOCK_ORDERS } from './block-table.ts';
import type { FreeBlockOrder } from './block-table.ts';
import { FlashConfigError, FlashFullError, FlashMountError } from './errors.ts';
import { VICTIM_POLICIES, createVictimPolicy } from './victim.ts';
import type { VictimPolicy, VictimPolicyName } from './victim.ts';

export type GcFrontier = 'shared' | 'separate';
const GC_FRONTIERS: readonly GcFrontier[] = ['shared', 'separate'];

export interface LogStoreConfig {
  /** Foreground victim policy (default 'greedy'). */
  policy?: VictimPolicyName;
  /** Background (idle) victim policy (default: the foreground one). */
  backgroundPolicy?: VictimPolicyName;
  /** Foreground GC runs while fewer blocks than this are free (default 1; at least 2 unless there
   * is one host stream and gcFrontier is 'shared'). */
  lowWatermark?: number;
  /** Background GC runs while fewer blocks than this are free (default: lowWatermark). */
  highWatermark?: number;
  /** Temperature classes, each with its own frontier (default 1). */
  hostStreams?: number;
  gcFrontier?: GcFrontier;
  freeBlockOrder?: FreeBlockOrder;
  /** Static wear-levelling threshold in erases; 0 (default) turns it off. */
  staticWearLevelling?: number;
  /** Samples for the d-choices policy (default 10). */
  dChoices?: number;
  /** F2FS's max_victim_search for f2fs-cb (default 4096). */
  maxVictimSearch?: number;
  /** Seeds the sampling victim policies (default 1). */
  seed?: number;
}

export type ResolvedLogConfig = Required<LogStoreConfig>;

export interface GcStats {
  victims: number;
  foregroundVictims: number;
  backgroundVictims: number;
  staticMoves: number;
  /** Candidates passed over because every unit in them was valid. */
  passedOver: number;
  copiedUnits: number;
  erases: number;
  eraseFailures: number;
  freeBlocks: number;
  closedBlocks: number;
  badBlocks: number;
  /** How many victims had each number of valid units when chosen. */
  victimValidHistogram: number[];
}

export type VictimKind = 'foreground' | 'background' | 'static';

const NONE = -1;

/** 2^32: sequence numbers (and the object store's versions) are stored as two 32-bit words. */
export const TWO_32 = 4294967296;

/** Stores sequence number `seq` in words[at] (low 32 bits) and words[at + 1] (high 32 bits). */
export function putSeq(words: Int32Array, at: number, seq: number): void {
  words[at] = seq >>> 0;
  // The division only once the clock passes 2^32 (it is a float division on the write path).
  words[at + 1] = seq < TWO_32 ? 0 : (seq / TWO_32) >>> 0;
}

/** The sequence number putSeq stored at words[at], words[at + 1]. */
export function getSeq(words: Int32Array, at: number): number {
  return ((words[at] as number) >>> 0) + ((words[at + 1] as number) >>> 0) * TWO_32;
}

/** What a store's mount tells mountChip(): its pages' spare layout and what to do with each page. */
export interface PageScan {
  /** Data bytes to read of each page (0: spare area only). */
  dataBytes: number;
  /** Spare bytes to read: word 0 the tag (the stream in its low byte), words 2 and 3 the sequence number. */
  spareBytes: number;
  /** What the store calls its pages, for the error when a tag is not one. */
  pageKind: string;
  /** Whether a page's spare tag is one of this store's. */
  ownTag(tag: number): boolean;
  /** Called for each page that reads clean and carries the store's tag, with the page in the
   * register: block, page, the page's sequence number. */
  visit(block: number, page: number, seq: number): void;
  /** Called once every page is visited, before the blocks are mounted (GC may run then). */
  settle(): void;
}

/**
 * Defaults and checks. `minLowWatermark` is what the store needs at least (the object store needs 2:
 * a victim's records may take a whole new block once repacked); the page store needs 1 with one host
 * stream sharing its frontier with GC (the victim goes to the frontier just opened), else 2.
 */
export function resolveLogConfig(config: LogStoreConfig, minLowWatermark = 1): ResolvedLogConfig {
  const policy = config.policy ?? 'greedy';
  const hostStreams = config.hostStreams ?? 1;
  const gcFrontier = config.gcFrontier ?? 'shared';
  const minLow = Math.max(minLowWatermark, hostStreams === 1 && gcFrontier === 'shared' ? 1 : 2);
  const lowWatermark = config.lowWatermark ?? minLow;
  const resolved: ResolvedLogConfig = {
    policy,
    backgroundPolicy: config.backgroundPolicy ?? policy,
    lowWatermark,
    highWatermark: config.highWatermark ?? lowWatermark,
    hostStreams,
    gcFrontier,
    freeBlockOrder: config.freeBlockOrder ?? 'fifo',
    staticWearLevelling: config.staticWearLevelling ?? 0,
    dChoices: config.dChoices ?? 10,
    maxVictimSearch: config.maxVictimSearch ?? 4096,
    seed: config.seed ?? 1,
  };
  for (const name of [resolved.policy, resolved.backgroundPolicy]) {
    if (!VICTIM_POLICIES.includes(name)) throw new FlashConfigError(`victim policy '${name}': expected one of ${VICTIM_POLICIES.join(', ')}`);
  }
  if (!GC_FRONTIERS.includes(gcFrontier)) throw new FlashConfigError(`gcFrontier '${gcFrontier}': expected one of ${GC_FRONTIERS.join(', ')}`);
  if (!FREE_BLOCK_ORDERS.includes(resolved.freeBlockOrder)) throw new FlashConfigError(`freeBlockOrder '${resolved.freeBlockOrder}': expected one of ${FREE_BLOCK_ORDERS.join(', ')}`);
  if (!Number.isInteger(hostStreams) || hostStreams < 1 || hostStreams > 16) throw new FlashConfigError(`hostStreams ${hostStreams}: expected an integer in [1, 16]`);
  if (!Number.isInteger(lowWatermark) || lowWatermark < minLow) {
    throw new FlashConfigError(`lowWatermark ${lowWatermark}: expected an integer ≥ ${minLow} (GC must always find room for a victim's live data)`);
  }
  if (!Number.isInteger(resolved.highWatermark) || resolved.highWatermark < lowWatermark) {
    throw new FlashConfigError(`highWatermark ${resolved.highWatermark}: expected an integer ≥ lowWatermark ${lowWatermark}`);
  }
  if (!Number.isInteger(resolved.staticWearLevelling) || resolved.staticWearLevelling < 0) {
    throw new FlashConfigError(`staticWearLevelling ${resolved.staticWearLevelling}: expected a non-negative integer (0 = off)`);
  }
  return resolved;
}

export abstract class LogStore {
  readonly table: BlockTable;
  readonly config: ResolvedLogConfig;
  readonly pagesPerBlock: number;
  readonly hostStreams: number;
  /** Index of the GC stream, or NONE when copies share the host frontiers. */
  readonly gcStream: number;
  /** Index of the static wear-levelling stream, or NONE when static levelling is off. */
  readonly levelStream: number;
  readonly nrStreams: number;
  /** Each stream's open block (NONE when it has none) and its next page. */
  protected readonly frontier: Int32Array;
  protected readonly fill: Int32Array;
  protected readonly foreground: VictimPolicy;
  protected readonly background: VictimPolicy;
  protected readonly trackYoungest: boolean;
  protected readonly trackMtime: boolean;
  /** The next program sequence number: the store's clock. */
  protected seq = 0;
  protected collecting = false;
  /** Called with each victim as GC takes it, before anything of it changes (tests observe the
   * choices through it). */
  victimObserver: ((victim: number, kind: VictimKind) => void) | null = null;
  private levelling = false;
  /** The GC erase count at which static wear levelling next looks at the spread. */
  private nextLevelCheck = 0;
  private readonly gc: Omit<GcStats, 'freeBlocks' | 'closedBlocks' | 'badBlocks' | 'victimValidHistogram'> = {
    victims: 0,
    foregroundVictims: 0,
    backgroundVictims: 0,
    staticMoves: 0,
    passedOver: 0,
    copiedUnits: 0,
    erases: 0,
    eraseFailures: 0,
  };
  private readonly victimValid: Float64Array;

  protected constructor(
    readonly device: NandDevice,
    config: LogStoreConfig,
    unitsPerBlock: number,
    minLowWatermark = 1,
  ) {
    this.config = resolveLogConfig(config, minLowWatermark);
    const c = this.config;
    this.pagesPerBlock = device.pagesPerBlock;
    this.hostStreams = c.hostStreams;
    this.gcStream = c.gcFrontier === 'separate' ? c.hostStreams : NONE;
    const gcStreams = c.gcFrontier === 'separate' ? 1 : 0;
    this.levelStream = c.staticWearLevelling > 0 ? c.hostStreams + gcStreams : NONE;
    this.nrStreams = c.hostStreams + gcStreams + (c.staticWearLevelling > 0 ? 1 : 0);
    this.frontier = new Int32Array(this.nrStreams).fill(NONE);
    this.fill = new Int32Array(this.nrStreams);
    const options = { seed: c.seed, d: c.dChoices, maxSearch: c.maxVictimSearch };
    this.foreground = createVictimPolicy(c.policy, options);
    this.background = c.backgroundPolicy === c.policy ? this.foreground : createVictimPolicy(c.backgroundPolicy, { ...options, seed: c.seed + 1 });
    const needs = [this.foreground.needs, this.background.needs];
    this.trackYoungest = needs.some((n) => n.youngest);
    this.trackMtime = needs.some((n) => n.mtime);
    this.table = new BlockTable({
      blocks: device.blocks,
      unitsPerBlock,
      freeOrder: c.freeBlockOrder,
      buckets: needs.some((n) => n.buckets),
      oldestBy: needs.flatMap((n) => (n.oldestBy === null ? [] : [n.oldestBy])),
      eraseCounts: device.eraseCounts,
    });
    this.victimValid = new Float64Array(unitsPerBlock + 1);
    if (device.blocks < c.lowWatermark + this.nrStreams + 2) {
      throw new FlashConfigError(`a chip of ${device.blocks} blocks is too small for ${this.nrStreams} frontiers and ${c.lowWatermark} free blocks in reserve`);
    }
  }

  /** Copies a victim's live data to the `target` stream's frontier (the victim is erased afterwards). */
  protected abstract cleanBlock(victim: number, target: number): void;
  /** Room in a stream's frontier, in units, without a new block. */
  protected abstract roomUnits(stream: number): number;

  /** Runs once at the start of each GC episode, before any victim is cleaned or erased. A store that
   * buffers writes makes them durable here, so no victim's erase can take the last durable copy of
   * data whose newer version is still only in RAM. */
  protected prepareCollection(): void {}

  /** Runs background GC: up to `maxVictims` victims while fewer than highWatermark blocks are free.
   * Returns how many it cleaned. The host buffers are programmed (prepareCollection) only once a
   * victim that can be cleaned is found: idle time that cleans nothing pads nothing. */
  idle(maxVictims = Infinity): number {
    let n = 0;
    if (this.collecting || this.table.nrFree >= this.config.highWatermark || maxVictims < 1) return 0;
    this.collecting = true;
    try {
      while (this.table.nrFree < this.config.highWatermark && n < maxVictims) {
        const v = this.pickVictim(this.background);
        if (v === NONE || !this.canClean(v, this.gcTarget(v))) break;
        if (n === 0) this.prepareCollection();
        this.collect(v, 'background');
        n++;
      }
    } finally {
      this.collecting = false;
    }
    return n;
  }

  gcStats(): GcStats {
    return {
      ...this.gc,
      freeBlocks: this.table.nrFree,
      closedBlocks: this.table.nrClosed,
      badBlocks: this.table.nrBad,
      victimValidHistogram: Array.from(this.victimValid),
    };
  }

  /** The host stream of a write's temperature class (0 = coldest; clamped to the host streams). */
  protected streamOf(temperature: number): number {
    return temperature > 0 ? (temperature < this.hostStreams ? temperature | 0 : this.hostStreams - 1) : 0;
  }

  /** The stream a victim's live data goes to. */
  protected gcTarget(victim: number): number {
    if (this.gcStream !== NONE) return this.gcStream;
    const s = this.table.stream[victim] as number;
    return s < this.hostStreams ? s : 0;
  }

  /** Opens a frontier for `stream` from the free pool (false when the pool is empty): the levelling
   * stream's on the most-worn free block, the others in the pool's order. */
  protected openFrontier(stream: number): boolean {
    const b = stream === this.levelStream ? this.table.takeMostWornFree() : this.table.takeFree();
    if (b === NONE) return false;
    this.frontier[stream] = b;
    this.fill[stream] = 0;
    this.table.stream[b] = stream;
    return true;
  }

  /** The frontier of `stream` is full: close it. The stream opens its next frontier when it next
   * programs (ensureFrontier, which also runs foreground GC when free blocks ran low), so a call that
   * finds no room throws FlashFullError before it has stored anything, and during GC a victim never
   * needs more than its target's room and one free block. */
  protected frontierFull(stream: number): void {
    this.table.close(this.frontier[stream] as number, this.seq);
    this.frontier[stream] = NONE;
  }

  /** Stream `stream` programmed page `page` of its frontier: the next page, or, when that was the
   * block's last, the frontier is full (frontierFull). */
  protected advanceFrontier(stream: number, page: number): void {
    if (page + 1 === this.pagesPerBlock) this.frontierFull(stream);
    else this.fill[stream] = page + 1;
  }

  /** A frontier exists for `stream` on return (opening one if it has none, and collecting if that
   * left free blocks short; the collection may fill and close the new frontier, hence the loop). */
  protected ensureFrontier(stream: number): void {
    while (this.frontier[stream] === NONE) {
      if (!this.openFrontier(stream)) throw new FlashFullError(`stream ${stream}: no free block for a frontier (${this.describeSpace()})`);
      if (!this.collecting && this.table.nrFree < this.config.lowWatermark) this.collectForeground();
    }
  }

  protected collectForeground(): void {
    this.collecting = true;
    try {
      this.prepareCollection();
      while (this.table.nrFree < this.config.lowWatermark) {
        let v = this.pickVictim(this.foreground);
        if (v !== NONE && !this.canClean(v, this.gcTarget(v))) v = this.fallbackVictim();
        if (v === NONE) {
          throw new FlashFullError(
            `no free block and no victim that frees one (${this.table.nrClosed} closed blocks, ${this.table.nrFree} free): the data does not fit the chip`,
          );
        }
        this.collect(v, 'foreground');
      }
    } finally {
      this.collecting = false;
    }
  }

  /** Where the blocks are, for the errors that say there is no room. */
  protected describeSpace(): string {
    const t = this.table;
    return `${t.nrFree} free, ${t.nrClosed} closed, ${t.nrBad} bad of ${t.blocks} blocks; frontiers ${Array.from(this.frontier).join(',')}; low watermark ${this.config.lowWatermark}`;
  }

  /** Whether the GC target can take the victim's live data without running out of blocks: nothing
   * to copy, a free block (for a frontier that fills part-way), or more room in the target's
   * frontier than the data. After a power cut a mount may find no free block and no open frontier; a
   * block holding nothing live (a torn frontier, an interrupted victim) is then what frees one. */
  protected canClean(victim: number, target: number): boolean {
    const valid = this.table.valid[victim] as number;
    return valid === 0 || this.table.nrFree > 0 || this.roomUnits(target) > valid;
  }

  /** When the policy's victim does not fit (after a mount, or with no free block left), any closed
   * block that does. */
  private fallbackVictim(): number {
    let best = NONE;
    for (let i = 0; i < this.table.nrClosed; i++) {
      const b = this.table.closedList[i] as number;
      if ((this.table.valid[b] as number) < this.table.unitsPerBlock && this.canClean(b, this.gcTarget(b)) && (best === NONE || (this.table.valid[b] as number) < (this.table.valid[best] as number))) best = b;
    }
    return best;
  }

  protected pickVictim(policy: VictimPolicy): number {
    const table = this.table;
    for (let tries = 0; tries <= table.nrClosed; tries++) {
      const v = policy.select(table, this.seq);
      if (v === NONE) return NONE;
      if ((table.valid[v] as number) < table.unitsPerBlock) return v;
      table.requeue(v, this.seq);
      this.gc.passedOver++;
    }
    return NONE;
  }

  private collect(victim: number, kind: VictimKind): void {
    const table = this.table;
    this.victimObserver?.(victim, kind);
    table.open(victim);
    const valid = table.valid[victim] as number;
    this.victimValid[valid]!++;
    this.gc.victims++;
    if (kind === 'foreground') this.gc.foregroundVictims++;
    else if (kind === 'background') this.gc.backgroundVictims++;
    else this.gc.staticMoves++;
    this.gc.copiedUnits += valid;
    this.cleanBlock(victim, kind === 'static' ? this.levelStream : this.gcTarget(victim));
    if (table.valid[victim] !== 0) throw new InvariantError(`victim block ${victim} still has ${table.valid[victim]} valid units after cleaning`);
    this.eraseVictim(victim);
  }

  private eraseVictim(block: number): void {
    const status = this.device.eraseBlock(block);
    this.gc.erases++;
    if (status === EraseStatus.Failed) {
      this.gc.eraseFailures++;
      this.table.retire(block);
      return;
    }
    this.table.addFree(block);
    if (this.levelStream !== NONE && !this.levelling && this.gc.erases >= this.nextLevelCheck) this.levelWear();
  }

  /** Static wear levelling: when the most-worn good block has T more erases than the least-worn
   * closed one, move that block's (cold) data to the levelling frontier, so the block is used again. */
  private levelWear(): void {
    const table = this.table;
    const counts = this.device.eraseCounts;
    const threshold = this.config.staticWearLevelling;
    let max = 0;
    let coldest = NONE;
    for (let b = 0; b < table.blocks; b++) {
      const s = table.state[b] as number;
      if (s === BlockState.Bad) continue;
      const e = counts[b] as number;
      if (e > max) max = e;
      if (s === BlockState.Closed && (coldest === NONE || e < (counts[coldest] as number))) coldest = b;
    }
    const spread = coldest === NONE ? 0 : max - (counts[coldest] as number);
    this.nextLevelCheck = this.gc.erases + Math.max(1, Math.floor(threshold / 4), threshold - spread);
    if (coldest === NONE || spread < threshold || !this.canClean(coldest, this.levelStream)) return;
    this.levelling = true;
    try {
      this.collect(coldest, 'static');
    } finally {
      this.levelling = false;
    }
  }

  /** The invariants of the frontiers both stores keep, for their validate(): free blocks are
   * erased, and each stream's frontier is an open block whose write pointer is the stream's next
   * page. `fail` throws. */
  protected validateFrontiers(fail: (message: string) => never): void {
    const table = this.table;
    const device = this.device;
    for (let b = 0; b < table.blocks; b++) {
      if (table.state[b] === BlockState.Free && device.writePointer(b) !== 0) fail(`free block ${b} is not erased`);
    }
    for (let s = 0; s < this.nrStreams; s++) {
      const b = this.frontier[s] as number;
      if (b === NONE) continue;
      if (table.state[b] !== BlockState.Open) fail(`frontier of stream ${s} is block ${b}, which is not open`);
      if (device.writePointer(b) !== this.fill[s]) fail(`frontier of stream ${s} (block ${b}) is at page ${this.fill[s]}, the chip's write pointer at ${device.writePointer(b)}`);
    }
  }

  /** Format: every block erased (a fresh chip's already are), bad ones retired, frontiers opened. */
  protected formatBlocks(): void {
    const device = this.device;
    for (let b = 0; b < device.blocks; b++) {
      if (device.isBad(b)) this.table.retire(b);
      else if (device.writePointer(b) > 0 && device.eraseBlock(b) === EraseStatus.Failed) this.table.retire(b);
      else this.table.addFree(b);
    }
    for (let s = 0; s < this.nrStreams; s++) if (s !== this.levelStream) this.ensureFrontier(s);
  }

  /**
   * Mount: reads every page of every good block into the register and hands each clean page of the
   * store to `scan.visit` (a page that is not the store's is FlashMountError; Corrupt pages, torn by
   * power loss, are skipped), then `scan.settle`; the clock resumes after the newest sequence number
   * read and the blocks are mounted (mountBlocks).
   */
  protected mountChip(scan: PageScan): void {
    const device = this.device;
    const ppb = this.pagesPerBlock;
    const written = new Int32Array(device.blocks);
    const maxSeq = new Float64Array(device.blocks).fill(-1);
    const stream = new Int16Array(device.blocks).fill(-1);
    const spare = device.register.spareWords;
    let newest = -1;
    for (let b = 0; b < device.blocks; b++) {
      if (device.isBad(b)) continue;
      for (let p = 0; p < ppb; p++) {
        const state = device.read(b, p, scan.dataBytes, scan.spareBytes);
        if (state === PageState.Erased) continue;
        written[b] = p + 1;
        if (state !== PageState.Programmed) continue;
        const tag = spare[0] as number;
        if (!scan.ownTag(tag)) throw new FlashMountError(b, p, `spare tag 0x${(tag >>> 0).toString(16)} is not ${scan.pageKind}`);
        const seq = getSeq(spare, 2);
        if (stream[b] === -1) stream[b] = tag & 0xff;
        if (seq > (maxSeq[b] as number)) maxSeq[b] = seq;
        if (seq > newest) newest = seq;
        scan.visit(b, p, seq);
      }
    }
    scan.settle();
    this.seq = newest + 1;
    this.mountBlocks(written, maxSeq, stream);
  }

  /**
   * Mount, block half: `written[b]` is 1 + the last page of b that is not erased (0: erased block),
   * `maxSeq[b]` the newest sequence number read in it (-1: none), `stream[b]` the stream that wrote it
   * (-1: unknown). Erased blocks go to the free pool; each stream resumes its newest partly written
   * block as its frontier; every other block is closed, oldest first; streams left without a
   * frontier get one from the pool; GC runs if free blocks are short (a block holding nothing live
   * frees one even when there is no frontier), and streams still without a frontier get one then.
   * If the data no longer fits (FlashFullError), the store mounts short of room: it reads, and
   * refuses what needs room.
   */
  private mountBlocks(written: Int32Array, maxSeq: Float64Array, stream: Int16Array): void {
    const table = this.table;
    const ppb = this.pagesPerBlock;
    const toClose: number[] = [];
    for (let b = 0; b < table.blocks; b++) {
      if (this.device.isBad(b)) {
        table.retire(b);
        continue;
      }
      if (written[b] === 0) {
        table.addFree(b);
        continue;
      }
      const s = stream[b] as number;
      table.stream[b] = s >= 0 && s < this.nrStreams ? s : 0;
      if ((written[b] as number) < ppb && s >= 0 && s < this.nrStreams) {
        const current = this.frontier[s] as number;
        if (current === NONE || (maxSeq[b] as number) > (maxSeq[current] as number)) {
          if (current !== NONE) toClose.push(current);
          this.frontier[s] = b;
          this.fill[s] = written[b] as number;
          continue;
        }
      }
      toClose.push(b);
    }
    toClose.sort((a, b) => (maxSeq[a] as number) - (maxSeq[b] as number) || a - b);
    for (const b of toClose) table.close(b, Math.max(0, maxSeq[b] as number));
    for (let s = 0; s < this.nrStreams; s++) if (this.frontier[s] === NONE && s !== this.levelStream) this.openFrontier(s);
    try {
      if (this.table.nrFree < this.config.lowWatermark) this.collectForeground();
      for (let s = 0; s < this.nrStreams; s++) if (s !== this.levelStream) this.ensureFrontier(s);
    } catch (error) {
      // A chip whose data no longer fits (worn-out blocks) still mounts: reads work, and the next
      // write, TRIM, put or delete that needs room throws FlashFullError before storing anything.
      if (!(error instanceof FlashFullError)) throw error;
    }
  }
}
