/**
 * The explorer's flash machine: an emulated NAND chip (machine/nand.ts, 64 blocks of 64 pages, no
 * page data kept) with kmem's page-mapped log-structured store on it (flash/ftl.ts) at 80 % of the
 * usable pages, filled once and then overwritten by a seeded workload: uniform over every logical
 * page, or hot and cold (80 % of the writes to 20 % of the pages). Garbage collection runs inside the
 * store's writes; the lab hears of each victim through the store's victimObserver.
 *
 * Each physical page is drawn from the chip's page state and the store's reverse map (p2l): erased,
 * valid (the live copy of a logical page), a live tombstone, or invalid (a stale copy waiting for its
 * block's erase). The counts are the store's own: valid pages = mapped pages, each block's valid
 * pages = the block table's count, erased pages = the chip's.
 */
import { NandDevice, PageState } from '../../machine/nand.ts';
import { PageFtl } from '../../flash/ftl.ts';
import type { PageFtlStats } from '../../flash/ftl.ts';
import type { VictimPolicyName } from '../../flash/victim.ts';
import { Prng } from '../../util/prng.ts';

export const FlashPage = { Erased: 0, Valid: 1, Invalid: 2, Tombstone: 3 } as const;
export type FlashPage = (typeof FlashPage)[keyof typeof FlashPage];
export const FLASH_PAGE_NAMES: readonly string[] = ['erased', 'valid', 'invalid (stale copy)', 'tombstone'];
export type FlashWorkload = 'uniform' | 'hot/cold 80/20';
export const FLASH_WORKLOADS: readonly FlashWorkload[] = ['uniform', 'hot/cold 80/20'];

export interface VictimRecord {
  block: number;
  /** Valid pages it held when chosen (what GC had to copy). */
  valid: number;
  kind: string;
}

const BLOCKS = 64;
const PAGES_PER_BLOCK = 64;
/** p2l marks a live tombstone with this bit (ftl.ts). */
const TOMBSTONE_BIT = 1 << 30;
/** Logical pages: 80 % of the chip less the store's reserve, frontier and GC block. */
const LOGICAL_PAGES = Math.floor((BLOCKS - 3) * PAGES_PER_BLOCK * 0.8);
const RECENT_VICTIMS = 8;

export class FlashLab {
  readonly device: NandDevice;
  readonly ftl: PageFtl;
  /** The most recent victims, newest last. */
  readonly victims: VictimRecord[] = [];
  private readonly rng: Prng;
  /** The chip's programs (copy-backs included) and the host's writes when the fill ended. */
  private readonly filled: { programs: number; hostWrites: number };

  constructor(
    seed: number,
    readonly policy: VictimPolicyName,
    readonly workload: FlashWorkload,
  ) {
    this.rng = new Prng(seed);
    this.device = NandDevice.create({ geometry: { blocks: BLOCKS, pagesPerBlock: PAGES_PER_BLOCK, pageBytes: 4096, spareBytes: 16 }, storePayload: false });
    this.ftl = PageFtl.format(this.device, { logicalPages: LOGICAL_PAGES, policy, seed });
    this.ftl.victimObserver = (block, kind) => {
      this.victims.push({ block, valid: this.ftl.table.valid[block] as number, kind });
      if (this.victims.length > RECENT_VICTIMS) this.victims.shift();
    };
    // Fill every logical page once, in order: the store starts full, and GC starts with the overwrites.
    for (let lpn = 0; lpn < LOGICAL_PAGES; lpn++) this.ftl.write(lpn);
    this.filled = { programs: this.device.programs + this.device.copybacks, hostWrites: this.ftl.hostWrites };
  }

  /** Write amplification of the overwrites since the fill: pages programmed per page the host wrote. */
  waSinceFill(): number {
    const host = this.ftl.hostWrites - this.filled.hostWrites;
    return host === 0 ? 0 : (this.device.programs + this.device.copybacks - this.filled.programs) / host;
  }

  get logicalPages(): number {
    return LOGICAL_PAGES;
  }

  /** `count` host writes of the workload. */
  write(count: number): void {
    const hot = Math.floor(LOGICAL_PAGES * 0.2);
    for (let i = 0; i < count; i++) {
      const lpn = this.workload === 'uniform' ? this.rng.int(LOGICAL_PAGES) : this.rng.chance(0.8) ? this.rng.int(hot) : hot + this.rng.int(LOGICAL_PAGES - hot);
      this.ftl.write(lpn);
    }
  }

  /** Every physical page, block by block. */
  pageMap(): Uint8Array {
    const out = new Uint8Array(this.device.pages);
    const states = this.device.pageStates;
    const p2l = this.ftl.p2l;
    for (let ppn = 0; ppn < out.length; ppn++) {
      const q = p2l[ppn] as number;
      if (states[ppn] === PageState.Erased) out[ppn] = FlashPage.Erased;
      else if (q >= TOMBSTONE_BIT) out[ppn] = FlashPage.Tombstone;
      else if (q >= 0) out[ppn] = FlashPage.Valid;
      else out[ppn] = FlashPage.Invalid;
    }
    return out;
  }

  stats(): PageFtlStats {
    return this.ftl.stats();
  }

  validate(): void {
    this.ftl.validate();
  }
}
