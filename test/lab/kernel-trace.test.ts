import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseKmemLine } from '../../src/lab/kernel-trace/ftrace-kmem.ts';
import { replayKmemTrace } from '../../src/lab/kernel-trace/replay.ts';
import { TraceFormatError, textLines } from '../../src/util/lines.ts';
import { fileLines } from '../../src/util/file-lines.ts';

const FIXTURE_6X = new URL('../../examples/traces/kmem-6x.trace', import.meta.url).pathname;
const FIXTURE_5X = new URL('../../examples/traces/kmem-5x.trace', import.meta.url).pathname;

const replayText = (text: string) => replayKmemTrace(() => textLines(text), '<trace>');

test('kmem trace replay: the 6.x fixture gives the hand-computed counts, waste per call site and peaks', () => {
  const r = replayKmemTrace(() => fileLines(FIXTURE_6X), FIXTURE_6X);
  assert.equal(r.callSiteFormat, 'symbol');
  assert.deepEqual(r.events, { kmalloc: 8, cacheAlloc: 1, kfree: 3, cacheFree: 1, pageAlloc: 2, pageFree: 2 });
  // Every kmalloc lands in the size class Linux's trace reports (640→1024, 1500→2048, 700→1024,
  // 56→64, 96→96, 12288→16384 from the page allocator, 200→256, 3000→4096).
  assert.equal(r.kmallocChecked, 8);
  assert.equal(r.kmallocMismatches, 0);
  assert.equal(r.nullFrees, 1);
  assert.equal(r.unknownFrees, 1);
  assert.equal(r.unknownPageFrees, 1);
  assert.equal(r.reusedPointers, 0);
  // Waste bytes_alloc − bytes_req per site: kvmalloc 4096, __alloc_skb 548+324+1096, pipe 384+56,
  // load_elf_phdrs 8+0, alloc_inode 0; most first.
  assert.deepEqual(
    r.callSites.map((s) => [s.callSite, s.allocs, s.bytesReq, s.bytesAllocTrace, s.bytesAllocKmem]),
    [
      ['kvmalloc_node_noprof+0x4b/0x100 [xfs]', 1, 12288, 16384, 16384],
      ['__alloc_skb+0x8d/0x330', 3, 5200, 7168, 7168],
      ['alloc_pipe_info+0x6a/0x1d0', 2, 840, 1280, 1280],
      ['load_elf_phdrs+0x57/0xb0', 2, 152, 160, 160],
      ['alloc_inode+0x57/0xb0', 1, 1184, 1184, 1184],
    ],
  );
  // Live bytes requested: 640, 2140, 2840, 4024, 4080, 4176, 16464, −1500, −1184, +200, +3000 = 16980.
  assert.equal(r.peakRequestedBytes, 16980);
  assert.equal(r.largestRequestBytes, 12288);
  // Fixed slots: at most 7 objects live at once, each in a 12288-byte slot: 86016 bytes = 21 pages.
  assert.deepEqual(r.designs.find((d) => d.design === 'fixed slots'), { design: 'fixed slots', peakBytes: 86016, failed: 0 });
  // Page events: 1 page, then 4 more while it is live.
  assert.equal(r.peakPageEventBytes, 5 * 4096);
  assert.equal(r.liveObjectsAtEnd, 7);
  assert.equal(r.livePageBlocksAtEnd, 1);
  assert.match(r.slabinfo, /^ext4_inode_cache\s+\d+\s+\d+\s+1184 /m);
  const kmem = r.designs.find((d) => d.design === 'kmem');
  // kmem holds slabs for 64, 96, 256, 1024 (×2), 2048→freed, 4096, ext4_inode_cache plus the
  // order-2 page of the large kmalloc: at least the 4 pages of the large kmalloc and one slab.
  assert.ok(kmem !== undefined && kmem.peakBytes >= 5 * 4096 && kmem.failed === 0);
});

