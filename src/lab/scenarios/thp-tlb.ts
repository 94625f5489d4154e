/**
 * thp-tlb: the seed's dataset walked through 4 KiB pages, through 2 MiB pages, and through a
 * misaligned malloc, on modelled CPUs with cited TLB geometry (machine/tlb-presets.ts).
 *
 * Part 1, per configuration × TLB preset × access pattern: the dataset is allocated and written once
 * (faults), then read by an emulated CPU — sequentially at a 64-byte stride, or at uniformly random
 * 4-byte-aligned offsets. Counted: L1 dTLB misses, STLB misses, page walks and their modelled cycles,
 * faults, huge-page coverage (AnonHugePages ÷ dataset) and modelled cycles per access.
 *   4 KiB pages            THP enabled=never
 *   2 MiB pages, aligned   the hugepage-aware malloc (2 MiB-aligned, MADV_HUGEPAGE)
 *   glibc malloc           THP always, alignment policy none (Linux before 6.7): the mapping starts
 *                          wherever the top-down search puts it and the pointer is 16 bytes in
 * Part 2: huge-page coverage against allocation size (2 MiB … 256 MiB, sizes that are not multiples of
 * 2 MiB included), each allocation written page by page, for every alignment policy and both mallocs.
 * Part 3: THP faults over time on a fragmented machine (fragmentedTimeline), with compaction off, direct,
 * deferred to kcompactd, and with khugepaged collapsing afterwards.
 */
import { Cpu } from '../../machine/cpu.ts';
import { presetByName } from '../../machine/tlb-presets.ts';
import type { PresetName } from '../../machine/tlb-presets.ts';
import { Kernel } from '../../mm/kernel.ts';
import { bindCpu } from '../../mm/vm/cpu-binding.ts';
import { THP_ALIGN_POLICIES, setThpSettings } from '../../mm/vm/thp-settings.ts';
import type { ThpAlignPolicy } from '../../mm/vm/thp-settings.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { MAP, PMD_SIZE, PROT } from '../../mm/vm/types.ts';
import { Prng } from '../../util/prng.ts';
import { formatBytes } from '../../util/units.ts';
import { defineScenario } from '../scenario.ts';
import type { Plot, Table } from '../scenario.ts';
import { GlibcMalloc, HugepageAwareMalloc } from '../workloads/malloc.ts';
import type { UserMalloc } from '../workloads/malloc.ts';
import { InvariantError } from '../../util/errors.ts';
import { NATIVE_REPORT_RECIPE, predictedRatio, type NativeReport } from '../native-calibration.ts';
import { PAGE_SIZE } from '../../mm/types.ts';

const MiB = 1 << 20;
const PRESETS: readonly PresetName[] = ['skylake', 'zen3'];
const CONFIGS = ['4 KiB pages', '2 MiB pages, aligned', 'glibc malloc (misaligned)'] as const;
type Config = (typeof CONFIGS)[number];
const PATTERNS = ['sequential', 'random'] as const;
const SIZES_MIB = [2, 3, 4, 5, 8, 12.5, 16, 31, 32, 64, 100, 128, 129, 256];
/** What the workload maps and writes each round on the fragmented machine: two THP faults. */
const ROUND_BYTES = 2 * PMD_SIZE;

export interface WalkRow {
  config: Config;
  preset: PresetName;
  pattern: (typeof PATTERNS)[number];
  accesses: number;
  l1Misses: number;
  stlbMisses: number;
  walks: number;
  walkCycles: number;
  faults: number;
  coverage: number;
  cyclesPerAccess: number;
}

function mallocFor(config: Config, kernel: Kernel): UserMalloc {
  const mm = kernel.vm.createAddressSpace();
  if (config === '4 KiB pages') setThpSettings(kernel.vm, { enabled: 'never' });
  if (config === 'glibc malloc (misaligned)') setThpSettings(kernel.vm, { align: 'none' });
  return config === '2 MiB pages, aligned' ? new HugepageAwareMalloc(mm) : new GlibcMalloc(mm);
}

