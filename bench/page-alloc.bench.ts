/**
 * Page allocator: ns per allocPages + freePages pair, order 0 and order 9, beside plain JavaScript
 * baselines: the strong floor, a stack of frame numbers in an Int32Array with a top index (what a
 * hand-written free list of pages is), a JS array of frame numbers, and `new ArrayBuffer` of the
 * same size. Order 0 runs through this CPU's per-CPU list; the "without pcp" case is the buddy
 * allocator alone, as before per-CPU lists existed; the "hand-written per-CPU list" case
 * (baselines/pcp-pages.ts) is the floor of that path: the same checks and writes, nothing else.
 */
import { Kernel } from '../src/mm/kernel.ts';
import { GFP } from '../src/mm/gfp.ts';
import type { BenchCase } from './harness.ts';
import { pcpReference } from './baselines/pcp-pages.ts';
import { pcpCapacity, zoneBatchsize, zoneHighsize } from '../src/mm/pcp.ts';

/** A kernel whose order-`order` free list is stocked: every other block of that order is free. */
function stockedKernel(order: number): Kernel {
  const kernel = Kernel.boot({ ramBytes: '256MiB' });
  const held: number[] = [];
  for (;;) {
    const pfn = kernel.pages.tryAllocPages(order, GFP.KERNEL | GFP.NORETRY);
    if (pfn === null) break;
    held.push(pfn);
  }
  for (const pfn of held) if ((pfn >> order) % 2 === 0) kernel.pages.freePages(pfn, order);
  return kernel;
}

/**
 * alloc+free pairs of `order` on `kernel`. The GFP value and the order are read once, before the
 * loop, as a caller's hot loop keeps them: `GFP.KERNEL` inside the loop is a property of an
 * imported object, which optimized code loads from the module's cell on every call (about nine
 * instructions), a cost of the caller's loop that the Int32Array floor does not pay either
 * (docs/benchmarks.md, "A plain page").
 */
function pairs(kernel: Kernel, order: number): (n: number) => unknown {
  const pa = kernel.pages;
  return (n) => {
    const gfp = GFP.KERNEL;
    const o = order;
    let x = 0;
    for (let i = 0; i < n; i++) {
      const pfn = pa.allocPages(o, gfp);
      x ^= pfn;
      pa.freePages(pfn, o);
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
        name: 'baseline: Int32Array stack of free pfns (the strong floor)',
        baseline: true,
        make: () => {
          const stack = new Int32Array(1024);
          for (let i = 0; i < stack.length; i++) stack[i] = i << order;
          let top = stack.length;
          return (n) => {
            let x = 0;
            for (let i = 0; i < n; i++) {
              const pfn = stack[--top] as number;
              x ^= pfn;
              stack[top++] = pfn;
            }
            return x;
          };
        },
      },
      {
        group,
        unit,
        name: 'baseline: JS array of free pfns (pop/push)',
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
      { group, unit, name: `kmem allocPages/freePages, fresh machine${order === 0 ? ' (per-CPU list)' : ' (split from and merge to order 10)'}`, make: () => pairs(Kernel.boot({ ramBytes: '256MiB' }), order) },
    );
    if (order === 0) {
      cases.push({
        group,
        unit,
        name: 'baseline: hand-written per-CPU list with kmem’s checks and writes (the floor of the design)',
        make: () => {
          // A 256 MiB machine's Normal zone (pfns 4096 …) with one CPU's high and ring capacity.
          const nrPages = (256 << 20) / 4096;
          const managed = nrPages - 4096;
          const high = zoneHighsize(managed, nrPages, zoneBatchsize(managed), 1);
          const ref = pcpReference(nrPages, 4096, high, pcpCapacity(nrPages, 1));
          return (n) => {
            const gfp = GFP.KERNEL;
            let x = 0;
            for (let i = 0; i < n; i++) {
              const pfn = ref.allocPages(0, gfp);
              x ^= pfn;
              ref.freePages(pfn, 0);
            }
            return x;
          };
        },
      });
      cases.push({
        group,
        unit,
        name: 'kmem allocPages/freePages, fresh machine without pcp (split from and merge to order 10)',
        make: () => pairs(Kernel.boot({ ramBytes: '256MiB', pcp: false }), order),
      });
    }
  }
  return cases;
}
