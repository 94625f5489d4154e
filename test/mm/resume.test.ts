// Resume from a byte copy: copy the arena mid-run, load it in a new process, attach, continue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../../src/mm/kernel.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { H } from '../../src/mm/arena-header.ts';
import { DoubleFreeError } from '../../src/mm/errors.ts';
import { pageAllocInternals } from '../../src/mm/page-alloc.ts';
import { P, pcpBaseOf } from '../../src/mm/pcp.ts';
import { Prng } from '../../src/util/prng.ts';

test('a byte copy taken mid-run resumes in a new process: objects kept, slots offlined, lock recovered, allocation goes on', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', shared, cpus: 3 });
    const w = new Int32Array(kernel.buffer);
    const prng = new Prng(5);
    const other = Kernel.attach(kernel.buffer); // a second CPU with magazines of its own
    kernel.createCache('node', 48, { ctor: (addr) => void (w[(addr >>> 2) + 1] = 0x5eed) });
    kernel.createCache('ctorless', 64, { ctor: () => undefined });
    kernel.createCache('big', 700);
    other.registerCtor('node', (addr) => void (w[(addr >>> 2) + 1] = 0x5eed));
    const live: { addr: number; cache: string | null; stamp: number }[] = [];
    for (const k of [kernel, other]) {
      for (let i = 0; i < 3000; i++) {
        const name = (['node', 'big', null] as const)[i % 3] ?? null;
        const addr = name === null ? k.kmalloc(prng.range(8, 3000)) : k.slab.cache(name).alloc();
        const stamp = prng.nextU32() | 0;
        w[addr >>> 2] = stamp;
        live.push({ addr, cache: name, stamp });
      }
    }
    // Free a third at random, so that both CPUs' magazines hold rounds.
    for (let i = 0; i < 2000; i++) {
      const [o] = live.splice(prng.int(live.length), 1);
      const k = i % 2 === 0 ? kernel : other;
      if (o!.cache === null) k.kfree(o!.addr);
      else k.slab.cache(o!.cache).free(o!.addr);
    }
    const magazines = kernel.slab.stats().caches.reduce((n, c) => n + c.inMagazines, 0);
    assert.ok(magazines > 0, 'objects sit in magazines at the copy');
    other.slab.cache('big').slabLock.acquire(); // a lock held when the copy is taken
    const dir = mkdtempSync(join(tmpdir(), 'kmem-resume-'));
    writeFileSync(join(dir, 'image'), new Uint8Array(kernel.buffer.slice(0)));
    writeFileSync(join(dir, 'live.json'), JSON.stringify(live));
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./resume-child.ts', import.meta.url)), join(dir, 'image'), join(dir, 'live.json')], {
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout) as Record<string, unknown>;
    assert.equal(out.onlineAfterAttach, 0, 'every slot of the old process offlined at attach');
    assert.equal((out.recoveredAtAttach as string[]).length, 1, 'the held lock was taken over');
    assert.match((out.recoveredAtAttach as string[])[0]!, /CPU \d \(epoch \d+, offlined/);
    assert.equal(out.stampsIntact, true);
    assert.match(out.ctorlessError as string, /constructor/);
    assert.equal(out.freed, live.length);
    assert.equal(out.doublesRefused, live.length, 'each object was allocated exactly once');
    assert.equal(out.constructed, true);
    assert.equal(out.inUse, 0);
    assert.equal(out.validated, true);
  }
});

test('the page allocator resumes from a byte copy (docs/buddy.md, "What a byte copy keeps"): the old CPUs’ per-CPU pages go back, the page-limit count is corrected, every block is still its owner’s, the wrapper’s host-side state is rebuilt', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', shared, cpus: 3, pageLimit: 3000 });
    const other = Kernel.attach(kernel.buffer); // a second CPU with per-CPU lists of its own
    const live: { pfn: number; order: number; owner: number }[] = [];
    for (const [i, k] of [kernel, other].entries()) {
      const blocks = Array.from({ length: 300 }, (_, j) => ({ order: j % 4 === 0 ? 2 : 0, owner: 0x100 + i }));
      const pfns = blocks.map((b) => k.pages.allocPages(b.order, GFP.KERNEL, b.owner));
      // Every other block freed: the order-0 ones onto this CPU's per-CPU lists.
      blocks.forEach((b, j) => (j % 2 === 0 ? k.pages.freePages(pfns[j]!, b.order, b.owner) : live.push({ pfn: pfns[j]!, ...b })));
    }
    for (const k of [kernel, other]) assert.ok(kernel.pages.pagesets().some((s) => s.cpu === k.pages.cpu && s.count > 0));
    // The other CPU stopped inside an allocation: one page counted for the limit, not yet handed out.
    const inFlight = pcpBaseOf(other.pages.cpu, 0) + P.LIMIT_IN_FLIGHT;
    pageAllocInternals(kernel.pages).pcp[inFlight] = 1;
    kernel.header.set(H.PAGES_LIMITED, kernel.header.get(H.PAGES_LIMITED) + 1);
    const free = kernel.pages.freePagesTotal;
    // Counters a resume does not move (its drains free pages, they allocate none): the zones' and
    // the per-CPU lists' event counters and the zone locks' statistics are in the bytes.
    const kept = (k: Kernel) =>
      k.pages.stats().zones.map((z) => ({
        allocs: [z.events.allocBlocks, z.events.allocPages, z.events.splits, z.events.fallbacks],
        pcp: [z.pcpEvents.refills, z.pcpEvents.refillPages, z.pcpEvents.frees],
        lockAcquisitions: z.lock?.acquisitions ?? 0,
      }));
    const before = kept(kernel);
    assert.ok(before.some((z) => z.allocs[0]! > 0 && z.pcp[0]! > 0 && z.lockAcquisitions > 0));
    const copy = Kernel.attach(kernel.buffer.slice(0), { resume: true });
    const after = kept(copy);
    assert.deepEqual(
      after.map((z) => ({ allocs: z.allocs, pcp: z.pcp })),
      before.map((z) => ({ allocs: z.allocs, pcp: z.pcp })),
      'the event counters (zones.vmstat, pcp.vmstat) came with the copy',
    );
    after.forEach((z, i) => assert.ok(z.lockAcquisitions >= before[i]!.lockAcquisitions, 'the lock statistics (zones.lockstat) came with the copy'));
    assert.equal(copy.pages.pcpPages(), 0, 'every old CPU’s per-CPU lists went back to the buddy allocator');
    assert.equal(copy.pages.freePagesTotal, free, 'pages on the lists were free and still are');
    assert.equal(copy.header.get(H.PAGES_LIMITED), kernel.header.get(H.PAGES_LIMITED) - 1, 'the page-limit count, less what was in flight');
    assert.equal(copy.pages.cpu, -1, 'the wrapper asks for its CPU at its first order-0 operation');
    copy.validate(); // the limit count equals the pages allocated
    for (const b of live) {
      copy.pages.freePages(b.pfn, b.order, b.owner);
      assert.throws(() => copy.pages.freePages(b.pfn, b.order, b.owner), DoubleFreeError, 'each block was allocated once');
    }
    assert.ok(copy.pages.cpu >= 0);
    copy.validate();
  }
});
