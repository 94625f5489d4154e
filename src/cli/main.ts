/**
 * The `kmem` command.
 *
 *   kmem list                                   the scenarios and their parameters
 *   kmem run <scenario> [--param value] [--seed N] [--smoke] [--json | --csv]
 *   kmem report [--out DIR] [--seed N] [--smoke] [--only a,b] [--jobs N]   every scenario → DIR/index.html
 *   kmem boot [--ram-bytes 64MiB] [--cpus N] [--possible-cpus N] [--no-group-by-mobility]
 *                                               boot a kernel and its VM, show /proc files
 *   kmem replay FILE [--json | --csv]              a Linux kmem trace through kmem (trace-commands.ts)
 *   kmem trace-gen [--events N] [--out FILE]      a synthetic one
 *   kmem dump-info FILE                         the page classes a crash dump contains and left out
 *   kmem --version | kmem [command] [scenario] --help
 *
 * Like git's or node's command line: -h/--help at every level prints help and does nothing else; an
 * unknown option, a missing value or a stray word is an error (one line on stderr, exit 2); a
 * failure while running (a file that cannot be written, a malformed trace) is one line, exit 1.
 * Progress goes to stderr: a percentage on a terminal, else one line per phase; -q silences it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Kernel } from '../mm/kernel.ts';
import { MAX_CPU_SLOTS, MAX_POSSIBLE_CPUS, defaultCpuSlots } from '../mm/cpu-slots.ts';
import { MAX_RAM_BYTES, MIN_RAM_BYTES, PAGE_SIZE, checkRamSize } from '../machine/ram.ts';
import { CrashDump, describeDump } from '../mm/dump/read.ts';
import { buddyinfo, extfragIndexText, pagetypeinfo, unusableIndexText, zoneinfoPagesets } from '../mm/vmstat.ts';
import { kebab, resolveParams } from '../lab/params.ts';
import type { ParamInput } from '../lab/params.ts';
import { SCENARIOS, findScenario } from '../lab/registry.ts';
import { PARALLEL_RUNS_MAX, runScenariosInWorkers } from '../lab/parallel-runs.ts';
import { runScenario } from '../lab/run.ts';
import type { ScenarioRun } from '../lab/run.ts';
import type { AnyScenario, ParamSpec } from '../lab/scenario.ts';
import { ArgumentError, KmemError } from '../util/errors.ts';
import { formatBytes, formatSizeExact, parseSizeBytes } from '../util/units.ts';
import { optionHelp, parseOptions, wantsHelp, wholeOption } from './args.ts';
import type { OptionSpecs } from './args.ts';
import { checkReadableFile, prepareOutputDir } from './paths.ts';
import { runFiltered, runsDirectly, stderrIsTerminal } from './native-warnings.ts';
import { renderRunCsv } from './render/csv.ts';
import { lockStatText } from '../sync/lock-stats.ts';
import { formatParam } from './render/format.ts';
import { renderRunText } from './render/text.ts';
import { environment } from './report/environment.ts';
import { EXPLORER_URL, renderReportHtml } from './report/html.ts';
import { REPLAY_HELP, TRACE_GEN_HELP, commandReplay, commandTraceGen } from './trace-commands.ts';

/** A failure while running, not a usage error: exit status 1. */
export class RunError extends KmemError {
  override name = 'RunError';
}

