/**
 * Garbage-collection victim policies: which closed block to clean next. Each is a named, switchable
 * choice; the collector (log-store.ts) asks select() once per victim, never per host write.
 *
 *   fifo          the block closed longest ago: a circular log (Desnoyers' LRU cleaning, SYSTOR 2012;
 *                 MQSim's FIFO)
 *   greedy        the fewest valid units, from the block table's buckets in O(1) amortised
 *                 (runsim_greedy.c's bins; MQSim's GREEDY scans every block instead)
 *   random        a uniformly random closed block (MQSim's RANDOM; Van Houdt's d = 1)
 *   d-choices     the fewest valid units among d blocks sampled uniformly with replacement (Van Houdt,
 *                 SIGMETRICS 2013; d = 10 is close to greedy)
 *   cost-benefit  LFS (Rosenblum & Ousterhout, ACM TOCS 1992, §3.6): the largest
 *                 (1 − u)·age / (1 + u), u the valid fraction and age the time since the youngest data
 *                 in the block was written; found among the valid-count buckets' oldest blocks
 *                 (block-table.ts), the same victim as a scan of every block
 *   f2fs-cb       F2FS's get_cb_cost() (fs/f2fs/gc.c), integer arithmetic as there: u = valid·100 /
 *                 units, age = 100 − 100·(mtime − min_mtime)/(max_mtime − min_mtime) with mtime the
 *                 block's running-average mtime, min_mtime the smallest seen (starting from the
 *                 smallest at mount) and max_mtime now; cost = UINT_MAX − 100·(100 − u)·age/(100 + u),
 *                 the least cost wins; the search looks at up to max_victim_search (4096) blocks,
 *                 resuming where the last one stopped (when that is every closed block, the
 *                 buckets' oldest blocks by mtime give the same least cost; ties may go otherwise). The mtime bookkeeping is segment.c's
 *                 update_segment_mtime() (block-table.ts): every block write, GC copies included,
 *                 averages its time into the receiving block, and a host overwrite, TRIM or delete
 *                 also averages the current time into the block it invalidates (only ATGC's GC
 *                 writes carry the victim's mtime instead, and ATGC chooses victims otherwise)
 * Time is the store's clock: its program sequence number, which every program takes (host writes,
 * GC copies, tombstones, object pages).
 */
import { ArgumentError } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';
import type { BlockTable, BucketTime } from './block-table.ts';

export type VictimPolicyName = 'fifo' | 'greedy' | 'random' | 'd-choices' | 'cost-benefit' | 'f2fs-cb';
export const VICTIM_POLICIES: readonly VictimPolicyName[] = ['fifo', 'greedy', 'random', 'd-choices', 'cost-benefit', 'f2fs-cb'];

export interface VictimPolicyOptions {
  /** Seeds the sampling policies. */
  seed: number;
  /** Samples for d-choices (default 10). */
  d?: number;
  /** F2FS's max_victim_search (default 4096, DEF_MAX_VICTIM_SEARCH in gc.h). */
  maxSearch?: number;
}

export interface VictimPolicy {
  readonly name: VictimPolicyName;
  /** Which per-block figures the policy reads, so the store keeps them only when needed. */
  readonly needs: { buckets: boolean; youngest: boolean; mtime: boolean; oldestBy: BucketTime | null };
  /** A closed block to clean, or -1 when there is none. */
  select(table: BlockTable, clock: number): number;
}

const NO_NEEDS = { buckets: false, youngest: false, mtime: false, oldestBy: null };
const UINT_MAX = 0xffffffff;

class Fifo implements VictimPolicy {
  readonly name = 'fifo';
  readonly needs = NO_NEEDS;
  select(table: BlockTable): number {
    return table.ageHead;
  }
}

class Greedy implements VictimPolicy {
  readonly name = 'greedy';
  readonly needs = { ...NO_NEEDS, buckets: true };
  select(table: BlockTable): number {
    return table.fewestValid();
  }
}

