import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario } from '../../src/lab/run.ts';
import { FRAGMENTED_MODES, coverageOf, fragmentMachine, fragmentedTimeline, thpTlb, walkAnswer } from '../../src/lab/scenarios/thp-tlb.ts';
import type { FragmentedMode, FragmentedRound, WalkRow } from '../../src/lab/scenarios/thp-tlb.ts';
import { Kernel } from '../../src/mm/kernel.ts';
import type { Series } from '../../src/lab/scenario.ts';
import { contigPageInfo } from '../../src/mm/vmstat.ts';
import { ArgumentError } from '../../src/util/errors.ts';

const MiB = 1 << 20;

test('thp-tlb: 2 MiB pages cut random-access STLB misses and cycles by far; the misaligned glibc malloc loses part of the coverage', async () => {
  const run = await runScenario(thpTlb, { datasetBytes: '32MiB', accesses: '60000', maxSizeBytes: '4MiB', fragmentedRamBytes: '32MiB', rounds: '2' }, { seed: 1 });
  const walks = run.result.tables.find((t) => t.id === 'walks');
  assert.ok(walks !== undefined);
  const row = (config: string, preset: string, pattern: string): Record<string, unknown> => {
    const r = walks.rows.find((x) => x.config === config && x.preset === preset && x.pattern === pattern);
    assert.ok(r !== undefined, `${config} ${preset} ${pattern}`);
    return r;
  };
  for (const preset of ['skylake', 'zen3']) {
    const small = row('4 KiB pages', preset, 'random');
    const huge = row('2 MiB pages, aligned', preset, 'random');
    const glibc = row('glibc malloc (misaligned)', preset, 'random');
    // 32 MiB over 4 KiB pages is 8192 pages against a 1536/2048-entry STLB: most random loads miss it.
    assert.ok((small.stlbMisses as number) > 0.6 * 60000, JSON.stringify(small));
    assert.ok((huge.stlbMisses as number) < 100, JSON.stringify(huge));
    assert.ok((small.cyclesPerAccess as number) > 4 * (huge.cyclesPerAccess as number));
    assert.equal(huge.coverage, 1);
    assert.equal(small.coverage, 0);
    // glibc: a mapping of 32 MiB + a page starting off a 2 MiB boundary holds 15 of 16 huge pages.
    assert.ok((glibc.coverage as number) > 0.9 && (glibc.coverage as number) < 1, JSON.stringify(glibc));
    assert.ok((glibc.cyclesPerAccess as number) > (huge.cyclesPerAccess as number));
    assert.ok((glibc.cyclesPerAccess as number) < (small.cyclesPerAccess as number) / 2);
    // Sequential: one miss per new 4 KiB page.
    const seq = row('4 KiB pages', preset, 'sequential');
    assert.equal(seq.l1Misses, Math.ceil((60000 * 64) / 4096));
  }
  // The answer is a sentence from these walks (Skylake, random), not the summary's heading.
  const sky = (config: string) => row(config, 'skylake', 'random') as { cyclesPerAccess: number; stlbMisses: number; coverage: number };
  const [s4k, s2m, sGlibc] = [sky('4 KiB pages'), sky('2 MiB pages, aligned'), sky('glibc malloc (misaligned)')];
  assert.notEqual(run.result.answer, run.result.summary[0]);
  // It quotes this run's walks (its formula is checked on fixed walks below).
  for (const quoted of [`take ${s2m.cyclesPerAccess.toFixed(1)} cycles each`, `4 KiB pages (${s4k.cyclesPerAccess.toFixed(1)})`, `glibc malloc (${sGlibc.cyclesPerAccess.toFixed(1)}, ${(sGlibc.coverage * 100).toFixed(1)} % of it in huge pages)`]) {
    assert.ok(run.result.answer?.includes(quoted), `the answer quotes '${quoted}': ${run.result.answer}`);
  }
  assert.match(run.result.answer ?? '', /: \d+\.\d+× fewer than through 4 KiB pages \(\d+\.\d\) and 1\.\d\d× fewer than through the misaligned glibc malloc/);
  // Where the misaligned malloc costs what aligned pages cost (128 MiB: 10.0 and 10.0), the answer says so.
  const walks128 = ['4 KiB pages', '2 MiB pages, aligned', 'glibc malloc (misaligned)'].map((config, i): WalkRow => ({
    config: config as WalkRow['config'], preset: 'skylake', pattern: 'random', accesses: 1000, l1Misses: 0, stlbMisses: [953, 0, 0][i] ?? 0, walks: 0, walkCycles: 0, faults: 0,
    coverage: [0, 1, 0.984][i] ?? 0, cyclesPerAccess: [50.3, 10.0, 10.01][i] ?? 0,
  }));
  assert.match(walkAnswer(walks128, 128 * MiB), /take 10\.0 cycles each through aligned 2 MiB pages: 5\.03× fewer than through 4 KiB pages \(50\.3\) and about as many as through the misaligned glibc malloc \(10\.0, 98\.4 % of it in huge pages\), with 0\.0 STLB misses per 1000 loads against 953\.0 and 0\.0\.$/);
  // The coverage plot: one series per malloc and alignment policy, a point per size up to
  // maxSizeBytes (4 MiB here: 2, 3 and 4 MiB; 3 MiB is not a multiple of 2 MiB), each the
  // coverage that coverageOf() measures for it.
  const plot = run.result.plots.find((p) => p.id === 'coverage-plot');
  assert.ok(plot !== undefined);
  assert.deepEqual(plot.series.map((s) => s.label).sort(), ['glibc', 'hugepage-aware'].flatMap((m) => ['none', 'linux-6.7', 'linux-6.12', 'always'].map((p) => `${m}, ${p}`)).sort());
  for (const series of plot.series) {
    const [which, policy] = series.label.split(', ') as ['glibc' | 'hugepage-aware', 'none' | 'linux-6.7' | 'linux-6.12' | 'always'];
    assert.deepEqual(series.points.map(([x]) => x), [2, 3, 4], series.label);
    for (const [x, y] of series.points) assert.equal(y, coverageOf(policy, which, x * MiB), `${series.label} at ${x} MiB`);
  }
  // The fragmented machine, per round and per mode: the table and the bar plot hold each round's
  // THP faults given a huge page, those that fell back and khugepaged's collapses, as fragmentedTimeline
  // counts them (32 MiB, 2 rounds of 4 MiB).
  const rounds = run.result.tables.find((t) => t.id === 'fragmented-rounds');
  const faults = run.result.plots.find((p) => p.id === 'fragmented-faults');
  assert.ok(rounds !== undefined && faults !== undefined);
  assert.equal(faults.kind, 'bar');
  assert.deepEqual(faults.categories, ['1', '2']);
  assert.equal(faults.series.length, 3 * FRAGMENTED_MODES.length);
  for (const mode of FRAGMENTED_MODES) {
    const expected = fragmentedTimeline(mode, 32 * MiB, 2, 4 * MiB);
    assert.deepEqual(
      rounds.rows.filter((r) => r.mode === mode).map((r) => [r.round, r.hugeFaults, r.fallbackFaults, r.collapses, r.coverage]),
      expected.map((r) => [r.round, r.hugeFaults, r.fallbackFaults, r.collapses, r.coverage]),
      mode,
    );
    const inPanel: Series[] = faults.series.filter((s) => s.panel === mode);
    const pointsOf = (label: RegExp): Series['points'] | undefined => inPanel.find((s) => label.test(s.label))?.points;
    assert.deepEqual(pointsOf(/thp_fault_alloc/), expected.map((r, i) => [i, r.hugeFaults]), mode);
    assert.deepEqual(pointsOf(/thp_fault_fallback/), expected.map((r, i) => [i, r.fallbackFaults]), mode);
    assert.deepEqual(pointsOf(/thp_collapse_alloc/), expected.map((r, i) => [i, r.collapses]), mode);
  }
  // Something happens in each kind of event: the plot is not all zeroes.
  for (const label of [/thp_fault_alloc/, /thp_fault_fallback/, /thp_collapse_alloc/]) {
    assert.ok(faults.series.some((s) => label.test(s.label) && s.points.some(([, y]) => y > 0)), String(label));
  }
});

