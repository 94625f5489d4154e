/**
 * Page-level request streams for the flash stores: synthetic generators, and (traces/) replays of
 * block traces. A workload fills an OpBatch (typed arrays, no allocation per request) with operations
 * on logical pages; each carries a temperature hint (0 = coldest), which a store with several host
 * streams uses to separate hot from cold data (what a multi-stream SSD or F2FS's hints provide).
 *
 *   uniform     every page equally likely (the analytic models' workload)
 *   hot-cold    r/f: a fraction r of the writes go to a fraction f of the pages (LFS's
 *               "hot-and-cold", Rosenblum & Ousterhout §3.6; Desnoyers' r/f notation); hint 1 for hot
 *   zipf        page of rank k drawn with probability ∝ 1/k^s, ranks scattered over the space by a
 *               seeded permutation; hint 1 for the top `hotFraction` of the ranks
 *   sequential  0, 1, …, L−1, 0, 1, … (wraps)
 * Synthetic workloads never end; the driver says how many operations to take.
 */
import { ArgumentError } from '../util/errors.ts';
import { Prng } from '../util/prng.ts';

export const OpKind = { Write: 0, Read: 1, Trim: 2 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

export class OpBatch {
  readonly kind: Uint8Array;
  readonly lpn: Int32Array;
  readonly temperature: Uint8Array;
  count = 0;

  constructor(readonly capacity = 4096) {
    this.kind = new Uint8Array(capacity);
    this.lpn = new Int32Array(capacity);
    this.temperature = new Uint8Array(capacity);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  push(kind: OpKind, lpn: number, temperature: number): void {
    const i = this.count++;
    this.kind[i] = kind;
    this.lpn[i] = lpn;
    this.temperature[i] = temperature;
  }
}

export interface Workload {
  readonly name: string;
  /** Fills `batch` (emptied first) with up to its capacity; returns the count, 0 once it has ended. */
  next(batch: OpBatch): number;
}

function checkPages(logicalPages: number): void {
  if (!Number.isInteger(logicalPages) || logicalPages < 1) throw new ArgumentError(`workload over ${logicalPages} logical pages: expected a positive integer`);
}

export class UniformWorkload implements Workload {
  readonly name = 'uniform';
  private readonly prng: Prng;
  constructor(
    private readonly logicalPages: number,
    seed: number,
  ) {
    checkPages(logicalPages);
    this.prng = new Prng(seed);
  }
  next(batch: OpBatch): number {
    const n = batch.capacity;
    const lpn = batch.lpn;
    const L = this.logicalPages;
    batch.kind.fill(OpKind.Write);
    batch.temperature.fill(0);
    for (let i = 0; i < n; i++) lpn[i] = this.prng.int(L);
    batch.count = n;
    return n;
  }
}

export class HotColdWorkload implements Workload {
  readonly name: string;
  private readonly prng: Prng;
  private readonly hotPages: number;
  constructor(
    private readonly logicalPages: number,
    /** Fraction of the writes that go to the hot pages (r). */
    private readonly writeFraction: number,
    /** Fraction of the pages that are hot (f). */
    spaceFraction: number,
    seed: number,
  ) {
    checkPages(logicalPages);
    if (!(writeFraction >= 0 && writeFraction <= 1) || !(spaceFraction > 0 && spaceFraction < 1)) {
      throw new ArgumentError(`hot-cold ${writeFraction}/${spaceFraction}: expected r in [0, 1] and f in (0, 1)`);
    }
    this.hotPages = Math.max(1, Math.min(logicalPages - 1, Math.round(spaceFraction * logicalPages)));
    this.name = `hot-cold ${Math.round(writeFraction * 100)}/${Math.round(spaceFraction * 100)}`;
    this.prng = new Prng(seed);
  }
  next(batch: OpBatch): number {
    const n = batch.capacity;
    const hot = this.hotPages;
    const cold = this.logicalPages - hot;
    batch.kind.fill(OpKind.Write);
    for (let i = 0; i < n; i++) {
      if (this.prng.nextFloat() < this.writeFraction) {
        batch.lpn[i] = this.prng.int(hot);
        batch.temperature[i] = 1;
      } else {
        batch.lpn[i] = hot + this.prng.int(cold);
        batch.temperature[i] = 0;
      }
    }
    batch.count = n;
    return n;
  }
}

export class ZipfWorkload implements Workload {
  readonly name: string;
  private readonly prng: Prng;
  private readonly cdf: Float64Array;
  private readonly pageOfRank: Int32Array;
  private readonly hotRanks: number;
  constructor(logicalPages: number, exponent: number, seed: number, hotFraction = 0.2) {
    checkPages(logicalPages);
    if (!(exponent >= 0) || !Number.isFinite(exponent)) throw new ArgumentError(`zipf exponent ${exponent}: expected a finite number ≥ 0`);
    this.name = `zipf s=${exponent}`;
    this.prng = new Prng(seed);
    this.cdf = new Float64Array(logicalPages);
    let sum = 0;
    for (let k = 0; k < logicalPages; k++) {
      sum += 1 / (k + 1) ** exponent;
      this.cdf[k] = sum;
    }
    for (let k = 0; k < logicalPages; k++) this.cdf[k] = (this.cdf[k] as number) / sum;
    this.pageOfRank = new Prng(seed ^ 0x5eed).shuffle(Int32Array.from({ length: logicalPages }, (_, k) => k));
    this.hotRanks = Math.round(hotFraction * logicalPages);
  }
  next(batch: OpBatch): number {
    const n = batch.capacity;
    const cdf = this.cdf;
    batch.kind.fill(OpKind.Write);
    for (let i = 0; i < n; i++) {
      const u = this.prng.nextFloat();
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cdf[mid] as number) <= u) lo = mid + 1;
        else hi = mid;
      }
      batch.lpn[i] = this.pageOfRank[lo] as number;
      batch.temperature[i] = lo < this.hotRanks ? 1 : 0;
    }
    batch.count = n;
    return n;
  }
}

export class SequentialWorkload implements Workload {
  readonly name = 'sequential';
  private position: number;
  constructor(
    private readonly logicalPages: number,
    start = 0,
  ) {
    checkPages(logicalPages);
    this.position = start % logicalPages;
  }
  next(batch: OpBatch): number {
    const n = batch.capacity;
    batch.kind.fill(OpKind.Write);
    batch.temperature.fill(0);
    for (let i = 0; i < n; i++) {
      batch.lpn[i] = this.position;
      this.position = this.position + 1 === this.logicalPages ? 0 : this.position + 1;
    }
    batch.count = n;
    return n;
  }
}