/** Random is d-choices with d = 1. */
class DChoices implements VictimPolicy {
  readonly needs = NO_NEEDS;
  private readonly prng: Prng;
  constructor(
    readonly name: 'random' | 'd-choices',
    private readonly d: number,
    seed: number,
  ) {
    this.prng = new Prng(seed);
  }
  select(table: BlockTable): number {
    const n = table.nrClosed;
    if (n === 0) return -1;
    let best = -1;
    let bestValid = Infinity;
    for (let i = 0; i < this.d; i++) {
      const b = table.closedList[this.prng.int(n)] as number;
      const v = table.valid[b] as number;
      if (v < bestValid) {
        bestValid = v;
        best = b;
      }
    }
    return best;
  }
}

/**
 * LFS's score, found from the buckets: at a fixed valid count the score only falls as `youngest`
 * rises, so the best block of each bucket is its oldest (the block table keeps it, lazily), and the
 * best of the Np + 1 bucket winners is the best of all closed blocks. Winners that score exactly
 * alike (it happens: the scores are ratios of integers) go to the one a scan meets first, so the
 * victim is the scan's whenever no two blocks of one bucket share a youngest time (in the page store
 * none do: each holds the write time of different data). Where there are fewer closed blocks
 * than buckets (the object store's granules), the scan itself is cheaper and runs instead, as it
 * does on a table that keeps no index.
 */
class CostBenefit implements VictimPolicy {
  readonly name = 'cost-benefit';
  readonly needs = { ...NO_NEEDS, youngest: true, oldestBy: 'youngest' as const };
  select(table: BlockTable, clock: number): number {
    const units = table.unitsPerBlock;
    const youngest = table.youngest;
    const scan = table.nrClosed < units + 1 || !table.keepsOldest('youngest');
    const candidates = scan ? table.nrClosed : units + 1;
    let best = -1;
    let bestScore = -1;
    // The buckets below the lowest non-empty one hold no block.
    for (let i = scan ? 0 : table.lowestBucket(); i < candidates; i++) {
      const b = scan ? (table.closedList[i] as number) : table.oldestIn(i, 'youngest');
      if (b === -1) continue;
      const u = (scan ? (table.valid[b] as number) : i) / units;
      const score = ((1 - u) * (clock - (youngest[b] as number))) / (1 + u);
      // A tie goes to the block a scan meets first, as the scan's would.
      if (score > bestScore || (score === bestScore && !scan && table.closedIndex(b) < table.closedIndex(best))) {
        bestScore = score;
        best = b;
      }
    }
    return best;
  }
}

/** F2FS's get_cb_cost() for a block of `valid` of `units` valid units, mtime `mtime`, between the
 * oldest and newest mtimes: integer arithmetic as in fs/f2fs/gc.c (UINT_MAX less the benefit). */
export function f2fsCbCost(valid: number, units: number, mtime: number, minMtime: number, maxMtime: number): number {
  const u = Math.floor((valid * 100) / units);
  const age = maxMtime > minMtime ? 100 - Math.floor((100 * (mtime - minMtime)) / (maxMtime - minMtime)) : 0;
  return UINT_MAX - Math.floor((100 * (100 - u) * age) / (100 + u));
}

/**
 * F2FS's search. Where max_victim_search covers every closed block (and there are at least as many
 * closed blocks as buckets), the cost is found from the buckets as LFS's score is: at a fixed valid
 * count the cost only rises with mtime, so each bucket's oldest block by mtime is its cheapest. The
 * least cost found is the least of a scan of every block; among equal integer costs (common, as u and
 * age are whole percentages) the choice differs from the scan's, which takes the first from the
 * cursor. The buckets are costed from the fewest valid units up, and the costing stops once even the
 * greatest age could not undercut the best (the least cost of a bucket rises with its valid count).
 * Otherwise the windowed scan runs, as in gc.c.
 */