test('thp-tlb coverage: glibc gets huge pages for whole 2 MiB ranges only, and Linux 6.12 does not align its mmap chunks (size + header is never a multiple of 2 MiB); the hugepage-aware malloc is always covered', () => {
  assert.equal(coverageOf('none', 'glibc', 2 * MiB), 0);
  assert.equal(coverageOf('linux-6.12', 'glibc', 8 * MiB), coverageOf('none', 'glibc', 8 * MiB));
  assert.equal(coverageOf('none', 'glibc', 8 * MiB), 0.75);
  assert.ok(coverageOf('linux-6.7', 'glibc', 8 * MiB) > 0.99);
  assert.equal(coverageOf('none', 'hugepage-aware', 3 * MiB), 1);
});

/** A fragmented timeline's totals over its rounds and its coverage at the last round. */
function totals(rounds: FragmentedRound[]): { hugeFaults: number; fallbackFaults: number; collapses: number; coverage: number } {
  const sum = (count: (r: FragmentedRound) => number): number => rounds.reduce((total, r) => total + count(r), 0);
  return { hugeFaults: sum((r) => r.hugeFaults), fallbackFaults: sum((r) => r.fallbackFaults), collapses: sum((r) => r.collapses), coverage: rounds.at(-1)?.coverage ?? NaN };
}