test('kmem trace replay: the pre-6.1 format (raw call-site addresses, kmalloc_node, decimal pfn)', () => {
  const r = replayKmemTrace(() => fileLines(FIXTURE_5X), FIXTURE_5X);
  assert.equal(r.callSiteFormat, 'address');
  assert.deepEqual(r.events, { kmalloc: 2, cacheAlloc: 1, kfree: 1, cacheFree: 1, pageAlloc: 1, pageFree: 1 });
  assert.equal(r.kmallocMismatches, 0);
  assert.equal(r.unknownFrees + r.unknownPageFrees, 0);
  assert.equal(r.liveObjectsAtEnd, 1);
  assert.equal(r.livePageBlocksAtEnd, 0);
  assert.match(r.slabinfo, /^trace-232\s+\d+\s+\d+\s+232 /m);
});

test('kmem trace replay: a kmalloc whose traced size class differs from kmem\'s is listed with its line', () => {
  const line = (ptr: string, req: number, alloc: number) =>
    `  a-1 [000] ..... 1.000000: kmalloc: call_site=f+0x1/0x2 ptr=${ptr} bytes_req=${req} bytes_alloc=${alloc} gfp_flags=GFP_KERNEL node=-1 accounted=false`;
  // A kernel with slub_debug red zones reports 80 for a 64-byte request; kmem gives 64.
  const r = replayText([line('01', 64, 64), line('02', 60, 80), line('03', 100, 128)].join('\n'));
  assert.equal(r.kmallocChecked, 3);
  assert.equal(r.kmallocMismatches, 1);
  assert.deepEqual(r.mismatches, [{ line: 2, callSite: 'f+0x1/0x2', bytesReq: 60, traceBytes: 80, kmemBytes: 64 }]);
});

test('kmem trace replay: an allocation of a pointer still live counts a lost free and replaces the object', () => {
  const alloc = (req: number) =>
    `  a-1 [000] ..... 1.000000: kmalloc: call_site=f+0x1/0x2 ptr=00ab bytes_req=${req} bytes_alloc=${req} gfp_flags=GFP_KERNEL node=-1 accounted=false`;
  const r = replayText([alloc(64), alloc(32), '  a-1 [000] ..... 1.0: kfree: call_site=g+0x1/0x2 ptr=00ab'].join('\n'));
  assert.equal(r.reusedPointers, 1);
  assert.equal(r.liveObjectsAtEnd, 0);
  assert.equal(r.peakRequestedBytes, 64);
});

test('kmem trace replay: every malformed kmem event is a TraceFormatError naming the file and line', () => {
  const prefix = '  t-1 [000] ..... 1.000000: ';
  const bad = [
    'kmalloc: call_site=f+0x1/0x2 ptr=0001 bytes_alloc=64 gfp_flags=GFP_KERNEL',
    'kmalloc: call_site=f+0x1/0x2 ptr=0001 bytes_req=100 bytes_alloc=64 gfp_flags=GFP_KERNEL',
    'kmalloc: call_site=f+0x1/0x2 ptr=zzzz bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL',
    'kmem_cache_alloc: ptr=0001 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL',
    'kfree: call_site=f+0x1/0x2',
    'kmem_cache_free: call_site=f+0x1/0x2 ptr=-1',
    'mm_page_alloc: page=00000000feedbeef pfn=0x10 migratetype=0 gfp_flags=GFP_KERNEL',
    'mm_page_alloc: page=00000000feedbeef pfn=0xZZ order=0 migratetype=0 gfp_flags=GFP_KERNEL',
    'mm_page_free: page=00000000feedbeef pfn=0x10',
    'mm_page_free_batched: page=00000000feedbeef',
  ];
  for (const [i, event] of bad.entries()) {
    const text = `# comment\n${prefix}kfree: call_site=f+0x1/0x2 ptr=0000000000000000\n${prefix}${event}\n`;
    assert.throws(
      () => replayKmemTrace(() => textLines(text), 'trace.txt'),
      (e: unknown) => e instanceof TraceFormatError && e.file === 'trace.txt' && e.line === 3 && e.message.startsWith('trace.txt:3: '),
      `case ${i}: ${event}`,
    );
  }
});