const COMMON: OptionSpecs = {
  help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress on stderr' },
  verbose: { type: 'boolean', help: "also show native libraries' warnings (Dawn's adapter limits)" },
};
const RUN_OPTIONS: OptionSpecs = {
  seed: { type: 'string', value: 'N', help: 'seed of every PRNG of the run (default 1)' },
  smoke: { type: 'boolean', help: "a quick check with the scenario's small values for the parameters not given" },
  json: { type: 'boolean', help: 'print the run (parameters used, summary, tables, plots) as JSON' },
  csv: { type: 'boolean', help: "print the run's tables as CSV" },
  ...COMMON,
};
const REPORT_OPTIONS: OptionSpecs = {
  out: { type: 'string', value: 'DIR', help: 'where index.html is written (default report)' },
  seed: RUN_OPTIONS.seed as OptionSpecs[string],
  smoke: { type: 'boolean', help: "quick checks with each scenario's small values" },
  only: { type: 'string', value: 'A,B', help: 'run only these scenarios' },
  jobs: { type: 'string', value: 'N', help: 'scenarios without wall-clock figures run N at once in worker threads (default: the CPU cores; 1: one after another)' },
  ...COMMON,
};
const BOOT_OPTIONS: OptionSpecs = {
  'ram-bytes': { type: 'string', value: 'SIZE', help: `RAM of the machine, with a unit: 64MiB (default), 1GiB; ${formatSizeExact(MIN_RAM_BYTES)}..${formatSizeExact(MAX_RAM_BYTES)}, a multiple of ${formatSizeExact(PAGE_SIZE)}` },
  cpus: { type: 'string', value: 'N', help: `CPU slots: threads that will allocate, this one included; 1..${MAX_CPU_SLOTS} (default: the host's CPUs, at most ${MAX_CPU_SLOTS})` },
  'possible-cpus': { type: 'string', value: 'N', help: `nr_cpu_ids, which slab sizing assumes; --cpus..${MAX_POSSIBLE_CPUS} (default --cpus)` },
  'group-by-mobility': { type: 'boolean', help: 'group pageblocks by migratetype (default)' },
  'no-group-by-mobility': { type: 'boolean', help: "don't (page_group_by_mobility_disabled)" },
  help: COMMON.help as OptionSpecs[string],
};
const LIST_OPTIONS: OptionSpecs = { help: COMMON.help as OptionSpecs[string] };
const DUMP_INFO_OPTIONS: OptionSpecs = { help: COMMON.help as OptionSpecs[string] };

const COMMANDS = ['list', 'run', 'report', 'boot', 'replay', 'trace-gen', 'dump-info', 'help'] as const;

const USAGE = `usage: kmem <command> [options]
       kmem <command> --help | kmem --version

commands:
  list                   the scenarios and their parameters
  run <scenario> [...]   run one scenario (kmem run <scenario> --help: its parameters)
  report [...]           run every scenario, print each summary, write the HTML report
  boot [...]             boot a kernel and print its /proc files
  replay FILE [...]      replay a Linux kmem trace through kmem, fixed slots and a general allocator
  trace-gen [...]        write a synthetic Linux kmem trace (seeded)
  dump-info FILE         the page classes a crash dump contains and left out
  help [command]         this text, or a command's

options:
  -h, --help             print help and do nothing else
      --version          print kmem's version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `kmem ${pkg.version}`;
}

/** A parameter's option: `--ram-bytes <size>  RAM of the emulated machine; default 128MiB [32MiB..1GiB]`. */
function describeParam(name: string, spec: ParamSpec): string {
  const range =
    spec.kind === 'enum'
      ? ` (${spec.values.join(' | ')})`
      : 'min' in spec && (spec.min !== undefined || spec.max !== undefined)
        ? ` [${spec.min === undefined ? '' : formatParam(spec, spec.min)}..${spec.max === undefined ? '' : formatParam(spec, spec.max)}${'multipleOf' in spec && spec.multipleOf !== undefined ? `, multiples of ${formatParam(spec, spec.multipleOf)}` : ''}]`
        : '';
  return `    --${kebab(name)} <${spec.kind}>  ${spec.description}; default ${formatParam(spec, spec.default)}${range}`;
}

function scenarioParams(scenario: AnyScenario): [string, ParamSpec][] {
  return Object.entries(scenario.params as Record<string, ParamSpec>);
}

function scenarioHelp(scenario: AnyScenario): string {
  return [`  ${scenario.name}: ${scenario.title}`, `    ${scenario.question}`, ...scenarioParams(scenario).map(([n, s]) => describeParam(n, s))].join('\n');
}

function commandHelp(command: string, scenarioName: string | undefined): string {
  switch (command) {
    case 'list':
      return `usage: kmem list\n\nThe scenarios, their questions and parameters.\n\n${optionHelp(LIST_OPTIONS)}`;
    case 'run': {
      const scenario = SCENARIOS.find((s) => s.name === scenarioName);
      const head = `usage: kmem run <scenario> [--<parameter> VALUE ...] [options]\n\noptions:\n${optionHelp(RUN_OPTIONS)}`;
      if (scenario === undefined) return `${head}\n\nscenarios: ${SCENARIOS.map((s) => s.name).join(', ')} (kmem run <scenario> --help: its parameters)`;
      return `${head}\n\nparameters (sizes take units: 64MiB, 1GiB):\n${scenarioHelp(scenario)}`;
    }
    case 'report':
      return `usage: kmem report [options]\n\nRuns every scenario (or --only those), prints each summary as it finishes, writes DIR/index.html.\n\n${optionHelp(REPORT_OPTIONS)}`;
    case 'replay':
      return REPLAY_HELP;
    case 'trace-gen':
      return TRACE_GEN_HELP;
    case 'boot':
      return `usage: kmem boot [options]\n\nBoots a kernel with its virtual memory (init_mm's direct map, the VM's slab caches) and prints its\nmemblock regions and /proc files: buddyinfo, pagetypeinfo, extfrag, zoneinfo's pagesets, slabinfo,\nmeminfo, vmstat and lock_stat.\n\n${optionHelp(BOOT_OPTIONS)}`;
    case 'dump-info':
      return `usage: kmem dump-info FILE\n\nReads a kmem crash dump (docs/dump-hibernate-swap.md) and lists its page classes (makedumpfile's\n-d classes and kmem's sensitive class): frames of each, how many the dump left out, which it contains.\n\n${optionHelp(DUMP_INFO_OPTIONS)}`;
    default:
      return USAGE;
  }
}

