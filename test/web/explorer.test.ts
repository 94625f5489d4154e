// The explorer in a real browser: Debian's Chromium driven by playwright-core (no browser download)
// against Vite's dev server. What the page draws is checked against the kernel's own counters,
// pixel by pixel; a scenario and a trace replay run from the page; screenshots are saved.
// (Type-checked with the DOM library, tsconfig.web.json: the page's `window.kmemExplorer` is declared in src/web/main.ts.)
import type {} from '../../src/web/main.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = process.env.KMEM_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.KMEM_SCREENSHOT_DIR ?? join(tmpdir(), 'kmem-explorer-shots');
// Skipped with the reason where there is no Chromium, except with KMEM_REQUIRE_CHROMIUM=1 (.ci/run).
const required = process.env.KMEM_REQUIRE_CHROMIUM === '1';
const skip = existsSync(CHROMIUM) || required ? false : `no Chromium at ${CHROMIUM} (the setup step installs Debian's chromium as root; KMEM_REQUIRE_CHROMIUM=1 makes this a failure)`;

test('explorer: the page draws every frame as the kernel counts it, runs a scenario and replays a trace', { skip, timeout: 240_000 }, async () => {
  const { createServer } = await import('vite');
  const { chromium } = await import('playwright-core');
  const server = await createServer({ configFile: new URL('../../vite.config.ts', import.meta.url).pathname, server: { port: 5300 + (process.pid % 500) }, logLevel: 'error' });
  await server.listen();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.resolvedUrls?.local[0] ?? '', { waitUntil: 'load' });
    // The page's modules finish evaluating after 'load' when one of them awaits at top level (the
    // lab's optional @thi.ng/malloc is imported that way): wait for the explorer's API to appear.
    await page.waitForFunction(() => window.kmemExplorer !== undefined, undefined, { timeout: 30_000 });
    await page.evaluate(() => window.kmemExplorer.ready);
    assert.equal(await page.evaluate(() => window.crossOriginIsolated), true, 'the dev server sends COOP/COEP');

    // Two worker CPUs join the first machine; then three steps.
    await page.fill('#workers', '2');
    await page.dispatchEvent('#workers', 'change');
    await page.evaluate(() => window.kmemExplorer.idle());
    for (let i = 0; i < 3; i++) {
      await page.click('#step');
      await page.evaluate(() => window.kmemExplorer.idle());
    }
    assert.deepEqual(errors, []);
    const check = await page.evaluate(() => {
      return window.kmemExplorer.views().map((view) => {
        const canvas = view.frames.canvas;
        const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
        const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const frames = Number(canvas.dataset['frames']);
        const colours = new Map<string, number>();
        const drawn: Record<string, number> = {};
        for (let pfn = 0; pfn < frames; pfn++) {
          // The centre pixel of the frame's 4×4 cell (the top row may be shaded at a pageblock edge).
          const x = (pfn % 128) * 4 + 2;
          const y = Math.floor(pfn / 128) * 4 + 2;
          const i = (y * canvas.width + x) * 4;
          const key = `${pixels[i]},${pixels[i + 1]},${pixels[i + 2]}`;
          colours.set(key, (colours.get(key) ?? 0) + 1);
        }
        for (const [k, v] of colours) drawn[k] = v;
        const kernel = view.machine.kernel;
        const stats = kernel.stats();
        return { drawn, census: view.frames.census(), freePages: kernel.pages.freePagesTotal, slabPages: stats.slab.totals.pages, frames, inUse: stats.slab.caches.find((c) => c.name === 'dentry')?.inUse ?? 0, pageThreadDentries: view.machine.objects.counters.liveObjects, workers: view.machine.workerObjects };
      });
    });
    assert.equal(check.length, 2);
    for (const m of check) {
      // Colours as the view draws them (frame-view.ts FRAME_COLOURS): free = the three buddy states and the per-CPU lists.
      const rgb = (hex: string) => `${Number.parseInt(hex.slice(1, 3), 16)},${Number.parseInt(hex.slice(3, 5), 16)},${Number.parseInt(hex.slice(5, 7), 16)}`;
      const free = ['#f2c6c6', '#d6ecd2', '#fbe7b5', '#9ecae9'].reduce((sum, c) => sum + (m.drawn[rgb(c)] ?? 0), 0);
      assert.equal(free, m.freePages, 'free frames drawn = the free pages (buddy lists and per-CPU lists)');
      assert.equal(m.drawn[rgb('#4c78a8')] ?? 0, m.slabPages, 'slab frames drawn = the slab allocator\'s pages');
      assert.equal(Object.values(m.drawn).reduce((a, b) => a + b, 0), m.frames);
    }
    assert.deepEqual(check[0]?.workers.length, 2);
    assert.ok((check[0]?.workers ?? []).every((n) => n > 0), 'each worker CPU holds objects in the shared caches');

    // Hover a frame: its struct page.
    const box = await page.locator('.machine canvas').first().boundingBox();
    assert.ok(box !== null);
    await page.mouse.move(box.x + 10, box.y + box.height - 10);
    assert.match((await page.textContent('#frame-info')) ?? '', /pfn\s*\d+[\s\S]*refcount/);
    // A page on a per-CPU list: its flags name the CPU whose list holds it (mm/pcp.ts, pcpPageFlags).
    const pcp = await page.evaluate(() => {
      const kernel = window.kmemExplorer.views()[0]!.machine.kernel;
      const flags = kernel.memMap.flags;
      for (let pfn = 0; pfn < flags.length; pfn++) if (((flags[pfn] as number) & 0x80) !== 0) return { pfn, cpu: ((flags[pfn] as number) >>> 21) - 1 };
      return null;
    });
    assert.ok(pcp !== null, 'some page sits on a per-CPU list');
    const scale = box.width / (128 * 4); // CSS pixels per canvas pixel: 128 frames a row, 4 pixels a frame
    await page.mouse.move(box.x + ((pcp.pfn % 128) * 4 + 2) * scale, box.y + (Math.floor(pcp.pfn / 128) * 4 + 2) * scale);
    assert.match((await page.textContent('#frame-info')) ?? '', new RegExp(`pfn\\s*${pcp.pfn}[\\s\\S]*Pcp \\(CPU ${pcp.cpu}\\)`));
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'explorer-machines.png'), fullPage: false });
    await page.locator('#frame-info').screenshot({ path: join(SHOTS, 'explorer-pcp-frame.png') });

    // A scenario from the page.
    await page.selectOption('#scenario-name', 'message-queue');
    await page.click('#scenario-form button[type=submit]');
    await page.waitForSelector('.summary[data-scenario="message-queue"]', { timeout: 120_000 });
    // Its charts are the report's Vega-Lite specifications, drawn by Vega in the page.
    await page.waitForSelector('.scenario-chart[data-drawn="true"] svg', { timeout: 60_000 });
    const charts = await page.evaluate(() => [...document.querySelectorAll('.scenario-chart')].map((f) => ({ drawn: f.getAttribute('data-drawn'), marks: f.querySelectorAll('svg path, svg rect').length })));
    assert.ok(charts.length >= 2 && charts.every((c) => c.drawn === 'true' && c.marks > 3), JSON.stringify(charts));
    await page.locator('#scenario').screenshot({ path: join(SHOTS, 'explorer-scenario.png') });

    // A generated trace replayed in the page: every kmalloc in the trace's size class.
    await page.click('#trace-generate');
    await page.waitForSelector('#trace-result .summary', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#trace-result .summary', 'data-kmalloc-mismatches'), '0');
    assert.ok(Number(await page.getAttribute('#trace-result .summary', 'data-kmalloc-checked')) > 1000);
    await page.locator('#trace').screenshot({ path: join(SHOTS, 'explorer-trace.png') });

    // Virtual memory: the page tables and the TLB as drawn, against the mm's and the TLB's counters.
    const stlbMisses: number[] = [];
    for (const size of ['4k', '2m'] as const) {
      if (size === '2m') await page.check('input[name="vm-page-size"][value="2m"]');
      await page.evaluate(() => window.kmemExplorer.idle());
      await page.click('#vm-run');
      await page.evaluate(() => window.kmemExplorer.idle());
      const vm = await page.evaluate(() => {
        const view = window.kmemExplorer.vm;
        const { mm, cpu } = view.lab;
        const drawn = view.drawn();
        const arrays = view.lab.tlbArrays().map((a) => ({ valid: a.validEntries(), bySize: [...a.sizeCounts] }));
        const t = cpu.stats().tlb.counters;
        return { pageSize: view.lab.pageSize, drawn, rss: mm.rssAnonPages, pgtables: mm.pageTablePages, arrays, loads: view.lab.loads, stlbMisses: t.l2Misses - view.lab.baseline.tlb.counters.l2Misses, summary: document.querySelector('#vm .summary')?.getAttribute('data-loads') };
      });
      assert.equal(vm.pageSize, size);
      assert.equal(vm.loads, 20_000);
      assert.equal(vm.summary, '20000', 'the counters shown are the loads run');
      // PteKind order: empty, table, 4 KiB, 2 MiB, zero page, kernel, PROT_NONE, then unknown colours.
      const [, , small = 0, huge = 0, , , protNone = 0, unknown = 0] = vm.drawn.entries;
      assert.equal(unknown, 0, 'every entry cell has a legend colour');
      assert.equal(small + protNone + 512 * huge, vm.rss, 'pages the drawn leaves map = the mm\'s RSS');
      assert.equal(vm.drawn.tables + huge, vm.pgtables, 'tables drawn + one deposit per huge page = PageTables');
      assert.ok(size === '4k' ? huge === 0 && small > 4096 : huge >= 8, `${size}: ${small} small and ${huge} huge leaves`);
      vm.arrays.forEach((a, i) => {
        const [empty = 0, k4 = 0, m2 = 0, g1 = 0, other = 0] = vm.drawn.tlb[i] ?? [];
        assert.equal(other, 0);
        assert.equal(k4 + m2 + g1, a.valid, `TLB array ${i}: valid cells drawn = valid entries`);
        assert.deepEqual([k4, m2, g1], a.bySize, `TLB array ${i}: cells by page size = entries by page size`);
        assert.ok(empty >= 0);
      });
      stlbMisses.push(vm.stlbMisses);
      // Hover the PGD's first entry (the table at the canvas's top left): its raw 64-bit value.
      await page.locator('#vm canvas.page-tables').scrollIntoViewIfNeeded();
      const tables = await page.locator('#vm canvas.page-tables').boundingBox();
      assert.ok(tables !== null);
      const origin = JSON.parse((await page.getAttribute('#vm canvas.page-tables', 'data-origins')) ?? '[]') as [number, number][];
      const scale = tables.width / Number(await page.getAttribute('#vm canvas.page-tables', 'width'));
      await page.mouse.move(tables.x + ((origin[0]?.[0] ?? 0) + 2) * scale, tables.y + ((origin[0]?.[1] ?? 0) + 2) * scale);
      assert.match((await page.textContent('#vm .pte-info')) ?? '', /^PGD at pfn \d+, entry 0: 0x[0-9a-f]{16} — table, translates 0 /);
      await page.locator('#vm').screenshot({ path: join(SHOTS, `explorer-vm-${size}.png`) });
    }
    assert.ok((stlbMisses[0] ?? 0) > 10_000 && stlbMisses[1] === 0, `STLB misses in 20,000 random loads over 16 MiB: 4 KiB ${stlbMisses[0]}, 2 MiB ${stlbMisses[1]}`);

    // DMA: the buffer's lines as drawn, against the cache levels' counters and what the CPU's read finds.
    const dmaCheck = async () =>
      page.evaluate(() => {
        const view = window.kmemExplorer.dma;
        const levels = view.lab.levels().map((l) => l.stats());
        return { drawn: view.drawn(), levels: levels.map((s) => ({ valid: s.validLines, dirty: s.dirtyLines })), lines: view.lab.lines, staleRead: Number(document.querySelector('#dma .summary')?.getAttribute('data-stale-lines')) };
      });
    const seenRow = (d: Awaited<ReturnType<typeof dmaCheck>>) => d.drawn[d.drawn.length - 1] ?? [];
    // LineState order: not cached, clean, dirty, stale (then unknown colours).
    await page.fill('#dma-packet-bytes', '1500');
    await page.click('#dma-device-write');
    await page.evaluate(() => window.kmemExplorer.idle());
    const afterWrite = await dmaCheck();
    assert.equal(seenRow(afterWrite)[3], 24, 'a 1500-byte packet leaves 24 cached lines stale');
    await page.click('#dma-cpu-read');
    await page.evaluate(() => window.kmemExplorer.idle());
    assert.equal((await dmaCheck()).staleRead, 24, 'the CPU reads wrong exactly the lines drawn stale');
    await page.click('#dma-rx-sync');
    await page.evaluate(() => window.kmemExplorer.idle());
    const synced = await dmaCheck();
    assert.equal(synced.staleRead, 0, 'with the syncs the CPU reads what the device wrote');
    assert.equal(seenRow(synced)[1], synced.lines, 'every line clean after the read');
    await page.click('#dma-cpu-write');
    await page.click('#dma-rx-nosync');
    await page.evaluate(() => window.kmemExplorer.idle());
    const mixed = await dmaCheck();
    mixed.levels.forEach((level, i) => {
      const [absent = 0, , dirty = 0, , unknown = 0] = mixed.drawn[i] ?? [];
      assert.equal(unknown, 0);
      assert.equal(dirty, level.dirty, `level ${i}: dirty lines drawn = dirty lines counted`);
      assert.equal(mixed.lines - absent, level.valid, `level ${i}: cached lines drawn = valid lines counted`);
    });
    assert.equal(seenRow(mixed)[2], 4, 'the CPU\'s 256 bytes are 4 dirty lines');
    assert.deepEqual(errors, []);
    await page.locator('#dma').screenshot({ path: join(SHOTS, 'explorer-dma.png') });

    // Secrets: guard pages, secret pages, holes and split direct-map entries drawn = the kernel's counters;
    // a one-byte overflow of the key is a SegvError at the guard's first byte, drawn there.
    await page.selectOption('#secret-pick', '0');
    await page.fill('#secret-extra', '1');
    await page.click('#secret-overflow');
    await page.evaluate(() => window.kmemExplorer.idle());
    assert.equal(await page.getAttribute('#secrets .secret-outcome [data-error-name]', 'data-error-name'), 'SegvError');
    const secrets = await page.evaluate(() => {
      const view = window.kmemExplorer.secrets;
      const key = view.lab.secrets[0]?.region;
      return { drawn: view.drawn(), stats: view.lab.stats(), regions: view.lab.secrets.length, faultAt: view.lab.faultAt, guardStart: key === undefined ? -1 : key.addr + key.sizeBytes };
    });
    // Granules: guard, slack, secret, fault, unknown. Direct-map entries: present, hole, beyond RAM, unknown.
    const [guard = 0, slack = 0, secret = 0, fault = 0, strange = 0] = secrets.drawn.granules;
    assert.equal(strange, 0);
    assert.equal(fault, 1, 'the fault is drawn in one granule');
    assert.equal(secrets.faultAt, secrets.guardStart, 'at the first byte past the key');
    assert.equal(guard + fault, 64 * 2 * secrets.regions, 'two guard pages per region');
    assert.equal((slack + secret) / 64, secrets.stats.sensitivePages, 'secret pages drawn = pages tagged Sensitive');
    assert.equal(secrets.drawn.direct[1], secrets.stats.directMapHoles, 'holes drawn = holes in the direct map');
    assert.equal(secrets.drawn.tables, secrets.stats.directMapSplits, 'split tables drawn = direct_map_level2_splits');
    assert.equal(secrets.drawn.direct[3], 0);
    await page.click('#secret-kernel-read');
    await page.evaluate(() => window.kmemExplorer.idle());
    assert.equal(await page.getAttribute('#secrets .secret-outcome [data-error-name]', 'data-error-name'), 'SecretAccessError');
    await page.click('#secret-overflow');
    await page.evaluate(() => window.kmemExplorer.idle());
    assert.deepEqual(errors, []);
    await page.locator('#secrets').screenshot({ path: join(SHOTS, 'explorer-secrets.png') });

    // RCU: reader states, grace periods and pending frees drawn against the sync domain's counters.
    const rcuCheck = async () =>
      page.evaluate(() => {
        const view = window.kmemExplorer.rcu;
        const lab = view.lab;
        const s = lab.stats();
        const last = lab.history[lab.history.length - 1];
        return { drawn: view.drawn(), pending: s.kfreePending.objects, gpSteps: lab.history.filter((h) => h.gpCompleted > 0).length, gpLast30: lab.history.slice(-30).reduce((n, h) => n + h.gpCompleted, 0), gpCompleted: s.gpCompleted, lastReaders: last?.readers ?? [], reading: lab.readers.filter((r) => r.node !== 0).length, useAfterFree: lab.useAfterFree, steps: lab.steps };
      });
    await page.click('#rcu-run');
    await page.evaluate(() => window.kmemExplorer.idle());
    const rcu1 = await rcuCheck();
    assert.equal(rcu1.steps, 40);
    assert.equal(rcu1.useAfterFree, 0, 'with kfree_rcu no reader reaches a freed node');
    assert.ok(rcu1.gpCompleted > 5, `${rcu1.gpCompleted} grace periods`);
    assert.equal(rcu1.drawn.gpCells, rcu1.gpSteps, 'a grace-period cell for each step in which one ended');
    assert.equal(rcu1.drawn.pendingPx, Math.min(80, rcu1.pending), 'the pending bar = kfree_rcu objects waiting');
    // Reader cells of the newest column, by state (quiescent, reading, stalled, use-after-free).
    assert.deepEqual(rcu1.drawn.readers.slice(0, 4), [0, 1, 2, 3].map((k) => rcu1.lastReaders.filter((s) => s === k).length));
    await page.check('#rcu-stall-1');
    await page.click('#rcu-run');
    await page.evaluate(() => window.kmemExplorer.idle());
    const rcu2 = await rcuCheck();
    // Once the grace periods older than its section have ended (within 8 steps), none ends.
    assert.equal(rcu2.gpLast30, 0, 'a stalled reader holds every grace period up');
    assert.ok(rcu2.pending >= 30, `${rcu2.pending} frees waiting`);
    assert.equal(rcu2.drawn.pendingPx, Math.min(80, rcu2.pending));
    assert.equal(rcu2.drawn.readers[2], 1, 'the stalled CPU is drawn stalled');
    await page.uncheck('#rcu-stall-1');
    await page.click('#rcu-run');
    await page.evaluate(() => window.kmemExplorer.idle());
    const rcu3 = await rcuCheck();
    assert.ok(rcu3.pending < 10 && rcu3.useAfterFree === 0, `released: ${rcu3.pending} waiting (the steady state is a few steps of frees)`);
    assert.equal(rcu3.drawn.gpCells, rcu3.gpSteps);
    assert.deepEqual(errors, []);
    await page.locator('#rcu').screenshot({ path: join(SHOTS, 'explorer-rcu.png') });
    // Without RCU (kfree at once) readers reach freed nodes: the slab's poison, or a reused node.
    await page.selectOption('#rcu-mode', 'kfree at once');
    for (let i = 0; i < 2; i++) {
      await page.click('#rcu-run');
      await page.evaluate(() => window.kmemExplorer.idle());
    }
    assert.ok(Number(await page.getAttribute('#rcu .summary', 'data-use-after-free')) > 0, 'freed at once, readers reach freed nodes');

    // Flash: pages drawn valid per block = the block table's counts, in all = the mapped pages; erased = the chip's.
    await page.click('#flash-run');
    await page.evaluate(() => window.kmemExplorer.idle());
    const flash = await page.evaluate(() => {
      const view = window.kmemExplorer.flash;
      const lab = view.lab;
      return { drawn: view.drawn(), mapped: lab.stats().mappedPages, valid: Array.from(lab.ftl.table.valid), erased: lab.device.pageStates.filter((p) => p === 0).length, victims: lab.stats().gc.victims, lastVictim: Number(document.querySelector('#flash .summary')?.getAttribute('data-last-victim')), observed: lab.victims.map((v) => v.block) };
    });
    // Pages: erased, valid, invalid, tombstone, unknown.
    assert.equal(flash.drawn.total[1], flash.mapped, 'valid pages drawn = mapped logical pages');
    assert.deepEqual(flash.drawn.validPerBlock, flash.valid, 'valid pages drawn per block = the block table');
    assert.equal(flash.drawn.total[0], flash.erased, 'erased pages drawn = the chip\'s erased pages');
    assert.equal(flash.drawn.total[4], 0);
    assert.ok(flash.victims > 50 && flash.lastVictim === flash.observed[flash.observed.length - 1], `${flash.victims} victims, last ${flash.lastVictim}`);
    await page.locator('#flash').screenshot({ path: join(SHOTS, 'explorer-flash.png') });

    // GPU warps: the page's WebGPU (Chromium with --enable-unsafe-webgpu) runs the allocators' WGSL.
    await page.click('#gpu-run');
    await page.evaluate(() => window.kmemExplorer.idle());
    const gpu = await page.evaluate(() => {
      const view = window.kmemExplorer.gpu;
      return { available: document.querySelector('#gpu .gpu-status')?.getAttribute('data-available'), status: document.querySelector('#gpu .gpu-status')?.textContent ?? '', drawn: view.drawn(), passes: view.last.map((d) => ({ design: d.design, live: d.stats.live, atomics: d.pass.atomics, groups: d.activeGroups, lanes: d.activeLanes })) };
    });
    if (gpu.available === 'true') {
      const [perLane, batch] = gpu.passes;
      const [perLaneDrawn, batchDrawn] = gpu.drawn;
      assert.ok(perLane !== undefined && batch !== undefined && perLaneDrawn !== undefined && batchDrawn !== undefined);
      assert.equal(perLaneDrawn.live, perLane.live, 'per-lane: objects drawn = live objects');
      assert.equal(batchDrawn.live, batch.live, 'warp-batch: objects drawn = live objects');
      assert.equal(batch.atomics, batch.groups, 'warp-batch: one atomic per warp');
      assert.equal(batchDrawn.runs, batch.atomics, 'warp-batch: one contiguous run drawn per atomic');
      assert.equal(perLane.atomics, perLane.lanes, 'per-lane: one atomic per lane');
      assert.deepEqual([perLaneDrawn.atomics, batchDrawn.atomics], [perLane.atomics, batch.atomics], 'atomic cells drawn = atomics the lanes counted');
      assert.ok(perLaneDrawn.runs <= perLane.atomics, 'per-lane: no more runs than atomics');
      await page.locator('#gpu').screenshot({ path: join(SHOTS, 'explorer-gpu.png') });
    } else {
      // A Chromium without WebGPU: the view must say so, not draw made-up warps.
      assert.match(gpu.status, /No GPU pass here/);
      assert.equal(gpu.drawn.every((d) => d.live === 0), true);
    }
    assert.deepEqual(errors, []);

    for (const name of ['explorer-machines.png', 'explorer-scenario.png', 'explorer-trace.png', 'explorer-vm-4k.png', 'explorer-vm-2m.png', 'explorer-dma.png', 'explorer-secrets.png', 'explorer-rcu.png', 'explorer-flash.png']) assert.ok(statSync(join(SHOTS, name)).size > 10_000, name);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