/**
 * One configuration's dataset: a kernel booted for it, the dataset allocated and written page by
 * page once (the faults counted then). Every walk of the configuration (TLB presets × patterns)
 * reads this dataset: booting and faulting 128 MiB in again for each walk gave the same page tables
 * at four times the cost. Walks only load, so they leave the page tables as they found them.
 */
interface Dataset {
  config: Config;
  kernel: Kernel;
  mm: AddressSpace;
  ptr: number;
  datasetBytes: number;
  faults: number;
}

function prepareDataset(config: Config, datasetBytes: number): Dataset {
  const kernel = Kernel.boot({ ramBytes: datasetBytes + 32 * MiB });
  const malloc = mallocFor(config, kernel);
  const ptr = malloc.malloc(datasetBytes);
  const mm = kernel.vm.addressSpaces()[0];
  if (mm === undefined) throw new InvariantError(`thp-tlb: malloc(${datasetBytes}) created no address space; expected the one it maps into`);
  const faulting = new Cpu(kernel.ram, { preset: presetByName(PRESETS[0] ?? 'skylake') });
  const binding = bindCpu(kernel.vm, faulting);
  binding.switchTo(mm);
  writeDataset(faulting, ptr, datasetBytes);
  const faults = faulting.stats().faults;
  binding.unbind();
  return { config, kernel, mm, ptr, datasetBytes, faults };
}

/** Writes the dataset page by page, and its last word. */
function writeDataset(cpu: Cpu, ptr: number, datasetBytes: number): void {
  for (let off = 0; off < datasetBytes; off += 4096) cpu.store32(ptr + off, 1);
  cpu.store32(ptr + datasetBytes - 4, 1);
}

function runWalk(dataset: Dataset, preset: PresetName, pattern: (typeof PATTERNS)[number], accesses: number, seed: number): WalkRow {
  const { config, kernel, mm, ptr, datasetBytes } = dataset;
  const cpu = new Cpu(kernel.ram, { preset: presetByName(preset) });
  const binding = bindCpu(kernel.vm, cpu);
  binding.switchTo(mm);
  // The same writes again (no fault now), so that the walk starts with the TLB the writes leave.
  writeDataset(cpu, ptr, datasetBytes);
  if (cpu.stats().faults !== 0) throw new InvariantError(`thp-tlb: rewriting the dataset faulted ${cpu.stats().faults} times; expected it mapped whole`);
  const before = cpu.stats();
  const cyclesBefore = cpu.cycles();
  const rng = new Prng(seed);
  const words = datasetBytes / 4 - 1;
  if (pattern === 'sequential') {
    for (let i = 0; i < accesses; i++) cpu.load32(ptr + ((i * 64) % (datasetBytes - 64)));
  } else {
    for (let i = 0; i < accesses; i++) cpu.load32(ptr + rng.int(words) * 4);
  }
  const after = cpu.stats();
  const walks = after.walks - before.walks;
  const walkReads = after.walkReads - before.walkReads;
  const costs = cpu.costs;
  binding.unbind();
  return {
    config,
    preset,
    pattern,
    accesses,
    l1Misses: after.tlb.counters.l1Misses - before.tlb.counters.l1Misses,
    stlbMisses: after.tlb.counters.l2Misses - before.tlb.counters.l2Misses,
    walks,
    walkCycles: walks * costs.walkBaseCycles + walkReads * costs.walkReadCycles,
    faults: dataset.faults,
    coverage: hugeCoverage(mm, ptr, datasetBytes),
    cyclesPerAccess: (cpu.cycles() - cyclesBefore) / accesses,
  };
}

/** The random walk of `config` on TLB model `preset`, if this run made one. */
function randomWalk(rows: readonly WalkRow[], config: Config, preset: string): WalkRow | undefined {
  return rows.find((r) => r.config === config && r.preset === preset && r.pattern === 'random');
}

/** The random walks on the Skylake model that the answer and the summary quote: 4 KiB pages, aligned 2 MiB pages, glibc's malloc. */
function skylakeWalks(rows: readonly WalkRow[]): { small: WalkRow; huge: WalkRow; glibc: WalkRow } {
  const get = (config: Config): WalkRow => {
    const row = randomWalk(rows, config, 'skylake');
    if (row === undefined) throw new InvariantError(`thp-tlb: no random walk of '${config}' on the Skylake model; expected one per configuration`);
    return row;
  };
  return { small: get('4 KiB pages'), huge: get('2 MiB pages, aligned'), glibc: get('glibc malloc (misaligned)') };
}

