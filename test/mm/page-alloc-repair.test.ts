// A worker killed by terminate() can stop anywhere V8 checks for interrupts, half-way through an
// operation of the page allocator. Here a second kernel handle in this thread plays that worker: it
// takes the zone lock, leaves the zone as a kill at one such point would, and is offlined. The
// next thread to want the lock takes it over and rebuilds the zone (page-alloc-repair.ts); a page
// the dead CPU had taken off its per-CPU list goes back when it is offlined (drainCpu).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { pageAllocInternals } from '../../src/mm/page-alloc.ts';
import { P, pcpBaseOf, pcpList, pcpPopHot, pcpRing } from '../../src/mm/pcp.ts';
import { MigrateType, PageFlag } from '../../src/mm/types.ts';
import { H } from '../../src/mm/arena-header.ts';
import { addFree, delFree, type Zone } from '../../src/mm/zone.ts';

interface Dying {
  kernel: Kernel;
  /** The dying worker's view of the machine. */
  other: Kernel;
  zone: Zone;
}

/** A kernel and a second handle (another CPU) that dies holding the Normal zone's lock after `tear`. */
function dieHolding(options: { pcp?: boolean }, prepare: (d: Dying) => void, tear: (d: Dying) => void): Kernel {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3, ...options });
  const other = Kernel.attach(kernel.buffer);
  const zone = other.pages.zones.at(-1)!;
  const d = { kernel, other, zone };
  prepare(d);
  const cpu = other.cpu;
  zone.lock.acquire();
  tear(d);
  // The worker is gone: its exit handler offlines its CPU, whose per-CPU teardown wants the lock.
  assert.equal(kernel.offlineCpu(cpu), true);
  assert.equal(kernel.lockRecoveries.length, 1, 'the zone lock was taken over');
  assert.match(kernel.lockRecoveries[0]!.holder, new RegExp(`CPU ${cpu} \\(epoch \\d+, offlined`));
  kernel.validate();
  return kernel;
}

test('a split stopped half-way (a block off its list, one half listed): the rest of it is free again', () => {
  let before = 0;
  const kernel = dieHolding(
    {},
    ({ kernel }) => (before = kernel.pages.freePagesTotal),
    ({ zone }) => {
      const head = zone.listHead(10, MigrateType.Movable);
      assert.notEqual(head, -1);
      delFree(zone, head, 10, MigrateType.Movable);
      addFree(zone, head + 512, 9, MigrateType.Movable, false);
    },
  );
  assert.equal(kernel.pages.freePagesTotal, before, 'no page lost');
  // The block is whole again: as many order-10 blocks as before can be had.
  assert.ok(kernel.pages.zones.at(-1)!.nrFree(10) > 0);
});

test('a free stopped inside its merge (the page marked freed, its buddy off the list): both are free, merged', () => {
  let before = 0;
  let pfn = 0;
  const kernel = dieHolding(
    { pcp: false },
    ({ other }) => {
      pfn = other.pages.allocPages(0, GFP.KERNEL);
      before = other.pages.freePagesTotal;
    },
    ({ other, zone }) => {
      const { flags } = other.memMap;
      flags[pfn] = PageFlag.Freed;
      delFree(zone, pfn ^ 1, 0, other.pages.pageblockMt[pfn >>> 9]!);
    },
  );
  assert.equal(kernel.pages.freePagesTotal, before + 1, 'the page being freed is free, and its buddy too');
  assert.throws(() => kernel.pages.freePages(pfn, 0), /double free|not allocated/i);
});

test('a compound allocation whose tails were half cleared (a free stopped in clearCompound) is whole again, and frees', () => {
  let pfn = 0;
  const kernel = dieHolding(
    {},
    ({ other }) => (pfn = other.pages.allocPages(3, GFP.KERNEL | GFP.COMP)),
    ({ other }) => {
      for (let tail = pfn + 1; tail < pfn + 4; tail++) other.memMap.flags[tail] = 0;
    },
  );
  const before = kernel.pages.freePagesTotal;
  kernel.pages.freePages(pfn, 3);
  assert.equal(kernel.pages.freePagesTotal, before + 8);
  kernel.validate();
});

test('a block marked Buddy but not yet linked (an insertion stopped before its links) is listed', () => {
  let before = 0;
  const kernel = dieHolding(
    {},
    ({ kernel }) => (before = kernel.pages.freePagesTotal),
    ({ other, zone }) => {
      const head = zone.listHead(9, MigrateType.Movable) === -1 ? zone.listHead(10, MigrateType.Movable) : zone.listHead(9, MigrateType.Movable);
      const order = other.memMap.order[head]!;
      delFree(zone, head, order, MigrateType.Movable);
      other.memMap.flags[head] = other.memMap.flags[head]! | PageFlag.Buddy; // addFree's first store, and no more
    },
  );
  assert.equal(kernel.pages.freePagesTotal, before);
});

