/**
 * Page allocator: ns per allocPages + freePages pair, order 0 and order 9, beside plain JavaScript
 * baselines (a free list of frame numbers in a JS array, and `new ArrayBuffer` of the same size).
 */
import { Kernel } from '../src/mm/kernel.ts';
import { GFP } from '../src/mm/gfp.ts';
import type { BenchCase } from './harness.ts';

/** A kernel whose order-`order` free list is stocked: every other block of that order is free. */
function stockedKernel(order: number): Kernel {
  const kernel = Kernel.boot({ ramBytes: '256MiB' });
  const held: number[] = [];
  for (;;) {
    const pfn = kernel.pages.allocPages(order, GFP.KERNEL | GFP.NORETRY);
    if (pfn === null) break;
    held.push(pfn);
  }
  for (const pfn of held) if ((pfn >> order) % 2 === 0) kernel.pages.freePages(pfn, order);
  return kernel;
}

/** alloc+free pairs of `order` on `kernel`. */
function pairs(kernel: Kernel, order: number): (n: number) => unknown {
  const pa = kernel.pages;
  return (n) => {
    let x = 0;
    for (let i = 0; i < n; i++) {
      const pfn = pa.allocPages(order, GFP.KERNEL) as number;
      x ^= pfn;
      pa.freePages(pfn, order);
    }
    return x;
  };
}

export function pageAllocCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const order of [0, 9]) {
    const group = `page allocator, order ${order} (${order === 0 ? '4 KiB' : '2 MiB'})`;
    const unit = 'alloc+free pair';
    const bytes = 4096 << order;
    cases.push(
      {
        group,
        unit,
        name: 'baseline: JS array of free pfns (pop/push)',
        baseline: true,
        make: () => {
          const stack = Array.from({ length: 1024 }, (_, i) => i << order);
          return (n) => {
            let x = 0;
            for (let i = 0; i < n; i++) {
              const pfn = stack.pop() as number;
              x ^= pfn;
              stack.push(pfn);
            }
            return x;
          };
        },
      },
      {
        group,
        unit,
        name: `baseline: new ArrayBuffer(${bytes}) (garbage-collected)`,
        make: () => (n) => {
          let x = 0;
          for (let i = 0; i < n; i++) x += new ArrayBuffer(bytes).byteLength;
          return x;
        },
      },
      { group, unit, name: 'kmem allocPages/freePages, free list stocked (no split, no merge)', make: () => pairs(stockedKernel(order), order) },
      // Nothing allocated: each pair splits an order-10 block down to `order` and merges it back.
      { group, unit, name: 'kmem allocPages/freePages, fresh machine (split from and merge to order 10)', make: () => pairs(Kernel.boot({ ramBytes: '256MiB' }), order) },
    );
  }
  return cases;
}