function stlbMissesPer1000(row: WalkRow): number {
  return (row.stlbMisses * 1000) / row.accesses;
}

/**
 * The scenario's answer, from its random walks on the Skylake model: how many times fewer cycles per
 * load aligned 2 MiB pages take than 4 KiB pages and than the misaligned glibc malloc, and the STLB
 * misses per 1000 loads of each.
 */
export function walkAnswer(rows: readonly WalkRow[], datasetBytes: number): string {
  const { small, huge, glibc } = skylakeWalks(rows);
  // "N× fewer than", or "about as many as" where the two differ by less than the digits shown.
  const fewer = (row: WalkRow): string => {
    const ratio = row.cyclesPerAccess / huge.cyclesPerAccess;
    return Math.abs(ratio - 1) < 0.005 ? 'about as many as' : `${ratio.toFixed(ratio < 10 ? 2 : 1)}× fewer than`;
  };
  const cycles = (row: WalkRow): string => row.cyclesPerAccess.toFixed(1);
  const misses = (row: WalkRow): string => stlbMissesPer1000(row).toFixed(1);
  return (
    `Random loads over ${formatBytes(datasetBytes)} on modelled Skylake TLBs take ${cycles(huge)} cycles each through aligned 2 MiB pages: ` +
    `${fewer(small)} through 4 KiB pages (${cycles(small)}) and ${fewer(glibc)} through the misaligned glibc malloc ` +
    `(${cycles(glibc)}, ${(glibc.coverage * 100).toFixed(1)} % of it in huge pages), with ${misses(huge)} STLB misses per 1000 loads against ${misses(small)} and ${misses(glibc)}.`
  );
}

/**
 * The modelled 4K/2M ratio of random loads beside the measured native one (bench/native-tlb.ts). The
 * model's translation cycles per load come from this run's random walks (cycles per load less the
 * data access); the memory term, which the model lacks, from the native 2 MiB run. Without a native
 * report the table says so and predicts nothing.
 */
function calibrationTable(rows: readonly WalkRow[], report: NativeReport | null, source: string): Table {
  const native = report?.native ?? null;
  const ghz = report?.ghz ?? null;
  const out = PRESETS.map((preset) => {
    const find = (config: Config): WalkRow | undefined => randomWalk(rows, config, preset);
    const dataCycles = presetByName(preset).costs.dataAccessCycles;
    const c4k = (find('4 KiB pages')?.cyclesPerAccess ?? NaN) - dataCycles;
    const c2m = (find('2 MiB pages, aligned')?.cyclesPerAccess ?? NaN) - dataCycles;
    return {
      preset,
      cycles4k: c4k,
      cycles2m: c2m,
      predicted: native === null || ghz === null ? 'n/a' : predictedRatio(native.ns2m, ghz, c4k, c2m),
      measured: native === null ? 'n/a' : native.ratio,
    };
  });
  const note =
    report === null
      ? `Native 4K/2M ratio: the native benchmark did not run (no report given: run ${NATIVE_REPORT_RECIPE}, then pass --native-report native.json), so only the model is shown.`
      : native === null
        ? `Native 4K/2M ratio: the report ${source} has no measurement (${report.skipped ?? 'the native run was skipped'}).`
        : `Native 4K/2M ratio from ${source}: measured ${native.ratio.toFixed(3)} over ${native.sizeMiB} MiB (${native.ns4k.toFixed(1)} vs ${native.ns2m.toFixed(1)} ns per load, AnonHugePages ${native.anonHugeKiB2m} kB in the 2 MiB run); modelled ${out.map((r) => `${typeof r.predicted === 'number' ? r.predicted.toFixed(3) : 'n/a'} (${r.preset})`).join(', ')}. docs/mmu.md explains the gap.`;
  return {
    id: 'native',
    title: 'Modelled against measured: 4K/2M time ratio of random loads',
    columns: [
      { key: 'preset', label: 'TLB' },
      { key: 'cycles4k', label: 'model translation cycles/load, 4 KiB', digits: 1 },
      { key: 'cycles2m', label: 'model translation cycles/load, 2 MiB', digits: 1 },
      { key: 'predicted', label: 'modelled 4K/2M', digits: 3 },
      { key: 'measured', label: 'measured 4K/2M (native)', digits: 3 },
    ],
    rows: out,
    note,
    // The measured column is a timing of this machine, not a function of the seed.
    ...(native === null ? {} : { timing: true }),
  };
}

