/**
 * `npm run kill-sweep`: workers killed with terminate() in the middle of their allocations and
 * frees, many more times than CI runs it (test/mm/slab/crash.test.ts), each trial checked as
 * there (test/helpers/kill-trial.ts). Prints a line per trial that is not clean and a summary;
 * exits 1 if any trial failed.
 *   npm run kill-sweep -- --trials 200 --workers 3 --seed 1 [--page-limit 20000] [--no-pcp]
 */
import { scriptOptions, wholeOption } from '../../src/cli/args.ts';
import type { OptionSpecs } from '../../src/cli/args.ts';
import { Prng } from '../../src/util/prng.ts';
import { killTrial } from '../helpers/kill-trial.ts';

const OPTIONS: OptionSpecs = {
  trials: { type: 'string', value: 'N', help: 'trials (default 100)' },
  workers: { type: 'string', value: 'N', help: 'workers killed per trial, one after another while the rest run (default 3)' },
  seed: { type: 'string', value: 'N', help: 'seed of the kill times and the workers, 1 or more (default 1)' },
  'page-limit': { type: 'string', value: 'N', help: 'boot with this page limit (pages; default 0, none): its counter runs, the slow paths only' },
  'no-pcp': { type: 'boolean', help: 'boot without per-CPU page lists (every order-0 page through the buddy lists)' },
  help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' },
};

const { trials, workers, seed, pageLimit, pcp } = scriptOptions(
  process.argv.slice(2),
  OPTIONS,
  'kill-sweep',
  'usage: npm run kill-sweep -- [options]\n\nWorkers killed mid-operation, offlined, and the kernel checked; exit 1 if a trial failed.',
  (values) => ({
    trials: wholeOption('trials', values.trials, 1, undefined, 100),
    workers: wholeOption('workers', values.workers, 1, 64, 3),
    seed: wholeOption('seed', values.seed, 1, undefined, 1),
    pageLimit: wholeOption('page-limit', values['page-limit'], 0, undefined, 0),
    pcp: values['no-pcp'] !== true,
  }),
);
const prng = new Prng(seed);
let failed = 0;
let objects = 0;
let pages = 0;
let recoveries = 0;
const started = performance.now();
for (let trial = 0; trial < trials; trial++) {
  const delayMs = 5 + prng.int(80);
  try {
    const result = await killTrial({ workers, delayMs, seed: seed * 100_000 + trial, pageLimit, pcp });
    objects = Math.max(objects, result.objectsInUse);
    pages = Math.max(pages, result.pagesNotFree);
    recoveries += result.lockRecoveries;
    if (result.objectsInUse > workers) {
      failed++;
      process.stdout.write(`trial ${trial} (killed after ${delayMs} ms): ${result.objectsInUse} objects still in use, more than one per worker\n`);
    }
  } catch (error) {
    failed++;
    process.stdout.write(`trial ${trial} (killed after ${delayMs} ms): ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  }
}
const seconds = ((performance.now() - started) / 1000).toFixed(0);
process.stdout.write(`${trials} trials of ${workers} workers in ${seconds} s: ${failed} failed; at most ${objects} objects and ${pages} pages left allocated by the operations cut short; ${recoveries} locks taken over and repaired\n`);
process.exit(failed > 0 ? 1 : 0);
