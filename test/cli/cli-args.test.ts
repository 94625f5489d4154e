// The command line as a user meets it, run in-process (main()): help at every level prints help and
// does nothing else, --version, unknown options and bad values refused with one line naming what
// was expected, parameters checked against each other, --smoke never overriding what the user
// passed, flash traces from --trace, and Dawn's native warnings filtered out of stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kmemInProcess } from '../helpers/cli.ts';
import { DAWN_WARNING } from '../../src/cli/native-warnings.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const kmem = kmemInProcess;

/** A refusal: exit 2, nothing on stdout, one line on stderr matching `pattern`. */
async function refused(args: string[], pattern: RegExp, status = 2): Promise<void> {
  const r = await kmem(...args);
  assert.equal(r.status, status, `kmem ${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
  assert.equal(r.stdout, '', `kmem ${args.join(' ')}: nothing on stdout`);
  assert.match(r.stderr, /^kmem: [^\n]+\n$/, `kmem ${args.join(' ')}: one line: ${r.stderr}`);
  assert.match(r.stderr, pattern);
}

test('-h and --help at every level print help and do nothing else', async () => {
  const out = mkdtempSync(join(tmpdir(), 'kmem-help-'));
  try {
    const cases: [string[], RegExp][] = [
      // Every command in the top-level help, one line each.
      [['--help'], /^usage: kmem <command>[^]*\n {2}list {2,}[^]*\n {2}run <scenario>[^]*\n {2}report [^]*\n {2}boot [^]*\n {2}replay FILE[^]*\n {2}trace-gen [^]*\n {2}dump-info FILE[^]*\n {2}help \[command\]/],
      [['-h'], /^usage: kmem <command>/],
      [[], /^usage: kmem <command>/],
      [['help'], /^usage: kmem <command>/],
      [['help', 'boot'], /^usage: kmem boot/],
      [['list', '--help'], /^usage: kmem list/],
      [['run', '--help'], /^usage: kmem run <scenario>[^]*scenarios: message-queue/],
      [['run', 'buddy-fragmentation', '--help'], /--ram-bytes <size> {2}RAM of the emulated machine; default 128MiB \[32MiB\.\.1GiB, multiples of 4KiB\]/],
      [['run', 'flash-gc', '-h', '--frob'], /--trace-format <enum>/],
      [['run', 'flash-gc', '--help'], /--trace <string> {2}a block trace file .*SNIA's IOTTA repository, the 'MSR Cambridge Traces' set/],
      [['report', '--help', '--out', join(out, 'r')], /^usage: kmem report/],
      [['boot', '--help'], /^usage: kmem boot/],
      [['boot', '-h', '--ram-bytes'], /^usage: kmem boot/],
    ];
    for (const [args, pattern] of cases) {
      const r = await kmem(...args);
      assert.equal(r.status, 0, `kmem ${args.join(' ')}`);
      assert.match(r.stdout, pattern, `kmem ${args.join(' ')}`);
      assert.equal(r.stderr, '', `kmem ${args.join(' ')}: nothing ran`);
      assert.doesNotMatch(r.stdout, /Node 0, zone|report written/, `kmem ${args.join(' ')}: nothing ran`);
    }
    assert.ok(!existsSync(join(out, 'r')), 'report --help writes no report');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await kmem('--version');
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `kmem ${version}\n`);
});

test('unknown options, commands and words are refused everywhere', async () => {
  await refused(['--frob'], /unknown option '--frob' before a command/);
  await refused(['frobnicate'], /unknown command 'frobnicate': expected list, run, report, boot, replay, trace-gen, dump-info, help/);
  await refused(['list', '--frob'], /list: unknown option '--frob': expected one of --help/);
  await refused(['list', 'extra'], /list: unexpected argument 'extra'/);
  await refused(['boot', '--frob'], /boot: unknown option '--frob': expected one of --ram-bytes/);
  await refused(['boot', '-x'], /boot: unknown option '-x'/);
  await refused(['report', '--frob'], /report: unknown option '--frob': expected one of --out/);
  await refused(['run', 'buddy-fragmentation', '--colour', 'blue'], /run buddy-fragmentation: unknown option '--colour': expected one of --ram-bytes/);
  await refused(['run', 'buddy-fragmentation', 'extra'], /unexpected argument 'extra'/);
  await refused(['run'], /run: expected a scenario: message-queue/);
  await refused(['run', 'nope'], /no scenario 'nope': expected one of .*buddy-fragmentation/);
  await refused(['run', 'message-queue', '--smoke', '--json', '--csv'], /--json and --csv are exclusive/);
  await refused(['run', 'message-queue', '--smoke=yes'], /--smoke is a flag and takes no value/);
  await refused(['report', '--only', 'nonesuch'], /no scenario 'nonesuch'/);
});

test('bad values are one-line errors naming what was expected, before anything runs', async () => {
  await refused(['boot', '--ram-bytes'], /boot: --ram-bytes needs a value \(SIZE\)/);
  await refused(['boot', '--ram-bytes', '--no-group-by-mobility'], /--ram-bytes needs a value/);
  await refused(['boot', '--ram-bytes', 'lots'], /cannot read 'lots': expected bytes or a number with a unit/);
  await refused(['run', 'buddy-fragmentation', '--ram-bytes'], /--ram-bytes needs a value/);
  await refused(['run', 'buddy-fragmentation', '--ram-bytes', '16MiB'], /--ram-bytes: 16MiB is out of range: expected 32MiB ≤ value ≤ 1GiB/);
  await refused(['run', 'buddy-fragmentation', '--usage', '2'], /--usage: 2 is out of range/);
  await refused(['run', 'buddy-fragmentation', '--steps', '1e3x'], /--steps: '1e3x' is not an integer/);
  await refused(['run', 'buddy-fragmentation', '--seed', 'abc'], /--seed abc: expected an integer/);
  await refused(['run', 'buddy-fragmentation', '--unmovable-share', '0.6', '--reclaimable-share', '0.5'], /--unmovable-share 0\.6 \+ --reclaimable-share 0\.5 is more than 1/);
  await refused(['run', 'message-queue', '--payload-mean-bytes', '5000', '--payload-max-bytes', '4096'], /--payload-mean-bytes 5000 is larger than --payload-max-bytes 4096/);
  await refused(['run', 'message-queue', '--payload', 'zipf'], /--payload: 'zipf' is not one of lognormal, uniform, bimodal/);
  await refused(['run', 'flash-gc', '--trace', 'x', '--trace-format', 'csv'], /--trace-format: 'csv' is not one of msr, spc, blkparse, disksim/);
  await refused(['run', 'flash-gc', '--alphas', '1.2,abc'], /--alphas: 'abc' is not a number/);
  await refused(['run', 'dma-coherence', '--buffer-sizes', '256,300'], /scenario 'dma-coherence', --buffer-sizes: 300 is not a multiple of 256/);
  await refused(['report', '--jobs', '0'], /--jobs 0: expected a whole number from 1 to 16/);
  await refused(['report', '--jobs', 'two'], /--jobs two: expected a whole number/);
});

test('a negative number after an option is its value, refused by that option\'s check, not reported missing', async () => {
  await refused(['run', 'secrets', '--seed', '-1'], /--seed -1: expected an integer in \[0, 2\^32\)/);
  await refused(['run', 'buddy-fragmentation', '--ram-bytes', '-1MiB'], /--ram-bytes: size: '-1MiB' is negative: expected a non-negative number of bytes/);
  await refused(['replay', join(ROOT, 'examples/traces/kmem-6x.trace'), '--mismatches', '-1'], /--mismatches -1: expected a whole number in \[0, 1000000\]/);
  await refused(['report', '--jobs', '-.5'], /--jobs -\.5: expected a whole number/);
  // A word that is not a number is still an option, and a value still missing is still said so.
  await refused(['run', 'secrets', '--seed', '--smoke'], /--seed needs a value \(N\)/);
  await refused(['run', 'secrets', '--seed'], /--seed needs a value \(N\)/);
});

test('a --native-report that is missing, a directory or not a native report is refused before thp-tlb runs, naming the path and what it should hold', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-native-'));
  try {
    // Refused by the command line before the run starts (no 'running' line: refused() wants one line).
    const holds = 'expected the output of npm run -s bench:native-tlb -- --json > native\\.json';
    await refused(['run', 'thp-tlb', '--smoke', '--native-report', join(dir, 'missing.json')], new RegExp(`^kmem: run thp-tlb: --native-report: cannot read \\S+missing\\.json \\(no such file or directory\\); ${holds}\\n$`));
    await refused(['run', 'thp-tlb', '--smoke', '--native-report', dir], new RegExp(`^kmem: run thp-tlb: --native-report: cannot read \\S+ \\(a directory: expected a file\\); ${holds}\\n$`));
    // A file that is not one: refused by the run's first step, before any walk (one line, exit 2).
    writeFileSync(join(dir, 'bad.json'), 'walks: 3');
    await refused(['run', 'thp-tlb', '--smoke', '-q', '--native-report', join(dir, 'bad.json')], new RegExp(`^kmem: \\S+bad\\.json: not JSON \\([^)]*\\); ${holds}\\n$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('failures while running are one line with exit 1 (an unwritable report, an empty trace); a missing trace is refused before running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-trace-'));
  try {
    // A trace that is not there, or a directory: refused before the run starts (no 'running' line), exit 2.
    await refused(['run', 'flash-gc', '--smoke', '--trace', join(dir, 'missing.csv'), '--trace-format', 'msr'], /^kmem: run flash-gc: --trace: cannot read \S+missing\.csv \(no such file or directory\)\n$/);
    await refused(['run', 'flash-gc', '--smoke', '--trace', dir], /^kmem: run flash-gc: --trace: cannot read \S+ \(a directory: expected a file\)\n$/);
    writeFileSync(join(dir, 'empty.csv'), '');
    await refused(['run', 'flash-gc', '--smoke', '-q', '--trace', join(dir, 'empty.csv')], /empty\.csv:0: no msr request in the trace/, 1);
    // A small MSR Cambridge trace replays, at each α of the smoke run.
    const lines = Array.from({ length: 400 }, (_, i) => `128166372003061629,hm,1,Write,${(i * 7919) % 300 * 4096},4096,100`);
    writeFileSync(join(dir, 'hm.csv'), `${lines.join('\n')}\n`);
    const r = await kmem('run', 'flash-gc', '--smoke', '-q', '--trace', join(dir, 'hm.csv'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const run = JSON.parse(r.stdout) as { params: Record<string, unknown>; result: { answer: string; tables: { id: string; rows: { hostWrites: number }[] }[] } };
    assert.match(run.result.answer, /^Replaying 400 requests of .*hm\.csv with greedy GC writes \d/);
    assert.deepEqual(run.params.alphas, [1.07, 1.1]);
    assert.ok(run.result.tables[0]?.rows.every((row) => row.hostWrites === 400));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('report --out that cannot be a writable directory is refused at once, before any run: a file, a path under a file, /proc', async () => {
  const started = performance.now();
  await refused(['report', '--smoke', '--out', '/dev/null'], /^kmem: report: --out \/dev\/null: not a directory \(expected a directory, or a path where one can be made\)\n$/);
  await refused(['report', '--smoke', '--out', '/dev/null/x'], /^kmem: report: --out \/dev\/null\/x: \/dev\/null is not a directory\n$/);
  // mkdirSync's recursive form loops forever here (mkdir under /proc fails with ENOENT).
  await refused(['report', '--smoke', '--out', '/proc/nope/deeper'], /^kmem: report: --out \/proc\/nope\/deeper: cannot (create directory \/proc\/nope in \/proc|write in \/proc) \([A-Z]+|permission denied\)\n$/);
  assert.ok(performance.now() - started < 10_000, 'refused before running anything');
  const dir = mkdtempSync(join(tmpdir(), 'kmem-out-'));
  try {
    // A path whose directories are missing is made, one at a time; nothing but the report is left in it.
    const r = await kmem('report', '--smoke', '-q', '--only', 'message-queue', '--out', join(dir, 'a', 'b'));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['index.html']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kmem help nonesuch is refused like kmem nonesuch', async () => {
  await refused(['help', 'nonesuch'], /^kmem: unknown command 'nonesuch': expected list, run, report/);
  await refused(['help', 'run', 'nonesuch'], /^kmem: no scenario 'nonesuch'/);
  await refused(['help', 'boot', 'extra'], /help: unexpected argument 'extra'/);
  assert.match((await kmem('help', 'run', 'secrets')).stdout, /--ram-bytes <size>/);
});

test('kmem boot names its options in errors, not the library\'s fields, and its help shows their ranges', async () => {
  await refused(['boot', '--possible-cpus', '9000', '--cpus', '2'], /^kmem: boot: --possible-cpus 9000: expected a whole number from --cpus \(2\) to 8192\n$/);
  await refused(['boot', '--cpus', '0'], /^kmem: boot: --cpus 0: expected a whole number in \[1, 1024\]\n$/);
  await refused(['boot', '--ram-bytes', '1GB'], /^kmem: boot: --ram-bytes 1GB: RAM size 1000000000 bytes: expected a multiple of the 4096-byte page\n$/);
  const help = (await kmem('boot', '--help')).stdout;
  assert.match(help, /--ram-bytes SIZE .*1MiB\.\.4GiB, a multiple of 4KiB/);
  assert.match(help, /--cpus N .*1\.\.1024/);
  assert.match(help, /--possible-cpus N .*--cpus\.\.8192/);
});

test('a size that is not a whole MiB is echoed as one that can be typed back; a RAM size off the page is refused with the option named', async () => {
  const r = await kmem('run', 'buddy-fragmentation', '--smoke', '-q', '--ram-bytes', '256MB', '--steps', '1000');
  assert.equal(r.status, 0, r.stderr);
  const [, echoed] = /^Parameters used: --ram-bytes (\S+) /m.exec(r.stdout) ?? [];
  assert.equal(echoed, '250000KiB', '256,000,000 bytes');
  const again = await kmem('run', 'buddy-fragmentation', '--smoke', '-q', '--ram-bytes', echoed ?? '', '--steps', '1000', '--json');
  assert.equal(again.status, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { params: { ramBytes: number } }).params.ramBytes, 256_000_000);
  await refused(['run', 'buddy-fragmentation', '--ram-bytes', '1GB'], /^kmem: scenario 'buddy-fragmentation', --ram-bytes: 1GB is not a multiple of 4KiB\n$/);
  assert.match((await kmem('run', 'buddy-fragmentation', '--help')).stdout, /--ram-bytes <size> .*\[32MiB\.\.1GiB, multiples of 4KiB\]/);
});

test('--smoke uses the scenario\'s small values, never over a parameter the user passed, and reports them', async () => {
  const r = await kmem('run', 'message-queue', '--smoke', '-q', '--messages', '500', '--json');
  assert.equal(r.status, 0, r.stderr);
  const run = JSON.parse(r.stdout) as { smoke: boolean; params: Record<string, unknown>; passed: string[]; result: { answer: string } };
  assert.equal(run.params.messages, 500, 'the user passed --messages');
  assert.equal(run.params.queueDepth, 200, 'the smoke value');
  assert.deepEqual(run.passed, ['messages']);
  assert.match(run.result.answer, /wastes least at the peak/);
  const text = await kmem('run', 'message-queue', '--smoke', '-q', '--messages', '500');
  assert.match(text.stdout, /^Parameters used: --messages 500 --queue-depth 200 .* --seed 1 --smoke$/m);
  assert.match(text.stdout, /^Answer: /m);
  const boot = await kmem('boot', '--ram-bytes', '32MiB', '--no-group-by-mobility');
  assert.equal(boot.status, 0);
  assert.match(boot.stdout, /^RAM 32 MiB/);
});

test('--smoke honours a parameter the user passed above the smoke value, and reports what ran (thp-tlb, fork-during-dma)', async () => {
  // thp-tlb once ran min(--dataset-bytes, 16 MiB) and min(--rounds, 4) under --smoke and printed
  // what was passed; fork-during-dma ran min(--ops, 2000).
  const thp = await kmem('run', 'thp-tlb', '--smoke', '-q', '--dataset-bytes', '32MiB', '--rounds', '5');
  assert.equal(thp.status, 0, thp.stderr);
  assert.match(thp.stdout, /^Parameters used: --dataset-bytes 32MiB --accesses 40000 --max-size-bytes 16MiB --fragmented-ram-bytes 32MiB --rounds 5 .*--smoke$/m);
  assert.match(thp.stdout, /^\* 32 MiB dataset, 40000 loads per walk/m);
  assert.match(thp.stdout, /^\* Fragmented 32 MiB machine, 5 rounds of 4 MiB/m);
  const fork = await kmem('run', 'fork-during-dma', '--smoke', '-q', '--ops', '3000', '--json');
  assert.equal(fork.status, 0, fork.stderr);
  const run = JSON.parse(fork.stdout) as { params: Record<string, unknown>; result: { tables: { title: string }[] } };
  assert.equal(run.params.ops, 3000);
  assert.match(run.result.tables[0]?.title ?? '', /^3000 operations,/);
  const smoke = JSON.parse((await kmem('run', 'fork-during-dma', '--smoke', '-q', '--json')).stdout) as typeof run;
  assert.equal(smoke.params.ops, 2000, 'the smoke value where --ops is not given');
  assert.match(smoke.result.tables[0]?.title ?? '', /^2000 operations,/);
});

test("Dawn's adapter warnings are the only lines the stderr filter drops", () => {
  assert.match('Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.', DAWN_WARNING);
  assert.match('Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.', DAWN_WARNING);
  assert.doesNotMatch('Warning: something else', DAWN_WARNING);
  assert.doesNotMatch('kmem: maxDynamicUniformBuffersPerPipelineLayout artificially reduced', DAWN_WARNING);
});