/** The share of [start, start + bytes) that huge (PMD) mappings of mm back. */
export function hugeCoverage(mm: AddressSpace, start: number, bytes: number): number {
  let huge = 0;
  for (let h = Math.floor(start / PMD_SIZE) * PMD_SIZE; h < start + bytes; h += PMD_SIZE) {
    if (mm.mapsHuge(h)) huge += Math.min(h + PMD_SIZE, start + bytes) - Math.max(h, start);
  }
  return huge / bytes;
}

/** Huge-page coverage of one allocation of `bytes`, written page by page. */
export function coverageOf(policy: ThpAlignPolicy, which: 'glibc' | 'hugepage-aware', bytes: number): number {
  const kernel = Kernel.boot({ ramBytes: Math.ceil((bytes + 24 * MiB) / MiB) * MiB });
  setThpSettings(kernel.vm, { align: policy });
  const mm = kernel.vm.createAddressSpace();
  const malloc = which === 'glibc' ? new GlibcMalloc(mm) : new HugepageAwareMalloc(mm);
  const ptr = malloc.malloc(bytes);
  for (let off = 0; off < bytes; off += 4096) mm.writeByte(ptr + off, 1);
  mm.writeByte(ptr + bytes - 1, 1);
  return hugeCoverage(mm, ptr, bytes);
}

export const FRAGMENTED_MODES = ['no compaction', 'direct compaction', 'kcompactd', 'khugepaged'] as const;
export type FragmentedMode = (typeof FRAGMENTED_MODES)[number];

export interface FragmentedRound {
  round: number;
  /**
   * This round's events, its increments of /proc/vmstat's thp_fault_alloc, thp_fault_fallback and
   * thp_collapse_alloc: THP faults given a huge page, THP faults that fell back to 4 KiB,
   * khugepaged collapses. (fragmentMachine runs with THP off, so the counters are their sums.)
   */
  hugeFaults: number;
  fallbackFaults: number;
  collapses: number;
  /** Huge-page coverage of everything the workload mapped so far. */
  coverage: number;
}

/** What fragmentMachine left: the other process and the pages it keeps (one in 64 of `pages`, from `base`). */
export interface FragmentedMachine {
  other: AddressSpace;
  base: number;
  pages: number;
}

/**
 * Fragments a fresh kernel's memory: another process (THP off) faults in 4 KiB pages for nine tenths
 * of the free memory, then unmaps 63 of every 64, so the page it keeps sits in each 256 KiB of what
 * it held. The tenth it never took stays free: on 32 MiB no 2 MiB block is left free, on the default
 * 128 MiB four are (test/lab/thp-tlb.test.ts), which the first faults of fragmentedTimeline take.
 */