test('kmem trace parser: skips what is not a kmem event, reads module call sites and a failed page allocation', () => {
  assert.equal(parseKmemLine('CPU:1 [LOST 3 EVENTS]', 1), null);
  assert.equal(parseKmemLine('  t-1 [000] ..... 1.0: sched_switch: prev_comm=a prev_pid=1', 1), null);
  assert.equal(parseKmemLine('  t-1 [000] ..... 1.0: mm_page_alloc: page=0000000000000000 pfn=0x0 order=9 migratetype=1 gfp_flags=GFP_TRANSHUGE', 1), null);
  const e = parseKmemLine('  t-1 (  1) [003] d..2. 7.5: kmem_cache_free: call_site=xfs_inode_free+0x1/0x2 [xfs] ptr=00000000deadbeef name=xfs_inode', 9);
  assert.deepEqual(e, { line: 9, cpu: 3, timestampS: 7.5, kind: 'cacheFree', callSite: 'xfs_inode_free+0x1/0x2 [xfs]', ptr: '00000000deadbeef', cacheName: 'xfs_inode' });
});

test('kmem trace replay: the fixture files are what the tests above read', () => {
  // The fixtures ship in examples/ for `kmem replay`; a change to them must come with new figures.
  assert.equal(readFileSync(FIXTURE_6X, 'utf8').split('\n').filter((l) => / (kmalloc|kfree|kmem_cache_\w+|mm_page_\w+): /.test(l)).length, 17);
});

test('kmem trace generator: both formats replay with every kmalloc in the size class the trace names', async () => {
  const { generateKmemTrace } = await import('../../src/lab/kernel-trace/generate.ts');
  for (const format of ['6.x', 'pre-6.1'] as const) {
    const lines: string[] = [];
    generateKmemTrace({ seed: 7, events: 20_000, format }, (l) => lines.push(l));
    const again: string[] = [];
    generateKmemTrace({ seed: 7, events: 20_000, format }, (l) => again.push(l));
    assert.deepEqual(again, lines, 'same seed, same trace');
    const r = replayText(lines.join('\n'));
    assert.equal(r.callSiteFormat, format === '6.x' ? 'symbol' : 'address');
    const total = Object.values(r.events).reduce((a, b) => a + b, 0);
    assert.equal(total, 20_000);
    assert.ok(r.kmallocChecked > 4000, `${r.kmallocChecked} kmallocs checked`);
    assert.equal(r.kmallocMismatches, 0);
    // Pointers are reused only after their free, and the frees of pre-trace objects are counted.
    assert.equal(r.reusedPointers, 0);
    assert.ok(r.unknownFrees > 10 && r.unknownFrees < 200, `${r.unknownFrees} frees of pre-trace objects`);
    assert.equal(r.unknownPageFrees, 0);
    // Slab size classes beat one max-size slot per object by far; the general allocator is closest.
    const peak = Object.fromEntries(r.designs.map((d) => [d.design, d.peakBytes]));
    assert.ok((peak['fixed slots'] as number) > 5 * (peak['kmem'] as number), JSON.stringify(peak));
    assert.ok((peak['kmem'] as number) >= r.peakRequestedBytes, JSON.stringify(peak));
    assert.ok((peak['general'] as number) >= r.peakRequestedBytes, JSON.stringify(peak));
  }
});

test('kmem trace replay report: summary lines and tables from the fixture, with the mismatch table only when one exists', async () => {
  const { replayReport } = await import('../../src/lab/kernel-trace/replay-tables.ts');
  const report = replayReport(replayKmemTrace(() => fileLines(FIXTURE_6X), FIXTURE_6X));
  assert.match(report.summary[1] ?? '', /^kmalloc size classes: 8 of 8 equal/);
  assert.deepEqual(report.tables.map((t) => t.id), ['designs', 'call-sites']);
  assert.deepEqual(report.tables[1]?.rows[0], { callSite: 'kvmalloc_node_noprof+0x4b/0x100 [xfs]', allocs: 1, bytesReq: 12288, wasteTrace: 4096, wasteKmem: 4096 });
  const fixed = report.tables[0]?.rows.find((row) => row['design'] === 'fixed slots');
  assert.equal(fixed?.['overRequested'], 86016 / 16980);
});
