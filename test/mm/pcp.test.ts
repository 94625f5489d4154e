// Per-CPU page lists (Linux's pcp): sizing as zone_batchsize()/zone_highsize() compute it, the
// fast path that leaves the buddy allocator alone, batch refills and drains, draining on failure,
// validate() counting them, and /proc/zoneinfo's pagesets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { pageAllocInternals } from '../../src/mm/page-alloc.ts';
import { P, PCP_FREES_FOLD, PcpStat, pcpBaseOf, pcpInit, pcpLength, pcpList, pcpPopCold, pcpPopHot, pcpPushCold, pcpPushHot, pcpRing, pcpStatBase, zoneBatchsize, zoneHighsize, lowWatermarkPages } from '../../src/mm/pcp.ts';
import { NO_PFN, ZoneId } from '../../src/mm/types.ts';
import { zoneinfoPagesets } from '../../src/mm/vmstat.ts';
import { addFree } from '../../src/mm/zone.ts';
import { InvariantError } from '../../src/util/errors.ts';

test('batch and high follow Linux 6.6: batch 63 from 1 GiB zones up, high = max(low watermark / CPUs, 4 batch)', () => {
  assert.equal(zoneBatchsize(262_144), 63); // 1 GiB
  assert.equal(zoneBatchsize(4_000_000), 63); // capped at 1 MiB / 4
  assert.equal(zoneBatchsize(65_536), 15); // 256 MiB: 64/4 = 16 → rounddown_pow_of_two(24) − 1
  assert.equal(zoneBatchsize(16_384), 3);
  assert.equal(zoneBatchsize(100), 1, 'never below 1 (zone_set_pageset_high_and_batch)');
  // 4 GiB of lowmem: min_free_kbytes = sqrt(4 GiB in KiB · 16) = 8192 KiB = 2048 pages.
  assert.equal(lowWatermarkPages(1 << 20, 1 << 20), 2048 + Math.max(512, 1048));
  assert.equal(zoneHighsize(1 << 20, 1 << 20, 63, 2), Math.floor(3096 / 2));
  assert.equal(zoneHighsize(100, 1 << 20, 1, 2), 4, 'at least 4 · batch');
  const kernel = Kernel.boot({ ramBytes: '1GiB', cpus: 4 });
  const normal = kernel.pages.pagesets().filter((s) => s.zone === 'Normal');
  assert.equal(normal.length, 4);
  for (const set of normal) assert.equal(set.batch, 63);
});

test('order-0 pairs on a fresh machine stay on the per-CPU list: one refill, then no split and no merge', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const pa = kernel.pages;
  const normal = () => pa.stats().zones[ZoneId.Normal]!;
  const first = pa.allocPages(0);
  pa.freePages(first, 0);
  const splits = normal().events.splits;
  const merges = normal().events.merges;
  for (let i = 0; i < 1000; i++) pa.freePages(pa.allocPages(0), 0);
  assert.equal(normal().events.splits, splits);
  assert.equal(normal().events.merges, merges);
  assert.equal(normal().pcpEvents.refills, 1);
  assert.equal(normal().pcpEvents.allocs, 1001);
  assert.equal(normal().pcpEvents.frees, 1001);
  assert.equal(pa.cpu, 0);
  kernel.validate();
});

test('frees beyond high go back a batch at a time; the count stays below high', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const pa = kernel.pages;
  const set = pa.pagesets().find((s) => s.zone === 'Normal' && s.cpu === 0)!;
  const held = Array.from({ length: set.high * 3 }, () => pa.allocPages(0));
  for (const pfn of held) {
    pa.freePages(pfn, 0);
    const now = pa.pagesets().find((s) => s.zone === 'Normal' && s.cpu === 0)!;
    assert.ok(now.count < now.high, `count ${now.count}, high ${now.high}`);
  }
  const events = pa.stats().zones[ZoneId.Normal]!.pcpEvents;
  assert.ok(events.drains > 0 && events.drainPages === events.drains * set.batch, JSON.stringify(events));
  kernel.validate();
  assert.equal(pa.freePagesTotal, pa.buddyFreePagesTotal + pa.pcpPages());
});

