/**
 * `npm run flash:crash-sweep`: the long power-cut sweep (test/fuzz/flash-crash.ts) over both flash
 * stores and both image kinds, beyond what CI has time for. Prints one JSON report per sweep and
 * exits 1 if any acknowledged write was lost or a stale version came back.
 *   npm run flash:crash-sweep -- --cuts 1000 --seed 7 [--only page|object] [--image memory|file]
 */
import { scriptOptions, wholeOption } from '../../src/cli/args.ts';
import type { OptionSpecs } from '../../src/cli/args.ts';
import { ArgumentError } from '../../src/util/errors.ts';
import { crashSweep } from './flash-crash.ts';

const STORES = ['page', 'object'] as const;
const IMAGES = ['memory', 'file'] as const;

/** README: "≥ 1000 random power cuts per flash store and image kind". */
const DEFAULT_CUTS = 1000;

const OPTIONS: OptionSpecs = {
  cuts: { type: 'string', value: 'N', help: `power cuts per sweep (default ${DEFAULT_CUTS})` },
  seed: { type: 'string', value: 'N', help: 'seed, 1 or more (default 1)' },
  only: { type: 'string', value: 'STORE', help: `sweep only this store: ${STORES.join(' | ')} (default both)` },
  image: { type: 'string', value: 'KIND', help: `sweep only this image kind: ${IMAGES.join(' | ')} (default both)` },
  help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' },
};

/** The choices an option keeps: all of them when it is absent, else the one it names. */
function oneOf<T extends string>(name: string, raw: string | boolean | undefined, choices: readonly T[]): readonly T[] {
  if (raw === undefined) return choices;
  const chosen = choices.find((c) => c === raw);
  if (chosen === undefined) throw new ArgumentError(`--${name} '${String(raw)}' matches nothing: expected ${choices.join(' or ')}`);
  return [chosen];
}

const { cuts, seed, stores, images } = scriptOptions(
  process.argv.slice(2),
  OPTIONS,
  'flash:crash-sweep',
  'usage: npm run flash:crash-sweep -- [options]\n\nThe power-cut sweep over both flash stores and both image kinds; exit 1 if a write was lost or went stale.',
  (values) => ({
    cuts: wholeOption('cuts', values.cuts, 1, undefined, DEFAULT_CUTS),
    seed: wholeOption('seed', values.seed, 1, undefined, 1),
    stores: oneOf('only', values.only, STORES),
    images: oneOf('image', values.image, IMAGES),
  }),
);
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
