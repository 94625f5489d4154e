/**
 * A replay's result as the lab's summary lines and tables, so that every driver renders it the
 * way it renders a scenario (text, JSON, CSV, the explorer).
 */
import { formatBytes } from '../../util/units.ts';
import type { Table } from '../scenario.ts';
import type { ReplayResult } from './replay.ts';

export interface ReplayReport {
  summary: string[];
  tables: Table[];
}

/** At most this many call sites are listed (most waste first); the rest are summed in one row. */
const CALL_SITES_LISTED = 25;

/** kmem's RAM, and the allocations kmem itself failed in it (kmem's shortfall, not the trace's defect). */
function kmemRamLine(r: ReplayResult): string {
  const failed = r.designs.find((d) => d.design === 'kmem')?.failed ?? 0;
  const ram = `kmem's RAM: ${formatBytes(r.ramBytes)}`;
  if (failed === 0) return `${ram}; every allocation succeeded.`;
  return `${ram}; kmem could not satisfy ${failed} allocations of the trace (out of memory in that RAM: a larger --ram-bytes holds more). Their frees are not counted as trace defects.`;
}

export function replayReport(r: ReplayResult): ReplayReport {
  const events = Object.entries(r.events)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const peak = Object.fromEntries(r.designs.map((d) => [d.design, d.peakBytes]));
  const summary = [
    `${r.source}: ${r.lines} lines, call sites as ${r.callSiteFormat === 'symbol' ? 'symbols (Linux 6.1+ format)' : r.callSiteFormat === 'address' ? 'addresses (pre-6.1 format)' : 'none'}; events: ${events}.`,
    `kmalloc size classes: ${r.kmallocChecked - r.kmallocMismatches} of ${r.kmallocChecked} equal the trace's bytes_alloc${r.kmallocMismatches > 0 ? ` (${r.kmallocMismatches} differ: see the mismatch table)` : ''}.`,
    `Peak memory for the trace's objects: kmem ${formatBytes(peak['kmem'] ?? 0)}, fixed max-size slots (${formatBytes(r.largestRequestBytes)} each) ${formatBytes(peak['fixed slots'] ?? 0)}, general allocator ${formatBytes(peak['general'] ?? 0)}; peak bytes requested ${formatBytes(r.peakRequestedBytes)}.`,
    kmemRamLine(r),
    `Trace defects, counted: ${r.unknownFrees} frees of pointers never allocated (objects older than the trace), ${r.unknownPageFrees} frees of pages never allocated, ${r.nullFrees} kfree(NULL), ${r.reusedPointers} allocations of a pointer still live (a lost free).`,
  ];
  const listed = r.callSites.slice(0, CALL_SITES_LISTED);
  const rest = r.callSites.slice(CALL_SITES_LISTED);
  const siteRows = listed.map((s) => ({
    callSite: s.callSite,
    allocs: s.allocs,
    bytesReq: s.bytesReq,
    wasteTrace: s.bytesAllocTrace - s.bytesReq,
    wasteKmem: s.bytesAllocKmem - s.bytesReq,
  }));
  if (rest.length > 0) {
    siteRows.push({
      callSite: `(${rest.length} more call sites)`,
      allocs: rest.reduce((a, s) => a + s.allocs, 0),
      bytesReq: rest.reduce((a, s) => a + s.bytesReq, 0),
      wasteTrace: rest.reduce((a, s) => a + s.bytesAllocTrace - s.bytesReq, 0),
      wasteKmem: rest.reduce((a, s) => a + s.bytesAllocKmem - s.bytesReq, 0),
    });
  }
  const tables: Table[] = [
    {
      id: 'designs',
      title: "Peak memory for the trace's objects, per design (same stream)",
      columns: [
        { key: 'design', label: 'design' },
        { key: 'peakBytes', label: 'peak memory', unit: 'bytes' },
        { key: 'overRequested', label: 'over the peak requested', unit: '×', digits: 2 },
        { key: 'failed', label: 'allocations failed' },
      ],
      rows: r.designs.map((d) => ({ design: d.design, peakBytes: d.peakBytes, overRequested: r.peakRequestedBytes > 0 ? d.peakBytes / r.peakRequestedBytes : null, failed: d.failed })),
      note: 'kmem: pages its slabs and large kmallocs took; fixed slots: slots ever carved × the largest request; general: @thi.ng/malloc MemPool\'s highest top. The page events\' own pages are counted apart.',
    },
    {
      id: 'call-sites',
      title: 'Waste per call site (bytes_alloc − bytes_req), most as traced first',
      columns: [
        { key: 'callSite', label: 'call site' },
        { key: 'allocs', label: 'allocations' },
        { key: 'bytesReq', label: 'requested', unit: 'bytes' },
        { key: 'wasteTrace', label: 'waste, traced kernel', unit: 'bytes' },
        { key: 'wasteKmem', label: 'waste, kmem', unit: 'bytes' },
      ],
      rows: siteRows,
    },
  ];
  if (r.mismatches.length > 0) {
    tables.push({
      id: 'kmalloc-mismatches',
      title: "kmalloc requests whose kmem size class differs from the trace's bytes_alloc",
      columns: [
        { key: 'line', label: 'line' },
        { key: 'callSite', label: 'call site' },
        { key: 'bytesReq', label: 'bytes_req' },
        { key: 'traceBytes', label: 'bytes_alloc (trace)' },
        { key: 'kmemBytes', label: 'kmem ksize' },
      ],
      rows: r.mismatches.map((m) => ({ ...m })),
      note: r.kmallocMismatches > r.mismatches.length ? `the first ${r.mismatches.length} of ${r.kmallocMismatches}` : undefined,
    });
  }
  return { summary, tables };
}
