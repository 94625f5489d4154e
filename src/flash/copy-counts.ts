/**
 * Per logical page, a count that is nearly always small: the page FTL's copies(lpn), the data pages
 * of lpn on the chip (live or stale, in blocks not yet erased). One byte per page, so the counts of a
 * large store stay in the cache that GC's decrements (one per stale page of every victim) and host
 * writes' increments hit at random; the rare count past 254 lives in a Map beside it.
 *
 * Layout (controller RAM, host-side like the FTL's maps):
 *   low[l] < 255   the count is low[l]
 *   low[l] = 255   the count is 255 + high.get(l)
 * Invariants (validate()): high has an entry exactly for the pages whose low byte is 255, each ≥ 0.
 */
import { InvariantError } from '../util/errors.ts';

const SATURATED = 255;

export class CopyCounts {
  readonly low: Uint8Array;
  private readonly high = new Map<number, number>();

  constructor(readonly size: number) {
    this.low = new Uint8Array(size);
  }

  get(l: number): number {
    const v = this.low[l] as number;
    return v < SATURATED ? v : SATURATED + (this.high.get(l) as number);
  }

  inc(l: number): void {
    const v = this.low[l] as number;
    if (v < SATURATED - 1) this.low[l] = v + 1;
    else this.set(l, this.get(l) + 1);
  }

  dec(l: number): void {
    const v = this.low[l] as number;
    if (v > 0 && v < SATURATED) this.low[l] = v - 1;
    else this.add(l, -1);
  }

  add(l: number, delta: number): void {
    const count = this.get(l) + delta;
    if (count < 0) throw new InvariantError(`copy count of lpn ${l}: ${count - delta} ${delta < 0 ? '-' : '+'} ${Math.abs(delta)} is negative`);
    this.set(l, count);
  }

  validate(): void {
    for (const [l, extra] of this.high) {
      if (this.low[l] !== SATURATED || !(extra >= 0)) throw new InvariantError(`copy count of lpn ${l}: overflow ${extra} with low byte ${this.low[l]}`);
    }
    let saturated = 0;
    for (let l = 0; l < this.size; l++) if (this.low[l] === SATURATED) saturated++;
    if (saturated !== this.high.size) throw new InvariantError(`copy counts: ${saturated} saturated low bytes, ${this.high.size} overflow entries`);
  }

  private set(l: number, count: number): void {
    if (count < SATURATED) {
      this.low[l] = count;
      this.high.delete(l);
    } else {
      this.low[l] = SATURATED;
      this.high.set(l, count - SATURATED);
    }
  }
}
