import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { modelTranslationCycles, predictedRatio, runNative } from '../../bench/native-tlb.ts';
import { fullyAssociative, skylake, zen3 } from '../../src/machine/tlb-presets.ts';

test('the native pointer chase builds and runs where a C compiler exists (skipped with a reason otherwise)', (t) => {
  const fallbacksBefore = hostVmstat('thp_fault_fallback');
  const outcome = runNative(8, 200_000);
  if ('skipped' in outcome) {
    assert.match(outcome.skipped, /compiler|cc/);
    t.skip(outcome.skipped);
    return;
  }
  const r = outcome.result;
  assert.equal(r.sizeMiB, 8);
  assert.ok(r.ns4k > 0 && r.ns2m > 0);
  assert.ok(Math.abs(r.ratio - r.ns4k / r.ns2m) < 1e-3);
  assert.equal(r.anonHugeKiB4k, 0, 'MADV_NOHUGEPAGE kept the 4 KiB run off huge pages');
  // Where the host offers THP to madvised memory, the 2 MiB run is on huge pages: its figure is a
  // huge-page figure (defrag's default, madvise, compacts directly for MADV_HUGEPAGE faults). A host
  // too fragmented even for that falls back, and says so in its thp_fault_fallback count.
  const thp = thpMode();
  if (thp === 'always' || thp === 'madvise') {
    const fellBack = hostVmstat('thp_fault_fallback') > fallbacksBefore;
    assert.ok(r.anonHugeKiB2m > 0 || fellBack, `THP is '${thp}' here, yet the 2 MiB run had no AnonHugePages and the host counted no THP fallback`);
  }
});

/** A counter of the host's /proc/vmstat, or 0 where there is none. */
function hostVmstat(name: string): number {
  try {
    const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(readFileSync('/proc/vmstat', 'utf8'));
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

/** The host's /sys/kernel/mm/transparent_hugepage/enabled choice, or null where there is none. */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

test('the model: random loads over 8 MiB cost more translation on 4 KiB pages than on 2 MiB pages', () => {
  for (const preset of [skylake(), zen3()]) {
    const small = modelTranslationCycles(preset, 1, 8, 20_000);
    const huge = modelTranslationCycles(preset, 2, 8, 20_000);
    assert.ok(small > huge, `${preset.name}: ${small} vs ${huge}`);
  }
  // Fully associative, unit costs: 8 MiB = 2048 pages, 64 entries: misses at 1 − 64/2048, 4 reads each.
  const fa = modelTranslationCycles(fullyAssociative(64), 1, 8, 40_000);
  assert.ok(Math.abs(fa - 4 * (1 - 64 / 2048)) < 0.05, `${fa}`);
  // 4 2 MiB pages fit in 64 entries: no walk after warm-up.
  assert.equal(modelTranslationCycles(fullyAssociative(64), 2, 8, 10_000), 0);
  assert.equal(predictedRatio(100, 2, 50, 0), 1.25);
});