/** Progress on stderr; `lines` (scenarios running side by side) always one line per phase. */
function progressReporter(name: string, quiet: boolean, lines = false): ((done: number, total: number, what?: string) => void) | undefined {
  if (quiet) return undefined;
  if (stderrIsTerminal() && !lines) {
    let last = -1;
    return (done, total, what) => {
      const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
      if (pct === last) return;
      last = pct;
      process.stderr.write(`\r${name}: ${pct}%${what === undefined ? '' : ` ${what}`}\x1b[K${done >= total ? '\n' : ''}`);
    };
  }
  // Not a terminal (a pipe, a CI log): one line per phase, never a carriage return.
  let phase: string | undefined;
  return (done, total, what) => {
    if (what === undefined || what === phase) return;
    phase = what;
    process.stderr.write(`${name}: ${what} (${done}/${total})\n`);
  };
}

function seedOf(raw: string | boolean | undefined): number {
  if (raw === undefined) return 1;
  const seed = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ArgumentError(`--seed ${String(raw)}: expected an integer in [0, 2^32)`);
  }
  return seed;
}

/** The scenario's parameters as options: strings, and booleans with their --no- form. */
function paramOptions(scenario: AnyScenario): OptionSpecs {
  const specs: OptionSpecs = {};
  for (const [name, spec] of scenarioParams(scenario)) {
    if (spec.kind === 'bool') {
      specs[kebab(name)] = { type: 'boolean', help: spec.description };
      specs[`no-${kebab(name)}`] = { type: 'boolean', help: `not: ${spec.description}` };
    } else {
      specs[kebab(name)] = { type: 'string', value: spec.kind.toUpperCase(), help: spec.description };
    }
  }
  return specs;
}

async function runOne(scenario: AnyScenario, overrides: Record<string, ParamInput>, seed: number, smoke: boolean, quiet: boolean): Promise<ScenarioRun> {
  if (!quiet) process.stderr.write(`${scenario.name}: running${smoke ? ' (--smoke)' : ''}\n`);
  const run = await runScenario(scenario, overrides, { seed, smoke, onProgress: progressReporter(scenario.name, quiet) });
  if (!quiet) process.stderr.write(`${scenario.name}: done in ${(run.elapsedMs / 1000).toFixed(1)} s\n`);
  return run;
}