test('a higher-order allocation that fails drains the per-CPU lists and succeeds', () => {
  const kernel = Kernel.boot({ ramBytes: '8MiB' });
  const pa = kernel.pages;
  const held: number[] = [];
  for (let p = pa.tryAllocPages(0, GFP.NORETRY); p !== null; p = pa.tryAllocPages(0, GFP.NORETRY)) held.push(p);
  assert.equal(pa.buddyFreePagesTotal + pa.pcpPages(), 0);
  const base = held.find((p) => p % 8 === 0 && [1, 2, 3, 4, 5, 6, 7].every((d) => held.includes(p + d)))!;
  for (let d = 0; d < 8; d++) pa.freePages(base + d, 0);
  assert.equal(pa.pcpPages(), 8, 'the eight pages wait on the per-CPU list');
  assert.equal(pa.zones[0]!.nrFree(3), 0, 'the buddy allocator has no order-3 block');
  const block = pa.allocPages(3);
  assert.equal(block, base);
  assert.equal(pa.pcpPages(), 0);
  kernel.validate();
  pa.freePages(block, 3);
  for (const p of held) if (p < base || p >= base + 8) pa.freePages(p, 0);
  kernel.validate();
});

test('an order-0 request of another migratetype under pressure drains the lists before failing', () => {
  const kernel = Kernel.boot({ ramBytes: '8MiB' });
  const pa = kernel.pages;
  const held: number[] = [];
  for (let p = pa.tryAllocPages(0, GFP.HIGHUSER_MOVABLE | GFP.NORETRY); p !== null; p = pa.tryAllocPages(0, GFP.HIGHUSER_MOVABLE | GFP.NORETRY)) held.push(p);
  pa.freePages(held.pop()!, 0);
  assert.equal(pa.buddyFreePagesTotal, 0);
  const unmovable = pa.allocPages(0, GFP.KERNEL);
  assert.equal(pa.pcpPages(), 0);
  pa.freePages(unmovable, 0);
  for (const p of held) pa.freePages(p, 0);
  kernel.validate();
});

test('offlineCpu(n) gives CPU n’s per-CPU pages back (page_alloc_cpu_dead); detach() gives back this thread’s', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 3 });
  const other = Kernel.attach(kernel.buffer);
  // The other "thread" parks pages on its CPU's lists, then dies without detach().
  other.pages.freePages(other.pages.allocPages(0), 0);
  const dead = other.pages.cpu;
  assert.ok(dead >= 0 && other.pages.pcpPages() > 0);
  kernel.pages.freePages(kernel.pages.allocPages(0), 0);
  const mine = kernel.pages.pagesets().find((s) => s.cpu === kernel.pages.cpu && s.zone === 'Normal')!.count;
  kernel.offlineCpu(dead);
  assert.equal(kernel.pages.pcpPages(), mine, 'only the offlined CPU’s lists were drained');
  kernel.validate();
  kernel.detach();
  assert.equal(kernel.pages.pcpPages(), 0);
  assert.equal(kernel.pages.cpu, -1);
  kernel.pages.freePages(kernel.pages.allocPages(0), 0);
  assert.ok(kernel.pages.cpu >= 0, 'the next order-0 call claims a slot again');
  assert.throws(() => kernel.pages.drainCpu(99), /cpu 99/);
  kernel.validate();
});

test('drainCpu drains a slot another kernel handle of this thread holds (calls on one thread never interleave), and that handle goes on from empty lists', () => {
  // What buddy-fragmentation does on a copy of its arena, whose slots this thread's kernel holds.
  // A slot another thread holds is refused (page-alloc-workers.test.ts).
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 3 });
  const other = Kernel.attach(kernel.buffer);
  const held = Array.from({ length: 40 }, () => other.pages.allocPages(0));
  for (const pfn of held.slice(0, 20)) other.pages.freePages(pfn, 0);
  const theirs = other.pages.cpu;
  const listed = other.pages.pagesets().filter((s) => s.cpu === theirs).reduce((sum, s) => sum + s.count, 0);
  assert.ok(theirs >= 0 && theirs !== kernel.cpu && listed > 0);
  assert.equal(kernel.pages.drainCpu(theirs), listed);
  kernel.validate();
  // The other handle's fast paths find its lists empty, refill them, and free into them.
  const again = Array.from({ length: 20 }, () => other.pages.allocPages(0));
  assert.equal(new Set([...held.slice(20), ...again]).size, 40, 'no pfn handed out twice');
  for (const pfn of [...held.slice(20), ...again]) other.pages.freePages(pfn, 0);
  kernel.validate();
});