class F2fsCostBenefit implements VictimPolicy {
  readonly name = 'f2fs-cb';
  readonly needs = { ...NO_NEEDS, mtime: true, oldestBy: 'mtime' as const };
  private minMtime = Infinity;
  private cursor = 0;
  /** Each bucket's cheapest block, found in the first pass of a search (scratch). */
  private winners = new Int32Array(0);
  constructor(private readonly maxSearch: number) {}

  select(table: BlockTable, clock: number): number {
    const n = table.nrClosed;
    if (n === 0) return -1;
    if (this.minMtime === Infinity) for (let i = 0; i < n; i++) this.minMtime = Math.min(this.minMtime, table.mtime[table.closedList[i] as number] as number);
    const units = table.unitsPerBlock;
    if (n > this.maxSearch || n < units + 1 || !table.keepsOldest('mtime')) return this.scan(table, clock);
    const mtime = table.mtime;
    const winners = this.winners.length === units + 1 ? this.winners : (this.winners = new Int32Array(units + 1));
    let minMtime = this.minMtime;
    // The buckets below the lowest non-empty one hold no block.
    const lowest = table.lowestBucket();
    for (let v = lowest; v <= units; v++) {
      const b = table.oldestIn(v, 'mtime');
      winners[v] = b;
      if (b !== -1 && (mtime[b] as number) < minMtime) minMtime = mtime[b] as number;
    }
    this.minMtime = minMtime;
    let best = -1;
    let bestCost = Infinity;
    for (let v = lowest; v <= units; v++) {
      const b = winners[v] as number;
      if (b === -1) continue;
      // The least cost bucket v or any above it could have is at the greatest age (mtime =
      // minMtime), and it rises with the valid count: once that cannot undercut the best, none can.
      if (best !== -1 && f2fsCbCost(v, units, minMtime, minMtime, clock) >= bestCost) break;
      const cost = f2fsCbCost(v, units, mtime[b] as number, minMtime, clock);
      if (cost < bestCost) {
        bestCost = cost;
        best = b;
      }
    }
    return best;
  }

  /** gc.c's search: up to max_victim_search blocks from where the last search stopped. */
  private scan(table: BlockTable, clock: number): number {
    const n = table.nrClosed;
    const units = table.unitsPerBlock;
    let best = -1;
    let bestCost = Infinity;
    const searched = Math.min(n, this.maxSearch);
    let i = this.cursor % n;
    for (let k = 0; k < searched; k++, i = i + 1 === n ? 0 : i + 1) {
      const b = table.closedList[i] as number;
      const mtime = table.mtime[b] as number;
      if (mtime < this.minMtime) this.minMtime = mtime;
      const cost = f2fsCbCost(table.valid[b] as number, units, mtime, this.minMtime, clock);
      if (cost < bestCost) {
        bestCost = cost;
        best = b;
      }
    }
    this.cursor = i;
    return best;
  }
}

export function createVictimPolicy(name: VictimPolicyName, options: VictimPolicyOptions): VictimPolicy {
  switch (name) {
    case 'fifo':
      return new Fifo();
    case 'greedy':
      return new Greedy();
    case 'random':
      return new DChoices('random', 1, options.seed);
    case 'd-choices': {
      const d = options.d ?? 10;
      if (!Number.isInteger(d) || d < 1) throw new ArgumentError(`d-choices: d = ${d}, expected a positive integer`);
      return new DChoices('d-choices', d, options.seed);
    }
    case 'cost-benefit':
      return new CostBenefit();
    case 'f2fs-cb': {
      const maxSearch = options.maxSearch ?? 4096;
      if (!Number.isInteger(maxSearch) || maxSearch < 1) throw new ArgumentError(`f2fs-cb: max victim search ${maxSearch}, expected a positive integer`);
      return new F2fsCostBenefit(maxSearch);
    }
    default:
      throw new ArgumentError(`victim policy '${String(name)}': expected one of ${VICTIM_POLICIES.join(', ')}`);
  }
}