test('thp-tlb on a fragmented 32 MiB machine: no compaction gets no huge page, direct compaction all, kcompactd some later, khugepaged collapses what fell back', () => {
  const run = (mode: Parameters<typeof fragmentedTimeline>[0]) => totals(fragmentedTimeline(mode, 32 * MiB, 4, 4 * MiB));
  const none = run('no compaction');
  const direct = run('direct compaction');
  const deferred = run('kcompactd');
  const collapsed = run('khugepaged');
  assert.equal(none.coverage, 0);
  assert.equal(none.hugeFaults, 0);
  assert.equal(none.fallbackFaults, 8);
  assert.equal(direct.coverage, 1);
  assert.equal(direct.fallbackFaults, 0);
  assert.ok(deferred.coverage > 0 && deferred.coverage < 1, JSON.stringify(deferred));
  assert.ok(collapsed.fallbackFaults > 0 && collapsed.coverage === 1, JSON.stringify(collapsed));
});

test('thp-tlb on the default fragmented machine (128 MiB, 12 rounds), round by round, as docs/vm.md tells it', () => {
  const ramBytes = thpTlb.params.fragmentedRamBytes.default;
  const rounds = thpTlb.params.rounds.default;
  assert.equal(ramBytes, 128 * MiB);
  assert.equal(rounds, 12);
  // After fragmentMachine, four 2 MiB blocks are still free at 128 MiB, none at 32 MiB.
  const freeHugeBlocks = (bytes: number): number => {
    const kernel = Kernel.boot({ ramBytes: bytes });
    fragmentMachine(kernel);
    return kernel.pages.zones.reduce((blocks, zone) => blocks + contigPageInfo(zone, 9).freeBlocksSuitable, 0);
  };
  assert.equal(freeHugeBlocks(ramBytes), 4);
  assert.equal(freeHugeBlocks(32 * MiB), 0);
  const timeline = (mode: FragmentedMode) => fragmentedTimeline(mode, ramBytes, rounds, 4 * MiB);
  const each = (n: number, value: number): number[] => Array.from({ length: n }, () => value);
  // Every round's two THP faults either get a huge page or fall back.
  const checked = (mode: FragmentedMode) => {
    const t = timeline(mode);
    assert.equal(t.length, rounds);
    for (const r of t) assert.equal(r.hugeFaults + r.fallbackFaults, 2, `${mode}, round ${r.round}`);
    return t;
  };
  // defrag=never: the four free blocks go to the first four faults; every later one falls back.
  const none = checked('no compaction');
  assert.deepEqual(none.map((r) => r.hugeFaults), [2, 2, ...each(10, 0)]);
  assert.deepEqual(totals(none), { hugeFaults: 4, fallbackFaults: 20, collapses: 0, coverage: 4 / 24 });
  assert.ok(none.every((r) => r.collapses === 0));
  // defrag=always: every fault.
  assert.deepEqual(checked('direct compaction').map((r) => r.hugeFaults), each(12, 2));
  // defer: once the free blocks are gone, kcompactd after each round gives one of the next two faults a huge page.
  const deferred = checked('kcompactd');
  assert.deepEqual(deferred.map((r) => r.hugeFaults), [2, 2, 0, ...each(9, 1)]);
  assert.deepEqual([totals(deferred).hugeFaults, totals(deferred).fallbackFaults], [13, 11]);
  assert.equal(deferred.at(-1)?.coverage.toFixed(2), '0.54');
  // khugepaged collapses every range that fell back; its compaction leaves a block for one fault per round from round 5.
  const collapsed = checked('khugepaged');
  assert.deepEqual(collapsed.map((r) => r.collapses), collapsed.map((r) => r.fallbackFaults));
  assert.deepEqual(collapsed.map((r) => r.hugeFaults), [2, 2, 0, 0, ...each(8, 1)]);
  assert.deepEqual(totals(collapsed), { hugeFaults: 12, fallbackFaults: 12, collapses: 12, coverage: 1 });
});