test('validate() counts the per-CPU lists: a wrong count or a lost page is caught', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  pa.freePages(pa.allocPages(0), 0);
  kernel.validate();
  const { pcp } = pageAllocInternals(pa);
  const count = pcpBaseOf(pa.cpu, ZoneId.Normal) + P.COUNT;
  pcp[count] = (pcp[count] as number) - 1;
  assert.throws(() => kernel.validate(), (e: unknown) => e instanceof InvariantError && /walked \d+ pages, count says/.test((e as Error).message));
  pcp[count] = (pcp[count] as number) + 1;
  kernel.validate();
});

test('a list is LIFO at its hot end across ring wrap-arounds; an empty list reads the sentinel and refills', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  const { pcp } = pageAllocInternals(pa);
  pa.freePages(pa.allocPages(0), 0);
  const base = pcpBaseOf(pa.cpu, ZoneId.Normal);
  const capacity = pcp[base + P.CAPACITY] as number;
  const set = () => pa.pagesets().find((s) => s.zone === 'Normal' && s.cpu === pa.cpu)!;
  const { high, batch } = set();
  // Each round refills the emptied list (cold end) and frees past high (a drain from the cold end):
  // start and end both travel around the ring several times.
  let refills = pa.stats().zones[ZoneId.Normal]!.pcpEvents.refills;
  for (let round = 0; round < Math.ceil((4 * capacity) / batch); round++) {
    const held: number[] = [];
    for (let i = 0; set().count > 0; i++) {
      assert.ok(i < high + batch, `the list still holds ${set().count} pages after ${i} allocations`);
      held.push(pa.allocPages(0));
    }
    held.push(pa.allocPages(0)); // the empty list: the hot end reads the sentinel, the general path refills
    const events = pa.stats().zones[ZoneId.Normal]!.pcpEvents;
    assert.equal(events.refills, refills + 1);
    refills = events.refills;
    assert.equal(new Set(held).size, held.length, 'no page handed out twice');
    for (const pfn of held) pa.freePages(pfn, 0);
    // LIFO: the page freed last comes back first.
    const hot = pa.allocPages(0);
    assert.equal(hot, held[held.length - 1]);
    pa.freePages(hot, 0);
    assert.ok(set().count < high);
    kernel.validate();
  }
  assert.equal(pa.freePagesTotal, pa.buddyFreePagesTotal + pa.pcpPages());
});

test('ring operations: LIFO at the hot end, FIFO from the cold end, the sentinel kept below start', () => {
  const capacity = 8;
  const mask = capacity - 1;
  const w = new Int32Array(16 + 3 * capacity);
  pcpInit(w, 0, 3, 2, 16, capacity);
  const list = pcpList(0, 0);
  const ring = pcpRing(w, 0, 0);
  assert.equal(pcpPopHot(w, list, ring, mask), NO_PFN, 'an empty list shows the sentinel');
  assert.equal(pcpPopCold(w, list, ring, mask), NO_PFN);
  for (let i = 0; i < mask; i++) pcpPushHot(w, list, ring, mask, 100 + i);
  assert.equal(pcpLength(w, list, mask), mask);
  assert.throws(() => pcpPushHot(w, list, ring, mask, 200), (e: unknown) => e instanceof InvariantError && /sentinel/.test((e as Error).message));
  assert.throws(() => pcpPushCold(w, list, ring, mask, 200), (e: unknown) => e instanceof InvariantError && /sentinel/.test((e as Error).message));
  assert.equal(pcpPopCold(w, list, ring, mask), 100, 'the cold end is the oldest page');
  for (let i = mask - 1; i >= 1; i--) assert.equal(pcpPopHot(w, list, ring, mask), 100 + i);
  assert.equal(pcpPopHot(w, list, ring, mask), NO_PFN);
  // Refills go below start, around the ring; the page added first is taken first from the hot end.
  for (let round = 0; round < 3 * capacity; round++) {
    pcpPushCold(w, list, ring, mask, 1);
    pcpPushCold(w, list, ring, mask, 2);
    assert.equal(w[ring + (((w[list] as number) - 1) & mask)], NO_PFN);
    assert.equal(pcpPopHot(w, list, ring, mask), 1);
    assert.equal(pcpPopCold(w, list, ring, mask), 2);
    assert.equal(pcpPopHot(w, list, ring, mask), NO_PFN);
  }
});

