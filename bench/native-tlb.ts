/**
 * `npm run bench:native-tlb`: calibrates the TLB cost model (src/machine/tlb-presets.ts) against this
 * machine. It compiles bench/native/pointer-chase.c with `cc` (skipped, with a message, when there is
 * no compiler), runs it over 128 MiB on 4 KiB and on 2 MiB pages, and sets the measured 4K/2M time
 * ratio beside the model's prediction for the same access pattern.
 *
 * The prediction: the emulated CPU runs random cache-line loads over the same region with each
 * preset, giving translation cycles per load for 4 KiB and 2 MiB pages (everything but the data
 * access). The model has no DRAM, so the memory term is taken from the measurement: the 2 MiB run's
 * ns per load × this machine's clock. predicted = (t2M·GHz + cycles4K − cycles2M) / (t2M·GHz).
 * Options: --size-mib N (default 128), --steps N (default 20 000 000), --json; --help lists them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ram } from '../src/machine/ram.ts';
import { Cpu } from '../src/machine/cpu.ts';
import { skylake, zen3, type TlbPreset } from '../src/machine/tlb-presets.ts';
import { Prng } from '../src/util/prng.ts';
import { PageTableBuilder } from '../test/helpers/page-tables.ts';
import { predictedRatio, type NativeResult } from '../src/lab/native-calibration.ts';
import { scriptOptions, wholeOption } from '../src/cli/args.ts';
import type { OptionSpecs } from '../src/cli/args.ts';
import { ArgumentError } from '../src/util/errors.ts';

export { predictedRatio, type NativeResult };

const SOURCE = new URL('./native/pointer-chase.c', import.meta.url).pathname;

/** Compiles and runs the native chase; null (with the reason) when no C compiler is found. */
export function runNative(sizeMiB: number, steps: number): { result: NativeResult } | { skipped: string } {
  const probe = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return { skipped: 'no C compiler (`cc`) on this machine: the native calibration was skipped' };
  const dir = mkdtempSync(join(tmpdir(), 'kmem-native-tlb-'));
  try {
    const binary = join(dir, 'pointer-chase');
    const build = spawnSync('cc', ['-O2', '-o', binary, SOURCE], { encoding: 'utf8' });
    if (build.status !== 0) return { skipped: `cc failed to build ${SOURCE}: ${build.stderr.trim()}` };
    const run = spawnSync(binary, [String(sizeMiB), String(steps), '1'], { encoding: 'utf8', timeout: 600_000 });
    if (run.status !== 0) return { skipped: `the native chase failed: ${run.stderr.trim()}` };
    return { result: JSON.parse(run.stdout.trim()) as NativeResult };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Translation cycles per load (all modelled cycles but the data access) for random cache-line loads
 *  over `sizeMiB` of 4 KiB (level 1) or 2 MiB (level 2) pages. */
export function modelTranslationCycles(preset: TlbPreset, level: 1 | 2, sizeMiB: number, loads: number, seed = 1): number {
  const ram = Ram.create({ sizeBytes: '16MiB' });
  const pt = new PageTableBuilder(ram, 0x10000, 8 << 20);
  const pageBytes = level === 1 ? 4096 : 2 << 20;
  const bytes = sizeMiB << 20;
  // Virtual pages share a few frames: TLB and walk behaviour depend on the virtual pages and the
  // page tables only, and RAM stays small.
  for (let v = 0; v < bytes; v += pageBytes) pt.map(v, level === 1 ? (8 << 20) + (v / 4096 % 1024) * 4096 : 8 << 20, level);
  const cpu = new Cpu(ram, { preset });
  cpu.setCr3(pt.cr3, 1);
  const prng = new Prng(seed);
  const lines = bytes / 64;
  for (let i = 0; i < loads / 2; i++) cpu.load32(prng.int(lines) * 64);
  const before = cpu.stats();
  for (let i = 0; i < loads; i++) cpu.load32(prng.int(lines) * 64);
  const after = cpu.stats();
  const accesses = after.accesses - before.accesses;
  return (after.cycles - before.cycles - accesses * preset.costs.dataAccessCycles) / accesses;
}

/** This machine's clock in GHz from /proc/cpuinfo, or null. */
export function cpuGhz(): number | null {
  try {
    const match = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match === null ? null : Number(match[1]) / 1000;
  } catch {
    return null;
  }
}

export interface CalibrationRow {
  preset: string;
  cycles4k: number;
  cycles2m: number;
  predictedRatio: number | null;
}

export function calibrate(sizeMiB: number, steps: number, loads = 200_000): { native: NativeResult | null; skipped?: string; ghz: number | null; rows: CalibrationRow[] } {
  const outcome = runNative(sizeMiB, steps);
  const native = 'result' in outcome ? outcome.result : null;
  const ghz = cpuGhz();
  const rows = [skylake(), skylake(true), zen3()].map((preset) => {
    const cycles4k = modelTranslationCycles(preset, 1, sizeMiB, loads);
    const cycles2m = modelTranslationCycles(preset, 2, sizeMiB, loads);
    const name = preset.tlb.walkCache === null ? preset.name : `${preset.name} + walk caches`;
    return { preset: name, cycles4k, cycles2m, predictedRatio: native === null || ghz === null ? null : predictedRatio(native.ns2m, ghz, cycles4k, cycles2m) };
  });
  return { native, ...('skipped' in outcome ? { skipped: outcome.skipped } : {}), ghz, rows };
}

const OPTIONS: OptionSpecs = {
  'size-mib': { type: 'string', value: 'N', help: 'MiB chased, even, 4 to 4096 (default 128)' },
  steps: { type: 'string', value: 'N', help: 'loads of the native chase per page size (default 20000000)' },
  json: { type: 'boolean', help: 'print the calibration as JSON' },
  help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' },
};

function main(): void {
  const { sizeMiB, steps, json } = scriptOptions(
    process.argv.slice(2),
    OPTIONS,
    'bench:native-tlb',
    "usage: npm run bench:native-tlb -- [options]\n\nThe native pointer chase's 4K/2M time ratio beside the TLB model's prediction (compiles bench/native/pointer-chase.c with cc).",
    (values) => {
      const sizeMiB = wholeOption('size-mib', values['size-mib'], 4, 4096, 128);
      if (sizeMiB % 2 !== 0) throw new ArgumentError(`--size-mib ${sizeMiB}: expected an even number (whole 2 MiB pages)`);
      return { sizeMiB, steps: wholeOption('steps', values.steps, 1, 1e12, 20_000_000), json: values.json === true };
    },
  );
  const report = calibrate(sizeMiB, steps);
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const { native, ghz } = report;
  if (native === null) console.log(report.skipped);
  else {
    console.log(`native pointer chase over ${native.sizeMiB} MiB, ${native.steps} steps: 4 KiB pages ${native.ns4k.toFixed(1)} ns, 2 MiB pages ${native.ns2m.toFixed(1)} ns per load; measured ratio ${native.ratio.toFixed(3)}`);
    console.log(`AnonHugePages during the 2 MiB run: ${native.anonHugeKiB2m} kB (${native.anonHugeKiB2m >= native.sizeMiB * 1024 ? 'fully huge' : 'NOT fully backed by huge pages: the 2 MiB figure is not a huge-page figure'}); clock ${ghz === null ? 'unknown' : `${ghz.toFixed(2)} GHz`}`);
  }
  console.log('| preset | model cycles/load 4 KiB | model cycles/load 2 MiB | predicted 4K/2M | measured 4K/2M |');
  console.log('|---|---:|---:|---:|---:|');
  for (const row of report.rows) {
    console.log(`| ${row.preset} | ${row.cycles4k.toFixed(1)} | ${row.cycles2m.toFixed(1)} | ${row.predictedRatio === null ? 'n/a' : row.predictedRatio.toFixed(3)} | ${native === null ? 'n/a' : native.ratio.toFixed(3)} |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
