/**
 * The `kmem` command.
 *
 *   kmem list                                   the scenarios and their parameters
 *   kmem run <scenario> [--param value] [--seed N] [--smoke] [--json | --csv]
 *   kmem report [--out DIR] [--seed N] [--smoke] [--only a,b]     every scenario → DIR/index.html
 *   kmem boot [--ram-bytes 64MiB] [--cpus N] [--possible-cpus N] [--no-group-by-mobility]
 *                                               boot a kernel, show /proc files
 *
 * Progress goes to stderr, and only when stderr is a terminal. Errors print one line and exit 2.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kernel } from '../mm/kernel.ts';
import { buddyinfo, extfragIndexText, pagetypeinfo, unusableIndexText } from '../mm/vmstat.ts';
import { camel, kebab } from '../lab/params.ts';
import type { ParamInput } from '../lab/params.ts';
import { SCENARIOS, findScenario } from '../lab/registry.ts';
import { runScenario } from '../lab/run.ts';
import type { ScenarioRun } from '../lab/run.ts';
import type { AnyScenario, ParamSpec } from '../lab/scenario.ts';
import { ArgumentError, KmemError } from '../util/errors.ts';
import { formatBytes } from '../util/units.ts';
import { parseArgs } from './args.ts';
import type { ParsedArgs } from './args.ts';
import { renderRunCsv } from './render/csv.ts';
import { renderRunText } from './render/text.ts';
import { renderReportHtml } from './report/html.ts';

const FLAGS = new Set(['json', 'csv', 'smoke', 'help', 'group-by-mobility']);

const USAGE = `usage: kmem <command> [options]

commands:
  list                          the scenarios and their parameters
  run <scenario> [options]      run one scenario: --<param> value, --seed N, --smoke, --json | --csv
  report [options]              run every scenario, print summaries, write the HTML report
                                (--out DIR, default report; --seed N; --smoke; --only a,b)
  boot [options]                boot a kernel and print its /proc files
                                (--ram-bytes SIZE, default 64MiB; --cpus N, CPU slots, default
                                the host's CPUs; --possible-cpus N, nr_cpu_ids slab sizing
                                assumes, default --cpus; --no-group-by-mobility)
  help                          this text`;

function progressReporter(label: string): ((done: number, total: number, what?: string) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  let last = -1;
  return (done, total, what) => {
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    if (pct === last) return;
    last = pct;
    process.stderr.write(`\r${label}: ${pct}%${what === undefined ? '' : ` ${what}`}\x1b[K${done >= total ? '\n' : ''}`);
  };
}

function seedOf(args: ParsedArgs): number {
  const raw = args.options.get('seed');
  if (raw === undefined) return 1;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ArgumentError(`--seed ${String(raw)}: expected an integer in [0, 2^32)`);
  return seed;
}

function describeParam(name: string, spec: ParamSpec): string {
  const def = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
  const range =
    spec.kind === 'enum'
      ? ` (${spec.values.join(' | ')})`
      : 'min' in spec && (spec.min !== undefined || spec.max !== undefined)
        ? ` [${spec.min ?? ''}..${spec.max ?? ''}]`
        : '';
  return `    --${kebab(name)} <${spec.kind}>  ${spec.description}; default ${def}${range}`;
}

function scenarioHelp(scenario: AnyScenario): string {
  const params = Object.entries(scenario.params as Record<string, ParamSpec>).map(([n, s]) => describeParam(n, s));
  return [`  ${scenario.name}: ${scenario.title}`, `    ${scenario.question}`, ...params].join('\n');
}

function commandList(): string {
  return ['scenarios:', ...SCENARIOS.map(scenarioHelp)].join('\n\n');
}

async function commandRun(args: ParsedArgs): Promise<string> {
  const name = args.positional[0];
  if (name === undefined) throw new ArgumentError(`kmem run: expected a scenario: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const scenario = findScenario(name);
  if (args.options.get('help') === true) return scenarioHelp(scenario);
  const overrides: Record<string, ParamInput> = {};
  for (const [key, value] of args.options) {
    if (['seed', 'smoke', 'json', 'csv'].includes(key)) continue;
    overrides[camel(key)] = value;
  }
  const run = await runScenario(scenario, overrides, {
    seed: seedOf(args),
    smoke: args.options.get('smoke') === true,
    onProgress: progressReporter(scenario.name),
  });
  if (args.options.get('json') === true) return JSON.stringify(run, null, 2);
  if (args.options.get('csv') === true) return renderRunCsv(run);
  return renderRunText(run);
}

async function commandReport(args: ParsedArgs): Promise<string> {
  const seed = seedOf(args);
  const smoke = args.options.get('smoke') === true;
  const out = resolve(String(args.options.get('out') ?? 'report'));
  const only = args.options.get('only');
  const chosen = typeof only === 'string' ? only.split(',').map((n) => findScenario(n.trim())) : [...SCENARIOS];
  const runs: ScenarioRun[] = [];
  const texts: string[] = [];
  for (const scenario of chosen) {
    const run = await runScenario(scenario, {}, { seed, smoke, onProgress: progressReporter(scenario.name) });
    runs.push(run);
    texts.push(renderRunText(run));
  }
  mkdirSync(out, { recursive: true });
  const path = join(out, 'index.html');
  writeFileSync(path, renderReportHtml(runs, seed));
  texts.push(`\nreport written to ${path}`);
  return texts.join('\n\n');
}

function commandBoot(args: ParsedArgs): string {
  const ramBytes = String(args.options.get('ram-bytes') ?? '64MiB');
  const cpus = intOption(args, 'cpus');
  const possibleCpus = intOption(args, 'possible-cpus');
  const kernel = Kernel.boot({
    ramBytes,
    groupByMobility: args.options.get('group-by-mobility') !== false,
    ...(cpus === undefined ? {} : { cpus }),
    ...(possibleCpus === undefined ? {} : { possibleCpus }),
  });
  kernel.validate();
  const stats = kernel.stats();
  const lines = [
    `RAM ${formatBytes(stats.ramBytes)}, ${stats.pages.nrPages} pages; kernel metadata ${formatBytes(stats.metadataBytes)} (${(100 * stats.metadataFraction).toFixed(2)}% of RAM)`,
    '',
    'memblock regions:',
    ...stats.regions.map((r) => `  ${r.name.padEnd(24)} 0x${r.paddr.toString(16).padStart(8, '0')}  ${formatBytes(r.sizeBytes)}`),
    '',
    '/proc/buddyinfo:',
    buddyinfo(kernel.pages),
    '/proc/pagetypeinfo:',
    pagetypeinfo(kernel.pages),
    '',
    '/sys/kernel/debug/extfrag/extfrag_index:',
    extfragIndexText(kernel.pages),
    '/sys/kernel/debug/extfrag/unusable_index:',
    unusableIndexText(kernel.pages),
    '',
    `/proc/slabinfo (${stats.cpus} CPU slots, nr_cpu_ids ${stats.possibleCpus}):`,
    kernel.slab.slabinfo(),
  ];
  return lines.join('\n');
}

/** A whole-number option, or undefined when absent. */
function intOption(args: ParsedArgs, name: string): number | undefined {
  const raw = args.options.get(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ArgumentError(`--${name} ${String(raw)}: expected an integer`);
  return value;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseArgs(argv, FLAGS);
    let output: string;
    switch (args.command) {
      case 'list':
        output = commandList();
        break;
      case 'run':
        output = await commandRun(args);
        break;
      case 'report':
        output = await commandReport(args);
        break;
      case 'boot':
        output = commandBoot(args);
        break;
      case 'help':
        output = USAGE;
        break;
      default:
        throw new ArgumentError(`unknown command '${args.command}': expected list, run, report, boot or help`);
    }
    process.stdout.write(`${output}\n`);
    return 0;
  } catch (error) {
    if (error instanceof KmemError) {
      process.stderr.write(`kmem: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('src/cli/main.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