async function commandRun(argv: readonly string[]): Promise<string> {
  const name = argv.find((w) => !w.startsWith('-'));
  if (name === undefined) throw new ArgumentError(`run: expected a scenario: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const scenario = findScenario(name);
  const params = paramOptions(scenario);
  const { values } = parseOptions(argv, { ...params, ...RUN_OPTIONS }, 1, `run ${scenario.name}`);
  if (values.json === true && values.csv === true) throw new ArgumentError('run: --json and --csv are exclusive: choose one');
  const overrides: Record<string, ParamInput> = {};
  for (const [paramName, spec] of scenarioParams(scenario)) {
    const key = kebab(paramName);
    if (spec.kind === 'bool') {
      if (values[key] === true && values[`no-${key}`] === true) throw new ArgumentError(`run: --${key} and --no-${key} contradict each other`);
      if (values[key] === true) overrides[paramName] = true;
      if (values[`no-${key}`] === true) overrides[paramName] = false;
    } else if (typeof values[key] === 'string') {
      overrides[paramName] = values[key];
    }
  }
  const quiet = values.quiet === true;
  const resolved = resolveParams(scenario, overrides, values.smoke === true); // a bad value is an error before anything runs
  for (const [paramName, spec] of scenarioParams(scenario)) {
    const path = resolved[paramName];
    if (spec.kind === 'string' && spec.file === true && typeof path === 'string' && path !== '') checkReadableFile(path, `run ${scenario.name}: --${kebab(paramName)}`, spec.fileHolds);
  }
  const run = await runOne(scenario, overrides, seedOf(values.seed), values.smoke === true, quiet);
  if (values.json === true) return JSON.stringify(run, null, 2);
  if (values.csv === true) return renderRunCsv(run);
  return renderRunText(run);
}

function writeOut(path: string, text: string): void {
  try {
    mkdirSync(resolve(path, '..'), { recursive: true });
    writeFileSync(path, text);
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error instanceof Error ? error.message : String(error));
    throw new RunError(`cannot write ${path}: ${code}`);
  }
}

async function commandReport(argv: readonly string[]): Promise<string> {
  const { values } = parseOptions(argv, REPORT_OPTIONS, 0, 'report');
  const seed = seedOf(values.seed);
  const jobs = jobsOf(values.jobs);
  const smoke = values.smoke === true;
  const quiet = values.quiet === true;
  const out = resolve(String(values.out ?? 'report'));
  const only = values.only;
  const chosen = typeof only === 'string' ? only.split(',').map((n) => findScenario(n.trim())) : [...SCENARIOS];
  const path = join(out, 'index.html');
  // Fail before the runs, not after them, when the report cannot be written.
  prepareOutputDir(String(values.out ?? 'report'), 'report: --out');
  const runs = await reportRuns(chosen, seed, smoke, quiet, jobs);
  if (!quiet) process.stderr.write('report: rendering the charts\n');
  writeOut(path, await renderReportHtml(runs, seed, environment(runs, process.cwd())));
  return `report written to ${path}\nthe explorer (the kernel live in a browser): npm run explore, then open ${EXPLORER_URL}`;
}

/** --jobs: a whole number ≥ 1, by default the CPU cores. */
function jobsOf(raw: string | boolean | undefined): number {
  if (raw === undefined) return availableParallelism();
  const jobs = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(jobs) || jobs < 1 || jobs > PARALLEL_RUNS_MAX) {
    throw new ArgumentError(`--jobs ${String(raw)}: expected a whole number from 1 to ${PARALLEL_RUNS_MAX}`);
  }
  return jobs;
}

/**
 * The report's runs, in `chosen`'s order, each summary printed on stdout in that order. With more
 * than one job, the scenarios that measure the wall clock (Scenario.wallClock) run first, one at a
 * time on this thread with nothing beside them, then the others `jobs` at a time in worker threads.
 */
async function reportRuns(chosen: readonly AnyScenario[], seed: number, smoke: boolean, quiet: boolean, jobs: number): Promise<ScenarioRun[]> {
  const runs = new Map<string, ScenarioRun>();
  let printed = 0;
  const finished = (run: ScenarioRun): void => {
    runs.set(run.scenario, run);
    for (let next = chosen[printed]; next !== undefined && runs.has(next.name); next = chosen[printed]) {
      process.stdout.write(`${renderRunText(runs.get(next.name) as ScenarioRun)}\n\n`);
      printed++;
    }
  };
  const inWorkers = jobs > 1 ? chosen.filter((s) => s.wallClock !== true) : [];
  for (const scenario of chosen) if (!inWorkers.includes(scenario)) finished(await runOne(scenario, {}, seed, smoke, quiet));
  if (inWorkers.length > 0) {
    const reporters = new Map(inWorkers.map((s) => [s.name, progressReporter(s.name, quiet, true)]));
    if (!quiet) process.stderr.write(`report: ${inWorkers.map((s) => s.name).join(', ')}: running ${Math.min(jobs, inWorkers.length)} at a time in worker threads${smoke ? ' (--smoke)' : ''}\n`);
    await runScenariosInWorkers(
      inWorkers.map((s) => s.name),
      {
        seed,
        smoke,
        threads: jobs,
        onProgress: (name, done, total, label) => reporters.get(name)?.(done, total, label),
        onDone: (run) => {
          if (!quiet) process.stderr.write(`${run.scenario}: done in ${(run.elapsedMs / 1000).toFixed(1)} s\n`);
          finished(run);
        },
      },
    );
  }
  return chosen.map((s) => runs.get(s.name) as ScenarioRun);
}

function commandBoot(argv: readonly string[]): string {
  const { values } = parseOptions(argv, BOOT_OPTIONS, 0, 'boot');
  if (values['group-by-mobility'] === true && values['no-group-by-mobility'] === true) {
    throw new ArgumentError('boot: --group-by-mobility and --no-group-by-mobility contradict each other');
  }
  const rawRam = String(values['ram-bytes'] ?? '64MiB');
  let ramBytes: number;
  try {
    ramBytes = parseSizeBytes(rawRam);
    checkRamSize(ramBytes);
  } catch (error) {
    throw new ArgumentError(`boot: --ram-bytes ${rawRam}: ${(error as Error).message}`);
  }
  // Checked here, by the options' names, not by Kernel.boot's fields (cpus, possibleCpus).
  const cpus = prefixed('boot', () => wholeOption('cpus', values.cpus, 1, MAX_CPU_SLOTS, defaultCpuSlots()));
  let possibleCpus: number;
  try {
    possibleCpus = wholeOption('possible-cpus', values['possible-cpus'], cpus, MAX_POSSIBLE_CPUS, cpus);
  } catch {
    const from = `--cpus (${cpus}${values.cpus === undefined ? ", the host's CPUs" : ''})`;
    throw new ArgumentError(`boot: --possible-cpus ${String(values['possible-cpus'])}: expected a whole number from ${from} to ${MAX_POSSIBLE_CPUS}`);
  }
  const kernel = Kernel.boot({ ramBytes, groupByMobility: values['no-group-by-mobility'] !== true, cpus, possibleCpus });
  // The virtual-memory layer, which the library makes on first use, made now: Linux's start_kernel
  // builds init_mm's direct map (kernel_physical_mapping_init) and creates the mm_struct and
  // vm_area_struct caches (kernel/fork.c's mm_cache_init and proc_caches_init, Linux 6.1) before
  // anything runs, so a booted Linux always has them in /proc/slabinfo; /proc/meminfo and
  // /proc/vmstat are rendered from it.
  const vm = kernel.vm;
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
    '/proc/zoneinfo (pagesets):',
    zoneinfoPagesets(kernel.pages),
    '',
    `/proc/slabinfo (${stats.cpus} CPU slots, nr_cpu_ids ${stats.possibleCpus}):`,
    // These three end with a newline: the blank line before the next.
    kernel.slab.slabinfo(),
    '/proc/meminfo:',
    vm.meminfo(),
    '/proc/vmstat:',
    vm.vmstat(),
    "/proc/lock_stat (the kernel's own locks, after boot):",
    lockStatText(kernel.lockStats()),
  ];
  return lines.join('\n');
}

/** `f()`, its ArgumentError prefixed with the command ('boot: --cpus 0: …'). */
function prefixed<T>(command: string, f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof ArgumentError) throw new ArgumentError(`${command}: ${error.message}`);
    throw error;
  }
}

function commandDumpInfo(argv: readonly string[]): string {
  const { positionals } = parseOptions(argv, DUMP_INFO_OPTIONS, 1, 'dump-info');
  const path = positionals[0];
  if (path === undefined) throw new ArgumentError('dump-info: expected a FILE (kmem dump-info --help)');
  checkReadableFile(path, 'dump-info');
  return describeDump(CrashDump.parse(readFileSync(path)));
}

function commandList(argv: readonly string[]): string {
  parseOptions(argv, LIST_OPTIONS, 0, 'list');
  return ['scenarios (sizes take units: 64MiB, 1GiB):', ...SCENARIOS.map(scenarioHelp)].join('\n\n');
}

/** An ArgumentError unless `command` is one of kmem's commands (`kmem nonesuch`, `kmem help nonesuch`). */
function checkCommand(command: string): void {
  if (!(COMMANDS as readonly string[]).includes(command)) throw new ArgumentError(`unknown command '${command}': expected ${COMMANDS.join(', ')} (kmem --help)`);
}

/** What `argv` asks for, without running anything: the command and the words after it. */
function split(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  const index = argv.findIndex((w) => !w.startsWith('-'));
  if (index < 0) return { command: undefined, rest: [...argv] };
  return { command: argv[index], rest: [...argv.slice(0, index), ...argv.slice(index + 1)] };
}

async function dispatch(argv: readonly string[]): Promise<string> {
  const { command, rest } = split(argv);
  if (command !== undefined) checkCommand(command);
  if (wantsHelp(argv)) return commandHelp(command ?? '', rest.find((w) => !w.startsWith('-')));
  if (command === undefined) {
    if (rest.length === 1 && rest[0] === '--version') return version();
    if (rest.length === 0) return USAGE;
    throw new ArgumentError(`unknown option '${rest[0] ?? ''}' before a command: expected --help or --version (kmem --help)`);
  }
  switch (command) {
    case 'list':
      return commandList(rest);
    case 'run':
      return commandRun(rest);
    case 'report':
      return commandReport(rest);
    case 'boot':
      return commandBoot(rest);
    case 'replay':
      return commandReplay(rest);
    case 'trace-gen':
      return commandTraceGen(rest);
    case 'dump-info':
      return commandDumpInfo(rest);
    default: {
      const [topic, scenarioName] = parseOptions(rest, LIST_OPTIONS, 2, 'help').positionals;
      if (topic !== undefined) checkCommand(topic);
      if (scenarioName !== undefined) {
        if (topic !== 'run') throw new ArgumentError(`help: unexpected argument '${scenarioName}': only \`kmem help run <scenario>\` takes a second word`);
        findScenario(scenarioName);
      }
      return commandHelp(topic ?? '', scenarioName);
    }
  }
}

