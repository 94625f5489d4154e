import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { libraryBuildDue, markLibraryBuilt } from '../../scripts/library-build.mjs';
import { Kernel } from '../../src/mm/kernel.ts';
import { SCENARIOS } from '../../src/lab/registry.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

function kmem(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('kmem list names every scenario and its parameters', () => {
  const { status, stdout } = kmem('list');
  assert.equal(status, 0);
  assert.match(stdout, /buddy-fragmentation/);
  assert.match(stdout, /--ram-bytes <size>/);
});

test('kmem run --json gives the run as JSON; --csv gives tables', () => {
  const json = kmem('run', 'buddy-fragmentation', '--smoke', '--json', '--seed', '5');
  assert.equal(json.status, 0, json.stderr);
  const run = JSON.parse(json.stdout) as { scenario: string; seed: number; result: { tables: unknown[] } };
  assert.equal(run.scenario, 'buddy-fragmentation');
  assert.equal(run.seed, 5);
  assert.ok(run.result.tables.length > 0);
  assert.match(json.stderr, /^buddy-fragmentation: running \(--smoke\)\n(buddy-fragmentation: .*\n)+buddy-fragmentation: done in/, 'progress: one line per phase when stderr is not a terminal');
  assert.equal(kmem('run', 'buddy-fragmentation', '--smoke', '--json', '-q').stderr, '', '-q: no progress');
  const csv = kmem('run', 'buddy-fragmentation', '--smoke', '--csv');
  assert.equal(csv.status, 0);
  assert.match(csv.stdout, /^# summary\npageblocks,order-9 allocations that succeed/);
});

test('unknown scenarios, parameters and commands are one-line errors naming the choices', () => {
  const unknown = kmem('run', 'nope');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^kmem: no scenario 'nope': expected one of .*buddy-fragmentation/);
  const badParam = kmem('run', 'buddy-fragmentation', '--colour', 'blue');
  assert.equal(badParam.status, 2);
  assert.match(badParam.stderr, /unknown option '--colour': expected one of --ram-bytes/);
  const badValue = kmem('run', 'buddy-fragmentation', '--usage', '2');
  assert.match(badValue.stderr, /--usage: 2 is out of range/);
  assert.equal(kmem('frobnicate').status, 2);
});

test('kmem report writes an HTML report with SVG charts, printing each summary', () => {
  const out = mkdtempSync(join(tmpdir(), 'kmem-report-'));
  try {
    const { status, stdout, stderr } = kmem('report', '--smoke', '--out', out, '--jobs', '2');
    assert.equal(status, 0);
    assert.match(stdout, /report written to/);
    assert.match(stdout, /== message-queue[^]*Answer: [^]*== buddy-fragmentation/);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(html, /<svg /);
    // Every scenario ran and is in the report; the wall-clock ones ran alone on the main thread,
    // the others in worker threads.
    for (const scenario of SCENARIOS) {
      assert.match(stdout, new RegExp(`^== ${scenario.name}: `, 'm'), `${scenario.name} in the printed report`);
      assert.ok(html.includes(`id="${scenario.name}"`), `${scenario.name} in index.html`);
    }
    const inWorkers = /^report: (.*): running 2 at a time in worker threads/m.exec(stderr)?.[1]?.split(', ') ?? [];
    assert.deepEqual(inWorkers.sort(), SCENARIOS.filter((s) => s.wallClock !== true).map((s) => s.name).sort());
    assert.ok(existsSync(join(out, 'index.html')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('kmem boot prints the /proc files of a fresh kernel, its virtual memory made: meminfo, vmstat, and the VM caches in slabinfo', () => {
  const { status, stdout } = kmem('boot', '--ram-bytes', '32MiB');
  assert.equal(status, 0);
  assert.match(stdout, /Node 0, zone {6}DMA/);
  assert.match(stdout, /Page block order: 9/);
  assert.match(stdout, /kernel metadata/);
  // /proc/lock_stat of the kernel's own locks: boot created caches under the slab table lock.
  assert.match(stdout, /lock_stat version 0\.4/);
  const table = (stdout.split('\n').find((l) => l.trim().startsWith('slab table:')) ?? '').trim().split(/\s+/);
  assert.ok(Number(table[6]) > 0, `the slab table lock's acquisitions, from: ${table.join(' ')}`);
  // The kernel as the command leaves it: booted, and its virtual memory made (as Linux's start_kernel
  // makes init_mm and the VM's caches), with the CLI's defaults: a slot per host CPU.
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const vm = kernel.vm;
  // /proc/meminfo and /proc/vmstat, as the kernel renders them (src/mm/vm/proc.ts).
  assert.ok(stdout.includes(`\n/proc/meminfo:\n${vm.meminfo()}`), 'the /proc/meminfo of the booted kernel');
  assert.ok(stdout.includes(`\n/proc/vmstat:\n${vm.vmstat()}`), 'the /proc/vmstat of the booted kernel');
  assert.match(stdout, /^MemTotal: +\d+ kB$/m);
  assert.match(stdout, /^nr_free_pages \d+$/m);
  // Linux's slabinfo always has the VM's caches: vm_area_struct (32 bytes here) and mm_struct (128).
  const slabinfo = (name: string): string[] => (stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '').trim().split(/\s+/);
  assert.equal(slabinfo('vm_area_struct')[3], '32');
  assert.equal(slabinfo('mm_struct')[3], '128');
  // /proc/zoneinfo's pagesets: per zone, per CPU slot, count, high and batch as the kernel has them.
  const section = stdout.slice(stdout.indexOf('/proc/zoneinfo (pagesets):'));
  assert.ok(section.length > 0, 'a pagesets section');
  const want = kernel.pages.pagesets();
  assert.ok(want.length >= 2 * kernel.cpus, 'every zone, every CPU slot');
  const printed = [...section.matchAll(/^ {4}cpu: (\d+)\n {14}count: (\d+)\n {14}high: +(\d+)\n {14}batch: (\d+)$/gm)].map((m) => m.slice(1).map(Number));
  assert.deepEqual(printed, want.map((p) => [p.cpu, p.count, p.high, p.batch]));
  assert.equal(section.match(/^Node 0, zone +\w+\n {2}pagesets$/gm)?.length, kernel.pages.zones.length);
});

test('kmem boot --ram-bytes 4GiB boots the largest machine (an arena of 2^32 bytes); 5GiB is refused, naming the 4 GiB limit', () => {
  const largest = kmem('boot', '--ram-bytes', '4GiB');
  assert.equal(largest.status, 0, largest.stderr);
  assert.match(largest.stdout, /^RAM 4 GiB, 1048576 pages; kernel metadata /);
  assert.match(largest.stdout, /Node 0, zone +Normal/);
  const over = kmem('boot', '--ram-bytes', '5GiB');
  assert.equal(over.status, 2);
  assert.equal(over.stdout, '');
  assert.match(over.stderr, /^kmem: boot: --ram-bytes 5GiB: RAM size 5 GiB: expected at most 4 GiB \(the largest typed array the host's JavaScript engine can view whole\)\n$/);
});

test('kmem boot --possible-cpus 128 prints the /proc/slabinfo of a 128-CPU server with 2 CPU slots', () => {
  const slabinfoLine = (out: string, name: string): string[] => (out.split('\n').find((l) => l.startsWith(`${name} `)) ?? '').trim().split(/\s+/);
  const server = kmem('boot', '--ram-bytes', '32MiB', '--cpus', '2', '--possible-cpus', '128');
  const small = kmem('boot', '--ram-bytes', '32MiB', '--cpus', '2');
  assert.equal(server.status, 0);
  assert.match(server.stdout, /\/proc\/slabinfo \(2 CPU slots, nr_cpu_ids 128\)/);
  // kmalloc-1k: <objperslab> <pagesperslab> = 32 8 with 128 CPUs (calculate_order), 16 4 with 2.
  assert.deepEqual(slabinfoLine(server.stdout, 'kmalloc-1k').slice(4, 6), ['32', '8']);
  assert.deepEqual(slabinfoLine(small.stdout, 'kmalloc-1k').slice(4, 6), ['16', '4']);
});

/** A script (npm run fuzz, bench…) run with tsx, asynchronously: several run side by side. */
function tsx(script: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

test('npm run fuzz and npm run bench: --help, unknown options and bad values are one-line errors', async () => {
  const [ops, only, fuzzHelp, benchOnly, benchHelp, benchFlag] = await Promise.all([
    tsx('test/fuzz/main.ts', '--ops', 'abc'),
    tsx('test/fuzz/main.ts', '--only', 'nonesuch'),
    tsx('test/fuzz/main.ts', '--help'),
    tsx('bench/main.ts', '--only', 'nonesuch'),
    tsx('bench/main.ts', '--help'),
    tsx('bench/main.ts', '--frob'),
  ]);
  assert.deepEqual([ops.status, ops.stderr], [2, 'fuzz: --ops abc: expected a whole number\n']);
  assert.equal(only.status, 2);
  assert.match(only.stderr, /^fuzz: --only 'nonesuch' matches no fuzzer: expected part of one of 'page allocator'/);
  assert.equal(fuzzHelp.status, 0);
  assert.match(fuzzHelp.stdout, /^usage: npm run fuzz[^]*--ops N +operations per fuzzer \(default 10000000\)/, 'README: ≥ 10 M operations per allocator');
  assert.equal(benchOnly.status, 2);
  assert.match(benchOnly.stderr, /^bench: --only 'nonesuch' matches no benchmark group: expected part of one of\n {2}page allocator/);
  assert.equal(benchHelp.status, 0);
  assert.match(benchHelp.stdout, /^usage: npm run bench/);
  assert.equal(benchHelp.stderr, '', 'help runs nothing');
  assert.equal(benchFlag.status, 2);
  assert.match(benchFlag.stderr, /^bench: unknown option '--frob'/);
});

test('a checkout\'s dist/ is due for a build until built, and again once any source under src/ is newer (what bin/kmem.mjs and setup check)', () => {
  const root = mkdtempSync(join(tmpdir(), 'kmem-build-'));
  try {
    mkdirSync(join(root, 'src', 'mm'), { recursive: true });
    mkdirSync(join(root, 'dist'));
    const file = join(root, 'src', 'mm', 'a.ts');
    writeFileSync(file, 'export {};\n');
    utimesSync(file, 1_000_000, 1_000_000);
    const newest = libraryBuildDue(root);
    assert.equal(newest, 1_000_000_000, 'never built: due, with the newest source\'s mtime in ms');
    markLibraryBuilt(root, newest as number);
    assert.equal(libraryBuildDue(root), null, 'built from these sources');
    utimesSync(file, 1_000_001, 1_000_001);
    assert.equal(libraryBuildDue(root), 1_000_001_000, 'a source changed since');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('npm run flash:crash-sweep and npm run bench:native-tlb: --help runs nothing; unknown options, bad values and an --only that matches nothing are one-line errors', async () => {
  const [sweepHelp, cuts, only, image, sweepFlag, tlbHelp, tlbFlag, tlbSize] = await Promise.all([
    tsx('test/fuzz/flash-crash-sweep.ts', '--help'),
    tsx('test/fuzz/flash-crash-sweep.ts', '--cuts', 'abc'),
    tsx('test/fuzz/flash-crash-sweep.ts', '--cuts', '5', '--only', 'nonesuch'),
    tsx('test/fuzz/flash-crash-sweep.ts', '--cuts', '5', '--image', 'disk'),
    tsx('test/fuzz/flash-crash-sweep.ts', '--bogus'),
    tsx('bench/native-tlb.ts', '--help'),
    tsx('bench/native-tlb.ts', '--bogus'),
    tsx('bench/native-tlb.ts', '--size-mib', '5'),
  ]);
  assert.deepEqual([sweepHelp.status, sweepHelp.stderr], [0, '']);
  assert.match(sweepHelp.stdout, /^usage: npm run flash:crash-sweep[^]*--cuts N +power cuts per sweep \(default 1000\)[^]*--only STORE/);
  assert.doesNotMatch(sweepHelp.stdout, /"lost"/, 'help runs no sweep');
  assert.deepEqual([cuts.status, cuts.stdout, cuts.stderr], [2, '', 'flash:crash-sweep: --cuts abc: expected a whole number ≥ 1\n']);
  assert.deepEqual([only.status, only.stdout, only.stderr], [2, '', "flash:crash-sweep: --only 'nonesuch' matches nothing: expected page or object\n"]);
  assert.deepEqual([image.status, image.stderr], [2, "flash:crash-sweep: --image 'disk' matches nothing: expected memory or file\n"]);
  assert.equal(sweepFlag.status, 2);
  assert.match(sweepFlag.stderr, /^flash:crash-sweep: unknown option '--bogus': expected one of --cuts, --seed, --only, --image, --help\n$/);
  assert.deepEqual([tlbHelp.status, tlbHelp.stderr], [0, '']);
  assert.match(tlbHelp.stdout, /^usage: npm run bench:native-tlb[^]*--size-mib N/);
  assert.doesNotMatch(tlbHelp.stdout, /preset|native pointer chase over/, 'help runs no calibration');
  assert.deepEqual([tlbFlag.status, tlbFlag.stdout], [2, '']);
  assert.match(tlbFlag.stderr, /^bench:native-tlb: unknown option '--bogus': expected one of --size-mib, --steps, --json, --help\n$/);
  assert.deepEqual([tlbSize.status, tlbSize.stderr], [2, 'bench:native-tlb: --size-mib 5: expected an even number (whole 2 MiB pages)\n']);
});

test('output piped into a reader that closes early (kmem run … 2>&1 | head -3): exit 0, stderr as stdout', async () => {
  // Both streams closed after the first progress line, as head closes its end of `2>&1 |`.
  const status = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', 'buddy-fragmentation', '--smoke'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.once('data', () => {
      child.stdout.destroy();
      child.stderr.destroy();
    });
    child.on('close', (code) => done(code));
  });
  assert.equal(status, 0, 'EPIPE on stderr stops the command quietly, as on stdout');
});

test("what README's examples write in the repository root (my.trace, chip.nand) is ignored by git, the example traces are not", (t) => {
  const ignored = (path: string) => spawnSync('git', ['check-ignore', '-q', '--no-index', path], { cwd: ROOT }).status;
  if (ignored('my.trace') === null || !existsSync(join(ROOT, '.git'))) return t.skip('not a git checkout');
  assert.equal(ignored('my.trace'), 0);
  assert.equal(ignored('chip.nand'), 0);
  assert.equal(ignored('examples/traces/new.trace'), 1, 'a trace added under examples/ is still seen');
});

test('bin/kmem.mjs in a checkout whose src/ changed since the build runs the setup first, its output on stderr, then the fresh build; once built, no setup', () => {
  // A stand-in checkout: the real bin/kmem.mjs and scripts/library-build.mjs, a fake setup that
  // prints on stdout (as npm ci does) and builds a dist/cli/main.js answering 'fresh'.
  const root = mkdtempSync(join(tmpdir(), 'kmem-bin-'));
  try {
    for (const dir of ['bin', 'scripts', 'src', 'dist/cli', 'node_modules/vega']) mkdirSync(join(root, dir), { recursive: true });
    for (const file of ['bin/kmem.mjs', 'scripts/library-build.mjs']) writeFileSync(join(root, file), readFileSync(join(ROOT, file)));
    writeFileSync(join(root, 'dist/cli/main.js'), "export async function cli() { process.stdout.write('stale\\n'); return 0; }\n");
    writeFileSync(join(root, 'src/a.ts'), 'export {};\n');
    utimesSync(join(root, 'src/a.ts'), 2_000_000, 2_000_000);
    markLibraryBuilt(root, 1_000_000_000); // built before src/a.ts changed
    writeFileSync(
      join(root, 'scripts/setup.mjs'),
      [
        "import { writeFileSync } from 'node:fs';",
        "import { libraryBuildDue, markLibraryBuilt } from './library-build.mjs';",
        "const root = new URL('..', import.meta.url).pathname;",
        "process.stdout.write('added 210 packages\\n');",
        "writeFileSync(root + 'dist/cli/main.js', \"export async function cli() { process.stdout.write('fresh\\\\n'); return 0; }\\n\");",
        'markLibraryBuilt(root, libraryBuildDue(root));',
        '',
      ].join('\n'),
    );
    const first = spawnSync(process.execPath, [join(root, 'bin/kmem.mjs'), '--version'], { encoding: 'utf8' });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, 'fresh\n', 'stdout holds the command\'s output only, from the new build');
    assert.match(first.stderr, /^kmem: src\/ changed since the last build: rebuilding dist\/ with scripts\/setup\.mjs\nadded 210 packages\n$/);
    const second = spawnSync(process.execPath, [join(root, 'bin/kmem.mjs'), '--version'], { encoding: 'utf8' });
    assert.deepEqual([second.status, second.stdout, second.stderr], [0, 'fresh\n', ''], 'built: no setup');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('bin/kmem.mjs (npx kmem) runs the compiled command from dist/', () => {
  const result = spawnSync(process.execPath, ['bin/kmem.mjs', '--version'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^kmem \d+\.\d+\.\d+\n$/);
});

test('npm run kill-sweep: --help runs nothing, bad values are one-line errors, and a short sweep reports a clean summary', async () => {
  const [help, zero, workers, sweep] = await Promise.all([
    tsx('test/fuzz/kill-sweep.ts', '--help'),
    tsx('test/fuzz/kill-sweep.ts', '--trials', '0'),
    tsx('test/fuzz/kill-sweep.ts', '--workers', '65'),
    tsx('test/fuzz/kill-sweep.ts', '--trials', '1', '--workers', '1'),
  ]);
  assert.deepEqual([help.status, help.stderr], [0, '']);
  assert.match(help.stdout, /^usage: npm run kill-sweep[^]*--trials N +trials \(default 100\)[^]*--workers N/);
  assert.deepEqual([zero.status, zero.stdout, zero.stderr], [2, '', 'kill-sweep: --trials 0: expected a whole number ≥ 1\n']);
  assert.equal(workers.status, 2);
  assert.match(workers.stderr, /^kill-sweep: --workers 65: expected a whole number/);
  assert.equal(sweep.status, 0, sweep.stdout + sweep.stderr);
  assert.match(sweep.stdout, /^1 trials of 1 workers in \d+ s: 0 failed; at most [01] objects and \d+ pages left allocated by the operations cut short; \d+ locks taken over and repaired\n$/);
});
