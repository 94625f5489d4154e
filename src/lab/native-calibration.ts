/**
 * The native calibration of the TLB model (bench/native-tlb.ts, `npm run bench:native-tlb`): a C
 * pointer chase over 128 MiB on 4 KiB and on 2 MiB pages, measured on the host, and the model's
 * predicted 4K/2M time ratio for the same pattern. This module holds what the thp-tlb scenario needs
 * to show the measured ratio beside the modelled one: the report's shape (the JSON that
 * `npm run bench:native-tlb -- --json` prints), its checked parsing, and the prediction formula.
 *
 * The model has no DRAM, so the memory term of a load is taken from the measurement: the 2 MiB run's
 * ns per load × the host clock. predicted = (t2M·GHz + c4K − c2M) / (t2M·GHz), where c4K and c2M are
 * the model's translation cycles per load (everything but the data access).
 */
import { ArgumentError } from '../util/errors.ts';

export interface NativeResult {
  sizeMiB: number;
  steps: number;
  ns4k: number;
  ns2m: number;
  ratio: number;
  anonHugeKiB4k: number;
  anonHugeKiB2m: number;
}

/** What `npm run bench:native-tlb -- --json` prints (rows: the bench's own predictions, not used here). */
export interface NativeReport {
  native: NativeResult | null;
  skipped?: string;
  ghz: number | null;
}

export function predictedRatio(ns2m: number, ghz: number, cycles4k: number, cycles2m: number): number {
  const memoryCycles = ns2m * ghz;
  return (memoryCycles + cycles4k - cycles2m) / memoryCycles;
}

/** How to make a native report, for the messages that ask for one. */
export const NATIVE_REPORT_RECIPE = 'npm run -s bench:native-tlb -- --json > native.json';

/**
 * A native report from its JSON text; a typed error naming `source` when it is not one. The lines
 * npm prints before a script's output (`> kmem@0.1.0 bench:native-tlb` and the command, on stdout
 * unless `npm run -s`) are skipped: a report saved without -s is still the report.
 */
export function parseNativeReport(text: string, source: string): NativeReport {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^(?:\s*\n)*(?:> [^\n]*\n(?:\s*\n)*)+/, ''));
  } catch (error) {
    throw new ArgumentError(`${source}: not JSON (${(error as Error).message}); expected the output of ${NATIVE_REPORT_RECIPE}`);
  }
  const report = value as Partial<NativeReport> | null;
  const native = report?.native;
  const okNative =
    native === null ||
    (typeof native === 'object' && native !== undefined && ['sizeMiB', 'steps', 'ns4k', 'ns2m', 'ratio', 'anonHugeKiB2m'].every((k) => Number.isFinite((native as unknown as Record<string, unknown>)[k])));
  if (report === null || typeof report !== 'object' || !okNative || !(report.ghz === null || Number.isFinite(report.ghz))) {
    throw new ArgumentError(`${source}: expected { native: { sizeMiB, steps, ns4k, ns2m, ratio, anonHugeKiB2m } | null, ghz }, the output of ${NATIVE_REPORT_RECIPE}`);
  }
  return { native: native ?? null, ghz: report.ghz ?? null, ...(typeof report.skipped === 'string' ? { skipped: report.skipped } : {}) };
}