/**
 * The command as a program runs it: through the native-warning filter when the command may open the
 * GPU (native-warnings.ts), else directly.
 */
export async function cli(argv: readonly string[]): Promise<number> {
  stopQuietlyOnBrokenPipe();
  return runsDirectly(argv) ? main(argv) : runFiltered();
}

let pipesWatched = false;

/**
 * Output piped into `head` that closed early, stdout or stderr (`kmem run … 2>&1 | head -3`): stop
 * quietly with status 0, as git and node do, not with an unhandled EPIPE and status 1.
 */
function stopQuietlyOnBrokenPipe(): void {
  if (pipesWatched) return;
  pipesWatched = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    process.stdout.write(`${await dispatch(argv)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ArgumentError) {
      process.stderr.write(`kmem: ${error.message}\n`);
      return 2;
    }
    if (error instanceof KmemError) {
      process.stderr.write(`kmem: ${error.message}\n`);
      return 1;
    }
    // A file that cannot be read or written (a trace that is not there): Node's own one-line message.
    const code = (error as { code?: unknown; syscall?: unknown }).code;
    if (typeof code === 'string' && typeof (error as { syscall?: unknown }).syscall === 'string') {
      process.stderr.write(`kmem: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('src/cli/main.ts')) {
  process.exitCode = await cli(process.argv.slice(2));
}
