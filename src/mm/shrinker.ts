/**
 * Shrinkers: callbacks that give memory back under pressure (Linux's register_shrinker()). When an
 * allocation without GFP.NORETRY finds no free block, the page allocator runs every shrinker once
 * (slab caches returning empty slabs, per-CPU caches draining) and retries before it fails.
 *
 * The registry is host-side and per wrapper: each worker registers the shrinkers of the caches it
 * holds, and a shrinker frees only through the kernel's normal, locked paths.
 */
export interface Shrinker {
  readonly name: string;
  /** Frees what it can; returns the number of pages it gave back to the page allocator. */
  shrink(): number;
}

export class ShrinkerRegistry {
  private readonly shrinkers: Shrinker[] = [];
  /** Times the shrinkers ran, and pages they gave back in all. */
  runs = 0;
  pagesReclaimed = 0;

  register(shrinker: Shrinker): () => void {
    this.shrinkers.push(shrinker);
    return () => {
      const index = this.shrinkers.indexOf(shrinker);
      if (index >= 0) this.shrinkers.splice(index, 1);
    };
  }

  get size(): number {
    return this.shrinkers.length;
  }

  /** Runs every shrinker once; returns the pages they gave back. */
  shrinkAll(): number {
    if (this.shrinkers.length === 0) return 0;
    this.runs++;
    let pages = 0;
    for (const shrinker of [...this.shrinkers]) pages += shrinker.shrink();
    this.pagesReclaimed += pages;
    return pages;
  }
}