test('thp-tlb shows the measured native 4K/2M ratio beside the modelled one when a native report is given, and says so when none is', async () => {
  const params = { datasetBytes: '8MiB', accesses: '4000', maxSizeBytes: '2MiB', fragmentedRamBytes: '32MiB', rounds: '2' };
  const without = await runScenario(thpTlb, params, { seed: 1 });
  const plain = without.result.tables.find((t) => t.id === 'native');
  assert.ok(plain !== undefined);
  assert.match(plain.note ?? '', /did not run \(no report given: run npm run -s bench:native-tlb -- --json > native\.json/);
  assert.deepEqual(plain.rows.map((r) => [r.predicted, r.measured]), [['n/a', 'n/a'], ['n/a', 'n/a']]);
  const dir = mkdtempSync(join(tmpdir(), 'kmem-thp-native-'));
  try {
    const file = join(dir, 'native.json');
    const native = { sizeMiB: 128, steps: 1000, ns4k: 125, ns2m: 100, ratio: 1.25, anonHugeKiB4k: 0, anonHugeKiB2m: 131072 };
    writeFileSync(file, JSON.stringify({ native, ghz: 2, rows: [] }));
    const run = await runScenario(thpTlb, { ...params, nativeReport: file }, { seed: 1 });
    const table = run.result.tables.find((t) => t.id === 'native');
    assert.ok(table !== undefined);
    for (const r of table.rows) {
      assert.equal(r.measured, 1.25);
      // Memory term 100 ns × 2 GHz = 200 cycles, plus the model's extra translation cycles of 4 KiB pages.
      assert.equal(r.predicted, (200 + (r.cycles4k as number) - (r.cycles2m as number)) / 200);
      assert.ok((r.cycles4k as number) > (r.cycles2m as number));
    }
    assert.match(table.note ?? '', /measured 1\.250/);
    // Saved without npm's -s, the file starts with npm's banner on stdout: still the report.
    writeFileSync(file, `\n> kmem@0.1.0 bench:native-tlb\n> tsx bench/native-tlb.ts --json\n\n${JSON.stringify({ native, ghz: 2, rows: [] })}\n`);
    const bannered = (await runScenario(thpTlb, { ...params, nativeReport: file }, { seed: 1 })).result.tables.find((t) => t.id === 'native');
    assert.ok(bannered?.rows.every((r) => r.measured === 1.25));
    writeFileSync(file, JSON.stringify({ native: null, skipped: 'no C compiler', ghz: null }));
    const skipped = (await runScenario(thpTlb, { ...params, nativeReport: file }, { seed: 1 })).result.tables.find((t) => t.id === 'native');
    assert.match(skipped?.note ?? '', /no measurement \(no C compiler\)/);
    // A file that is not a report, or no file: an ArgumentError naming the path and what it should
    // hold, from the run's first step (no progress reported: nothing was walked).
    let progressed = 0;
    const onProgress = (): void => void progressed++;
    writeFileSync(file, '{"native": {"ratio": "fast"}}');
    await assert.rejects(runScenario(thpTlb, { ...params, nativeReport: file }, { seed: 1, onProgress }), /expected \{ native/);
    const missing = join(dir, 'missing.json');
    await assert.rejects(
      runScenario(thpTlb, { ...params, nativeReport: missing }, { seed: 1, onProgress }),
      (e: unknown) => e instanceof ArgumentError && e.message === `${missing}: cannot read (no such file or directory); expected the output of npm run -s bench:native-tlb -- --json > native.json`,
    );
    assert.equal(progressed, 0, 'refused before the walks');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