export function fragmentMachine(kernel: Kernel): FragmentedMachine {
  const vm = kernel.vm;
  setThpSettings(vm, { enabled: 'never' });
  const other = vm.createAddressSpace();
  const pages = Math.floor(kernel.pages.freePagesTotal * 0.9);
  const base = other.mmap(0x40000000, pages * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  for (let i = 0; i < pages; i++) other.writeByte(base + i * PAGE_SIZE, 1);
  for (let i = 0; i < pages; i += 64) other.munmap(base + (i + 1) * PAGE_SIZE, 63 * PAGE_SIZE);
  return { other, base, pages };
}

/**
 * THP faults over time on a fragmented machine (fragmentMachine). Each round, the workload maps and
 * writes `roundBytes` of 2 MiB-aligned memory, and the other process gives back a share of what it
 * holds. Modes: defrag=never (no compaction), defrag=always (direct compaction in the fault),
 * defrag=defer with kcompactd run after each round, and defrag=never with khugepaged passes after
 * each round collapsing what fell back.
 */
export function fragmentedTimeline(mode: FragmentedMode, ramBytes: number, rounds: number, roundBytes: number): FragmentedRound[] {
  const kernel = Kernel.boot({ ramBytes });
  const vm = kernel.vm;
  const { other, base, pages } = fragmentMachine(kernel);
  setThpSettings(vm, { enabled: 'always', defrag: mode === 'direct compaction' ? 'always' : mode === 'kcompactd' ? 'defer' : 'never' });
  const mm = vm.createAddressSpace();
  const malloc = new HugepageAwareMalloc(mm);
  const out: FragmentedRound[] = [];
  const regions: number[] = [];
  const counters = (): [number, number, number] => [vm.counter('thp_fault_alloc'), vm.counter('thp_fault_fallback'), vm.counter('thp_collapse_alloc')];
  for (let round = 1; round <= rounds; round++) {
    const [allocBefore, fallbackBefore, collapseBefore] = counters();
    const ptr = malloc.malloc(roundBytes);
    regions.push(ptr);
    for (let off = 0; off < roundBytes; off += PAGE_SIZE) mm.writeByte(ptr + off, round);
    // The other process frees a share of its scattered survivors.
    for (let i = (round - 1) * 64 * 4; i < pages && i < round * 64 * 4 * 2; i += 64) other.munmap(base + i * PAGE_SIZE, PAGE_SIZE);
    if (mode === 'kcompactd') vm.kcompactd();
    if (mode === 'khugepaged') for (let pass = 0; pass < 4; pass++) vm.khugepaged();
    let covered = 0;
    for (const r of regions) covered += hugeCoverage(mm, r, roundBytes) * roundBytes;
    const [allocAfter, fallbackAfter, collapseAfter] = counters();
    out.push({
      round,
      hugeFaults: allocAfter - allocBefore,
      fallbackFaults: fallbackAfter - fallbackBefore,
      collapses: collapseAfter - collapseBefore,
      coverage: covered / (regions.length * roundBytes),
    });
  }
  kernel.validate();
  return out;
}

export const thpTlb = defineScenario({
  name: 'thp-tlb',
  title: 'TLB reach: 4 KiB pages, 2 MiB pages, and a misaligned malloc',
  question:
    'A program walking a 128 MiB dataset through 4 KiB pages misses the TLB on nearly every new page; 2 MiB pages need only 64 translations, but only if the region is 2 MiB-aligned: how much does a misaligned malloc cost, and which alignment policy gives huge pages to which allocation sizes?',
  params: {
    datasetBytes: { kind: 'size', default: 128 * MiB, min: 4 * MiB, max: 512 * MiB, description: 'the dataset walked' },
    accesses: { kind: 'int', default: 1_000_000, min: 1000, max: 100_000_000, description: 'loads per walk' },
    maxSizeBytes: { kind: 'size', default: 256 * MiB, min: 2 * MiB, max: 512 * MiB, description: 'largest allocation in the coverage sweep' },
    fragmentedRamBytes: { kind: 'size', default: 128 * MiB, min: 32 * MiB, max: 1024 * MiB, multipleOf: PAGE_SIZE, description: 'RAM of the fragmented machine' },
    rounds: { kind: 'int', default: 12, min: 2, max: 200, description: 'rounds on the fragmented machine' },
    nativeReport: {
      kind: 'string',
      default: '',
      file: true,
      fileHolds: `the output of ${NATIVE_REPORT_RECIPE}`,
      description: 'a file holding the output of npm run bench:native-tlb -- --json: its measured 4K/2M ratio is shown beside the model\'s',
    },
  },
  smoke: { datasetBytes: 16 * MiB, accesses: 40_000, maxSizeBytes: 16 * MiB, fragmentedRamBytes: 32 * MiB, rounds: 4 },
  async run(params, ctx) {
    // Read first: a path that is not a native report fails before the walks, not after them.
    const native = params.nativeReport === '' ? null : (await import('../workloads/native-report-file.ts')).readNativeReport(params.nativeReport);
    const { datasetBytes, accesses, maxSizeBytes: maxSize } = params;
    const rows: WalkRow[] = [];
    const total = CONFIGS.length * PRESETS.length * PATTERNS.length;
    for (const config of CONFIGS) {
      const dataset = prepareDataset(config, datasetBytes);
      for (const preset of PRESETS) {
        for (const pattern of PATTERNS) {
          rows.push(runWalk(dataset, preset, pattern, accesses, ctx.seed));
          ctx.progress(rows.length, total, `${config}, ${preset}, ${pattern}`);
        }
      }
      dataset.kernel.validate();
    }
    const sizes = SIZES_MIB.map((m) => m * MiB).filter((b) => b <= maxSize);
    const coverage: Record<string, number[]> = {};
    for (const which of ['glibc', 'hugepage-aware'] as const) {
      for (const policy of THP_ALIGN_POLICIES) coverage[`${which}, ${policy}`] = sizes.map((b) => coverageOf(policy, which, b));
    }
    const { fragmentedRamBytes: fragRam, rounds } = params;
    const timelines = FRAGMENTED_MODES.map((mode) => ({ mode, rounds: fragmentedTimeline(mode, fragRam, rounds, ROUND_BYTES) }));
    const { small, huge, glibc } = skylakeWalks(rows);
    const summary = [
      `${formatBytes(datasetBytes)} dataset, ${accesses} loads per walk, modelled Skylake TLBs:`,
      `random loads cost ${small.cyclesPerAccess.toFixed(1)} cycles each through 4 KiB pages, ${huge.cyclesPerAccess.toFixed(1)} through aligned 2 MiB pages, ${glibc.cyclesPerAccess.toFixed(1)} through glibc malloc (huge-page coverage ${(glibc.coverage * 100).toFixed(1)} %).`,
      `STLB misses per 1000 random loads: ${stlbMissesPer1000(small).toFixed(0)} (4 KiB) vs ${stlbMissesPer1000(huge).toFixed(1)} (2 MiB aligned).`,
    ];
    const table: Table = {
      id: 'walks',
      title: 'Walking the dataset',
      columns: [
        { key: 'config', label: 'pages' },
        { key: 'preset', label: 'TLB' },
        { key: 'pattern', label: 'pattern' },
        { key: 'accesses', label: 'loads' },
        { key: 'l1Misses', label: 'L1 dTLB misses' },
        { key: 'stlbMisses', label: 'STLB misses' },
        { key: 'walks', label: 'page walks' },
        { key: 'walkCycles', label: 'walk cycles' },
        { key: 'faults', label: 'faults' },
        { key: 'coverage', label: 'AnonHugePages coverage', digits: 3 },
        { key: 'cyclesPerAccess', label: 'cycles per load', digits: 2 },
      ],
      rows: rows.map((r) => ({ ...r })),
      note: 'Cycles are the model of machine/tlb-presets.ts (its figures are cited there), not a measurement of this machine.',
    };
    const plot: Plot = {
      id: 'coverage-plot',
      title: 'Huge-page coverage against allocation size',
      kind: 'line',
      x: { label: 'allocation (MiB)', log: true },
      y: { label: 'AnonHugePages ÷ size' },
      // One panel per alignment policy; in each, glibc's malloc solid and the hugepage-aware one dashed
      // (under some policies the two coincide).
      series: Object.entries(coverage).map(([label, values]) => {
        const [which = '', policy = ''] = label.split(', ');
        return { label, panel: `THP alignment: ${policy}`, ...(which === 'glibc' ? {} : { style: 'dashed' as const }), points: sizes.map((b, i): [number, number] => [b / MiB, values[i] ?? 0]) };
      }),
    };
    const coverageTable: Table = {
      id: 'coverage',
      title: 'Huge-page coverage by allocation size',
      columns: [{ key: 'malloc', label: 'malloc, policy' }, ...sizes.map((b) => ({ key: `s${b}`, label: `${b / MiB} MiB`, digits: 3 }))],
      rows: Object.entries(coverage).map(([label, values]) => {
        const row: Record<string, string | number> = { malloc: label };
        sizes.forEach((b, i) => (row[`s${b}`] = values[i] ?? 0));
        return row;
      }),
    };
    const lastOf = (mode: FragmentedMode): FragmentedRound | undefined => timelines.find((t) => t.mode === mode)?.rounds.at(-1);
    summary.push(
      `Fragmented ${formatBytes(fragRam)} machine, ${rounds} rounds of ${formatBytes(ROUND_BYTES)}: huge-page coverage at the end ${FRAGMENTED_MODES.map((m) => `${((lastOf(m)?.coverage ?? 0) * 100).toFixed(0)} % (${m})`).join(', ')}.`,
    );
    const timelinePlot: Plot = {
      id: 'fragmented-coverage',
      title: 'Huge-page coverage of the workload over time on a fragmented machine',
      kind: 'line',
      x: { label: 'round' },
      y: { label: 'AnonHugePages ÷ mapped' },
      // One panel per mode: several reach full coverage.
      series: timelines.map((t) => ({ label: t.mode, panel: t.mode, points: t.rounds.map((r): [number, number] => [r.round, r.coverage]) })),
    };
    const timelineTable: Table = {
      id: 'fragmented',
      title: 'THP faults on a fragmented machine (at the last round)',
      columns: [
        { key: 'mode', label: 'mode' },
        { key: 'faultAlloc', label: 'thp_fault_alloc' },
        { key: 'faultFallback', label: 'thp_fault_fallback' },
        { key: 'collapseAlloc', label: 'thp_collapse_alloc' },
        { key: 'coverage', label: 'coverage', digits: 3 },
      ],
      rows: timelines.map((t) => {
        const sum = (count: (r: FragmentedRound) => number): number => t.rounds.reduce((total, r) => total + count(r), 0);
        return { mode: t.mode, faultAlloc: sum((r) => r.hugeFaults), faultFallback: sum((r) => r.fallbackFaults), collapseAlloc: sum((r) => r.collapses), coverage: t.rounds.at(-1)?.coverage ?? 0 };
      }),
    };
    const roundsTable: Table = {
      id: 'fragmented-rounds',
      title: 'THP faults and khugepaged collapses per round on a fragmented machine',
      columns: [
        { key: 'mode', label: 'mode' },
        { key: 'round', label: 'round' },
        { key: 'hugeFaults', label: 'faults given a huge page' },
        { key: 'fallbackFaults', label: 'faults that fell back' },
        { key: 'collapses', label: 'khugepaged collapses' },
        { key: 'coverage', label: 'coverage so far', digits: 3 },
      ],
      rows: timelines.flatMap((t) => t.rounds.map((r) => ({ mode: t.mode, ...r }))),
      note: `Each round maps ${formatBytes(ROUND_BYTES)}: ${ROUND_BYTES / PMD_SIZE} THP faults. The counts are the round's increments of /proc/vmstat's thp_fault_alloc, thp_fault_fallback and thp_collapse_alloc.`,
    };
    const roundNames = Array.from({ length: rounds }, (_, i) => String(i + 1));
    const perRound = (label: string, value: (r: FragmentedRound) => number): Plot['series'] =>
      timelines.map((t) => ({ label, panel: t.mode, points: t.rounds.map((r, i): [number, number] => [i, value(r)]) }));
    const faultsPlot: Plot = {
      id: 'fragmented-faults',
      title: 'THP faults given a huge page or falling back, and khugepaged collapses, per round on a fragmented machine',
      kind: 'bar',
      x: { label: 'round' },
      y: { label: 'events in the round', integer: true },
      categories: roundNames,
      // One panel per mode, the round's three counts side by side (as lines, equal counts would hide each other).
      series: [
        ...perRound('THP fault given a huge page (thp_fault_alloc)', (r) => r.hugeFaults),
        ...perRound('THP fault fell back to 4 KiB (thp_fault_fallback)', (r) => r.fallbackFaults),
        ...perRound('khugepaged collapse (thp_collapse_alloc)', (r) => r.collapses),
      ],
    };
    const nativeTable = calibrationTable(rows, native, params.nativeReport);
    summary.push(nativeTable.note ?? '');
    return { answer: walkAnswer(rows, datasetBytes), summary, tables: [table, nativeTable, coverageTable, timelineTable, roundsTable], plots: [plot, timelinePlot, faultsPlot] };
  },
});
