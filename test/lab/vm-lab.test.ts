import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PteKind, pageTableCensus, pageTableMap } from '../../src/lab/views/page-table-map.ts';
import { VmLab } from '../../src/lab/views/vm-lab.ts';

/** AnonHugePages of /proc/meminfo, in bytes (smaps_rollup's also counts the huge zero page). */
function anonHugeBytes(lab: VmLab): number {
  const line = lab.kernel.vm.meminfo().split('\n').find((l) => l.startsWith('AnonHugePages:')) ?? '';
  return Number(/(\d+) kB/.exec(line)?.[1] ?? Number.NaN) * 1024;
}

for (const pageSize of ['4k', '2m'] as const) {
  test(`page-table map (${pageSize} pages): tables, leaves and huge leaves equal the mm's own counters`, () => {
    const lab = VmLab.boot({ pageSize, seed: 1, dataBytes: 8 << 20 });
    const tables = pageTableMap(lab.mm);
    const census = pageTableCensus(tables);
    assert.equal(tables[0]?.level, 4, 'the PGD comes first');
    assert.equal(tables[0]?.pfn, lab.mm.pgdPfn);
    assert.equal(census.tablesByLevel[4], 1);
    // Every THP holds one deposited PTE table, counted in PageTables.
    assert.equal(census.tables + (census.entries[PteKind.Huge] as number), lab.mm.pageTablePages);
    assert.equal(census.mappedPages, lab.mm.rssAnonPages);
    assert.equal((census.entries[PteKind.Huge] as number) * (2 << 20), anonHugeBytes(lab));
    assert.ok((census.entries[PteKind.Kernel] as number) > 0, 'the kernel half is shared');
    assert.ok((census.entries[PteKind.ZeroPage] as number) > 0, 'the read-only mapping maps zero pages');
    if (pageSize === '4k') {
      assert.equal(census.entries[PteKind.Huge], 0);
      assert.ok((census.entries[PteKind.Page4k] as number) >= 2048);
    } else {
      assert.equal(census.entries[PteKind.Huge], 4, 'the 8 MiB of data are four THPs');
      assert.ok((census.entries[PteKind.Page4k] as number) < 20, 'only the heap and the r-x page are small');
    }
    assert.deepEqual(lab.vmas().map((v) => v.name).sort(), ['[heap]', 'data (written)', 'r-x, one page read', 'read-only, read (zero pages)'].sort());
  });
}

test('VM lab: random loads over 2 MiB pages miss the TLB far less than over 4 KiB pages', () => {
  const misses = (['4k', '2m'] as const).map((pageSize) => {
    const lab = VmLab.boot({ pageSize, seed: 2, dataBytes: 8 << 20 });
    lab.runLoads(20_000);
    const after = lab.cpu.stats().tlb.counters;
    const valid = lab.tlbArrays().map((a) => a.validEntries());
    assert.ok(valid.some((n) => n > 0));
    return after.l2Misses - lab.baseline.tlb.counters.l2Misses;
  });
  assert.ok((misses[0] as number) > 5000, `4 KiB: ${misses[0]} STLB misses in 20,000 loads over 8 MiB`);
  assert.equal(misses[1], 0, '2 MiB: the four huge pages stay in the TLB');
});
