// A child-process script for the miss path's V8 tests (test/machine/miss-path-deopt.test.ts,
// test/machine/miss-path-inlining.test.ts): a CPU over 8192 mapped 4 KiB pages (the STLB holds
// 1536) runs loads through every ordinary path of the miss path but the STLB's eviction — 200
// pages twice in order (walks, L1 fills and evictions, STLB hits; 200 pages over 128 sets of 12
// ways fill none), L1 probe hits, L1 victims used since they were placed — and then compiles the
// miss-path closure once, synchronously, on demand (natives syntax; v8Trace turns on-stack
// replacement and concurrent recompilation off). `after` runs next, with `cpu`, `missRun`, `PAGES`,
// the module namespaces and `optimized()` in scope.

import { PTE_ACCESSED, PTE_GLOBAL } from '../../src/machine/pte.ts';

const url = (path: string): string => JSON.stringify(new URL(path, import.meta.url).href);

/** `globals`: the warm-up also loads through 64 global pages (mapped at 1 TiB, interleaved with
 *  user pages), so that the probes' global-tag paths have run before the compile. `accessed`: the
 *  leaf entries are mapped with A set, as pages the kernel has not aged, so the walks' atomic ORs
 *  of A have not run when the closure compiles. */
export function missPathScript(after: string, { globals = false, accessed = false }: { globals?: boolean; accessed?: boolean } = {}): string {
  return `Promise.all([import(${url('../../src/machine/ram.ts')}), import(${url('../../src/machine/cpu.ts')}), import(${url('../../src/machine/tlb-presets.ts')}), import(${url('./page-tables.ts')}), import(${url('../../src/util/prng.ts')})]).then(([r, c, p, t, g]) => {
    const PAGES = 8192, DATA = 4 << 20;
    const ram = r.Ram.create({ sizeBytes: DATA + PAGES * 4096 });
    const pt = new t.PageTableBuilder(ram, 1 << 20, DATA);
    pt.mapRange(0, DATA, PAGES * 4096, 1${accessed ? `, { extraLo: ${PTE_ACCESSED} }` : ''});
    ${globals ? `pt.mapRange(2 ** 40, DATA, 64 * 4096, 1, { extraLo: ${PTE_GLOBAL} });` : ''}
    const cpu = new c.Cpu(ram, { preset: p.skylake() });
    cpu.setCr3(pt.cr3, 1);
    const missRun = cpu.missRun;
    const optimized = () => (%GetOptimizationStatus(missRun) & 16) !== 0;
    %PrepareFunctionForOptimization(missRun);
    const warm = Array.from({ length: 400 }, (_, i) => (i % 200) * 4096 + 8);
    // Pages 4096 apart share a shortcut slot (SHORTCUT_SLOTS) and an L1 set: alternated, each load
    // misses the shortcut and hits the L1 probe.
    for (let k = 0; k < 8; k++) warm.push(300 * 4096, (300 + 4096) * 4096 + 4);
    // More pages of that L1 set: its fills meet ways used since they were placed (lruTakeSlow).
    for (let k = 1; k < 8; k++) warm.push((300 + 16 * k) * 4096);
    // Global pages, each between two user pages: the user loads' probes then look for the global tag too.
    ${globals ? 'for (let i = 0; i < 64; i++) warm.push(2 ** 40 + i * 4096, (1000 + i) * 4096, 2 ** 40 + ((i + 16) % 64) * 4096);' : ''}
    cpu.loadMany(Float64Array.from(warm));
    %OptimizeFunctionOnNextCall(missRun);
    cpu.loadMany(Float64Array.from({ length: 10 }, (_, i) => (600 + i) * 4096));
    ${after}
  });`;
}