test('a page a dead CPU took off its per-CPU list and never handed out goes back when the CPU is offlined', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  const other = Kernel.attach(kernel.buffer);
  // Fill the worker's list a little: a refill, then a free.
  const pfn = other.pages.allocPages(0, GFP.KERNEL);
  other.pages.freePages(pfn, 0);
  const total = kernel.pages.freePagesTotal;
  // The allocation's first step, the pop, and nothing after it (the worker is killed there).
  const { pcp } = pageAllocInternals(other.pages);
  const zone = other.pages.zones.at(-1)!;
  const base = pcpBaseOf(other.cpu, zone.id);
  const popped = pcpPopHot(pcp, pcpList(base, MigrateType.Unmovable), pcpRing(pcp, base, MigrateType.Unmovable), pcp[base + P.CAPACITY]! - 1);
  assert.equal(popped, pfn);
  assert.throws(() => kernel.validate(), /walked 0 pages, count says 1|marked Pcp but is on no CPU's list/);
  kernel.offlineCpu(other.cpu);
  kernel.validate();
  assert.equal(kernel.pages.freePagesTotal, total, 'the page, and the count that disagreed with the list, are back');
  assert.equal(kernel.pages.pcpPages(), 0);
});

test('with a page limit, what a dead CPU had in flight for the counter is taken back when it is offlined', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3, pageLimit: 10_000 });
  const other = Kernel.attach(kernel.buffer);
  const held = other.pages.allocPages(2, GFP.KERNEL); // the counter and the word in use once
  const { pcp } = pageAllocInternals(other.pages);
  const inFlight = pcpBaseOf(other.cpu, 0) + P.LIMIT_IN_FLIGHT;
  assert.equal(pcp[inFlight], 0, 'nothing in flight between operations');
  // #attempt's first step on the other CPU, the counter raised for an order-3 block, and no more.
  Atomics.add(kernel.header.words, H.PAGES_LIMITED, 8);
  pcp[inFlight] = 8;
  assert.throws(() => kernel.validate(), /in flight for the page limit/);
  kernel.offlineCpu(other.cpu);
  kernel.validate();
  assert.equal(kernel.header.get(H.PAGES_LIMITED), 4, 'the counter holds the block still allocated, no more');
  kernel.pages.freePages(held, 2);
  assert.equal(kernel.header.get(H.PAGES_LIMITED), 0);
  kernel.validate();
});

// Every change of the page-limit counter must be mirrored in the changing CPU's in-flight word, or
// a kill between the counter's change and the block's leaves the counter wrong for good. The word
// is the CPU's, with or without per-CPU lists, and from the CPU's first operation of any order.
// Seen from inside: an allocation raises the counter and sets the word in one run of stores, then
// takes the zone lock (an Atomics.compareExchange on a shared arena); a free sets the word under
// the lock and lowers the counter after it. Each operation must show its CPU's word set at one of
// those Atomics calls.
test('with a page limit, every change of the counter is in the CPU\'s in-flight word: without per-CPU lists, and before any order-0 operation', () => {
  for (const pcp of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3, pageLimit: 10_000, pcp });
    // A second CPU whose first operation is of order 2, and a third that only frees.
    const other = Kernel.attach(kernel.buffer);
    const freer = Kernel.attach(kernel.buffer);
    const { pcp: words } = pageAllocInternals(kernel.pages);
    const inFlight = (cpu: number): number => words[pcpBaseOf(cpu, 0) + P.LIMIT_IN_FLIGHT] as number;
    let seen = new Set<string>();
    const ops = { add: Atomics.add, sub: Atomics.sub, compareExchange: Atomics.compareExchange };
    const spy = <F extends (...args: never[]) => unknown>(op: F): F =>
      ((...args: Parameters<F>) => {
        for (const cpu of [other.cpu, freer.cpu]) if (inFlight(cpu) !== 0) seen.add(`CPU ${cpu}: ${inFlight(cpu)}`);
        return op(...args);
      }) as F;
    const during = (what: () => void): string[] => {
      seen = new Set();
      Object.assign(Atomics, { add: spy(ops.add), sub: spy(ops.sub), compareExchange: spy(ops.compareExchange) });
      try {
        what();
      } finally {
        Object.assign(Atomics, ops);
      }
      return [...seen];
    };
    let block = -1;
    let page = -1;
    const o = other.cpu;
    const f = freer.cpu;
    assert.deepEqual(during(() => (block = other.pages.allocPages(2, GFP.KERNEL))), [`CPU ${o}: 4`], `pcp ${pcp}: an order-2 allocation, the CPU's first operation`);
    assert.deepEqual(during(() => freer.pages.freePages(block, 2)), [`CPU ${f}: 4`], `pcp ${pcp}: an order-2 free, the CPU's first operation`);
    if (!pcp) {
      assert.deepEqual(during(() => (page = other.pages.allocPages(0, GFP.KERNEL))), [`CPU ${o}: 1`], 'an order-0 allocation without per-CPU lists');
      assert.deepEqual(during(() => freer.pages.freePages(page, 0)), [`CPU ${f}: 1`], 'an order-0 free without per-CPU lists');
    }
    assert.equal(inFlight(o) | inFlight(f), 0, 'nothing in flight between operations');
    kernel.validate();
  }
});