test('validate() catches a lost sentinel below a list’s start', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  pa.freePages(pa.allocPages(0), 0);
  const { pcp } = pageAllocInternals(pa);
  const base = pcpBaseOf(pa.cpu, ZoneId.Normal);
  const capacity = pcp[base + P.CAPACITY] as number;
  const list = base + P.LISTS; // Unmovable, where GFP_KERNEL pages live
  const slot = (pcp[base + P.RINGS] as number) + (((pcp[list] as number) - 1) & (capacity - 1));
  const sentinel = pcp[slot] as number;
  pcp[slot] = 1;
  assert.throws(() => kernel.validate(), (e: unknown) => e instanceof InvariantError && /expected the sentinel -1/.test((e as Error).message));
  pcp[slot] = sentinel;
  kernel.validate();
});

test('order-0 DMA pages use the DMA zone’s list, freed through the general path', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const pa = kernel.pages;
  const dmaCount = () => pa.pagesets().find((s) => s.zone === 'DMA' && s.cpu === pa.cpu)!.count;
  const pfn = pa.allocPages(0, GFP.DMA);
  assert.equal(pa.zoneOf(pfn).name, 'DMA');
  const before = dmaCount();
  pa.freePages(pfn, 0);
  assert.equal(dmaCount(), before + 1);
  assert.equal(pa.allocPages(0, GFP.DMA), pfn, 'the DMA list hands back its hot page');
  assert.throws(() => pa.freePages(pfn, 0, 7), /owner/);
  pa.freePages(pfn, 0);
  assert.throws(() => pa.freePages(pfn, 0), /double free|already free/i);
  kernel.validate();
});

test('without pcp every order-0 page goes to the buddy allocator', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', pcp: false });
  const pa = kernel.pages;
  const before = pa.stats().zones.map((z) => z.freeBlocks.join(','));
  const pfn = pa.allocPages(0);
  pa.freePages(pfn, 0);
  assert.equal(pa.pcpPages(), 0);
  assert.deepEqual(pa.stats().zones.map((z) => z.freeBlocks.join(',')), before);
  assert.equal(pa.stats().pcpEnabled, false);
});

test('/proc/zoneinfo pagesets in Linux’s format', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', cpus: 2 });
  kernel.pages.freePages(kernel.pages.allocPages(0), 0);
  const text = zoneinfoPagesets(kernel.pages);
  const set = kernel.pages.pagesets().find((s) => s.zone === 'Normal' && s.cpu === 0)!;
  assert.match(text, /^Node 0, zone {6}DMA\n {2}pagesets\n {4}cpu: 0\n {14}count: 0\n {14}high: {2}\d+\n {14}batch: \d+\n {4}cpu: 1\n/);
  assert.ok(text.includes(`Node 0, zone   Normal\n  pagesets\n    cpu: 0\n              count: ${set.count}\n              high:  ${set.high}\n              batch: ${set.batch}\n`), text);
  assert.ok(set.count > 0);
});

test('the order-0 paths under a page limit, on a shared arena, and with every GFP flag', () => {
  for (const options of [{ pageLimit: 200 }, { shared: true }, { groupByMobility: false }]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', ...options });
    const pa = kernel.pages;
    const held: number[] = [];
    for (const gfp of [GFP.KERNEL, GFP.HIGHUSER_MOVABLE, GFP.RECLAIMABLE, GFP.DMA, GFP.ZERO, GFP.NORETRY | GFP.NOWARN]) {
      for (let i = 0; i < 20; i++) held.push(pa.allocPages(0, gfp, 7));
    }
    assert.equal(new Set(held).size, held.length, JSON.stringify(options));
    kernel.validate();
    for (const pfn of held) pa.freePages(pfn, 0, 7);
    assert.throws(() => pa.freePages(held[0]!, 0, 7), /double free/);
    kernel.validate();
    assert.equal(pa.freePagesTotal, pa.managedPagesTotal);
  }
});

test('a page limit still counts pages handed out from the per-CPU lists', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', pageLimit: 50 });
  const pa = kernel.pages;
  const held = Array.from({ length: 50 }, () => pa.allocPages(0));
  assert.throws(() => pa.allocPages(0), /limit of 50 pages/);
  pa.freePages(held.pop()!, 0);
  held.push(pa.allocPages(0));
  for (const pfn of held) pa.freePages(pfn, 0);
  kernel.validate();
});

