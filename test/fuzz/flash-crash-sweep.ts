/**
 * `npm run flash:crash-sweep`: the long power-cut sweep (test/fuzz/flash-crash.ts) over both flash
 * stores and both image kinds, beyond what CI has time for. Prints one JSON report per sweep and
 * exits 1 if any acknowledged write was lost or a stale version came back.
 *   npm run flash:crash-sweep -- --cuts 1000 --seed 7 [--only page|object] [--image memory|file]
 */
import { crashSweep } from './flash-crash.ts';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function whole(name: string, fallback: number): number {
  const value = Number(option(name) ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive whole number`);
  return value;
}

const cuts = whole('cuts', 1000);
const seed = whole('seed', 1);
const stores = (['page', 'object'] as const).filter((s) => option('only') === undefined || option('only') === s);
const images = (['memory', 'file'] as const).filter((i) => option('image') === undefined || option('image') === i);
let failed = false;
for (const store of stores) {
  for (const image of images) {
    const started = performance.now();
    const report = crashSweep({ seed, cuts, store, image });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(`${JSON.stringify(report)} in ${seconds} s\n`);
    if (report.lost + report.stale > 0) failed = true;
  }
}
process.exit(failed ? 1 : 0);