test('assertion tiers: a list operation refuses a listed block; pageDebug catches corruption at the next call', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', pageDebug: true });
  const pa = kernel.pages;
  const pfn = pa.allocPages(0);
  pa.freePages(pfn, 0);
  const normal = pa.zones[ZoneId.Normal]!;
  const free = pa.findFreeBlock(normal.startPfn + 1)!;
  // Internal tier: listing a block that is already on a list is refused before any link changes.
  assert.throws(() => addFree(normal, free.pfn, free.order, 1, false), (e: unknown) => e instanceof InvariantError && /addFree/.test((e as Error).message));
  kernel.validate();
  // Expensive tier: a count knocked off by one is caught by the very next allocation.
  const { pcp } = pageAllocInternals(pa);
  const count = pcpBaseOf(pa.cpu, ZoneId.Normal) + P.COUNT;
  pcp[count] = (pcp[count] as number) + 1;
  assert.throws(() => pa.allocPages(3), InvariantError);
  pcp[count] = (pcp[count] as number) - 1;
  kernel.validate();
});

test('pcp frees: the fast path counts in an int32 word of the pcp, the general path folds it into the f64 counter at PCP_FREES_FOLD', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const pa = kernel.pages;
  const events = () => pa.stats().zones[ZoneId.Normal]!.pcpEvents;
  pa.freePages(pa.allocPages(0), 0);
  const { pcp, pcpStats } = pageAllocInternals(pa);
  const base = pcpBaseOf(pa.cpu, ZoneId.Normal);
  const fastFrees = () => pcp[base + P.FREES] as number;
  const before = events().frees;
  for (let i = 0; i < 100; i++) pa.freePages(pa.allocPages(0), 0);
  assert.equal(events().frees, before + 100);
  assert.ok(fastFrees() >= 100, 'counted in the pcp word, not the f64 counter');
  // A word at the fold point sends the next free down the general path, which folds it: no free is lost.
  const stat = pcpStatBase(base) + PcpStat.frees;
  const total = events().frees;
  pcpStats[stat] = (pcpStats[stat] as number) + fastFrees() - PCP_FREES_FOLD;
  pcp[base + P.FREES] = PCP_FREES_FOLD;
  assert.equal(events().frees, total, 'the same total, split differently');
  kernel.validate();
  pa.freePages(pa.allocPages(0), 0);
  assert.equal(fastFrees(), 0, 'folded');
  assert.equal(events().frees, total + 1);
  assert.equal(events().allocs, events().frees + events().refillPages - events().drainPages - pa.pcpPages(pa.zones[ZoneId.Normal]));
  pa.freePages(pa.allocPages(0), 0);
  assert.equal(fastFrees(), 1, 'the fast path counts again');
  // validate() bounds the word.
  pcp[base + P.FREES] = -1;
  assert.throws(() => kernel.validate(), (e: unknown) => e instanceof InvariantError && /frees not yet folded/.test((e as Error).message));
  pcp[base + P.FREES] = 1;
  kernel.validate();
});

test('a 4 GiB machine (an arena of 2^32 bytes) serves order-0 pairs from its per-CPU list', () => {
  // The fast paths view the whole arena as 32-bit words: 2^32 / 4 of them (2^32 >>> 2 would be 0).
  const kernel = Kernel.boot({ ramBytes: '4GiB' });
  const pa = kernel.pages;
  const held = [pa.allocPages(0), pa.allocPages(0, GFP.HIGHUSER_MOVABLE, 3)];
  for (const pfn of held) assert.ok(Number.isInteger(pfn) && pfn >= pa.zones[ZoneId.Normal]!.startPfn && pfn < pa.nrPages, String(pfn));
  assert.equal(pa.memMap.owner[held[1]!], 3);
  pa.freePages(held[0]!, 0);
  pa.freePages(held[1]!, 0, 3);
  for (let i = 0; i < 1000; i++) pa.freePages(pa.allocPages(0), 0);
  const events = pa.stats().zones[ZoneId.Normal]!.pcpEvents;
  assert.equal(events.frees, 1002);
  assert.throws(() => pa.freePages(held[0]!, 0), /double free/);
  kernel.validate();
});
