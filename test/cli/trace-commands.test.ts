// `kmem replay` and `kmem trace-gen` as a user meets them, in-process: the fixture's figures, help,
// bad options and files refused in one line, a generated trace replayed with every kmalloc in the
// size class the trace names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmemInProcess } from '../helpers/cli.ts';

const kmem = kmemInProcess;

const FIXTURE = new URL('../../examples/traces/kmem-6x.trace', import.meta.url).pathname;

test('kmem replay and kmem trace-gen', async () => {
  await replayFixture();
  await refusals();
  await generatedThenReplayed();
  await kmemOutOfMemory();
});

async function replayFixture(): Promise<void> {
  const text = await kmem('replay', FIXTURE);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /kmalloc size classes: 8 of 8 equal the trace's bytes_alloc/);
  assert.match(text.stdout, /^kvmalloc_node_noprof\+0x4b\/0x100 \[xfs\]\s+1\s+12288\s+4096\s+4096$/m);
  assert.match(text.stdout, /^ext4_inode_cache\s+\d+\s+\d+\s+1184 /m);
  const csv = await kmem('replay', FIXTURE, '--csv');
  assert.match(csv.stdout, /^# designs\ndesign,peak memory \(bytes\)/);
  const json = JSON.parse((await kmem('replay', FIXTURE, '--json')).stdout) as { kmallocChecked: number; peakRequestedBytes: number };
  assert.deepEqual([json.kmallocChecked, json.peakRequestedBytes], [8, 16980]);
}

/** Help; bad options, missing, empty and malformed files: one-line errors. */
async function refusals(): Promise<void> {
  assert.match((await kmem('replay', '--help')).stdout, /^usage: kmem replay FILE/);
  assert.match((await kmem('help', 'trace-gen')).stdout, /^usage: kmem trace-gen/);
  const dir = mkdtempSync(join(tmpdir(), 'kmem-replay-'));
  try {
    const empty = join(dir, 'empty.trace');
    writeFileSync(empty, '# tracer: nop\n');
    const bad = join(dir, 'bad.trace');
    writeFileSync(bad, '# x\n  t-1 [000] ..... 1.0: kmalloc: call_site=f+0x1/0x2 ptr=01 bytes_req=9 bytes_alloc=8 gfp_flags=GFP_KERNEL\n');
    const cases: [string[], number, RegExp][] = [
      [['replay'], 2, /expected a trace file/],
      [['replay', FIXTURE, '--json', '--csv'], 2, /exclusive/],
      [['replay', FIXTURE, '--frob'], 2, /unknown option '--frob'/],
      [['replay', FIXTURE, '--ram-bytes', 'lots'], 2, /--ram-bytes/],
      [['replay', FIXTURE, '--ram-bytes', '1MiB'], 2, /^kmem: replay: --ram-bytes 1MiB: expected a multiple of the 4096-byte page from 64MiB to 2GiB$/m],
      [['replay', FIXTURE, '--ram-bytes', '4GiB'], 2, /--ram-bytes 4GiB: expected a multiple of the 4096-byte page from 64MiB to 2GiB/],
      [['replay', join(dir, 'none.trace')], 2, /^kmem: replay: cannot read \S+none\.trace \(no such file or directory\)$/m],
      [['replay', dir], 2, /^kmem: replay: cannot read \S+ \(a directory: expected a file\)$/m],
      [['replay', empty], 1, /no kmem event in/],
      [['replay', bad], 1, /bad\.trace:2: kmalloc: bytes_alloc 8 below bytes_req 9/],
      [['trace-gen', '--format', '4.x'], 2, /expected 6\.x or pre-6\.1/],
      [['trace-gen', '--events', 'many'], 2, /--events many: expected a whole number/],
      [['trace-gen', '--out', '/dev/null/x'], 1, /cannot write \/dev\/null\/x/],
    ];
    for (const [args, status, pattern] of cases) {
      const r = await kmem(...args);
      assert.equal(r.status, status, `kmem ${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^kmem: [^\n]+\n$/);
      assert.match(r.stderr, pattern, args.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** trace-gen --out FILE, then replay FILE: every kmalloc in the size class the trace names. */
async function generatedThenReplayed(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-tracegen-'));
  try {
    const file = join(dir, 'gen.trace');
    const gen = await kmem('trace-gen', '--events', '5000', '--seed', '3', '--format', 'pre-6.1', '--out', file);
    assert.equal(gen.status, 0, gen.stderr);
    const r = await kmem('replay', file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /call sites as addresses \(pre-6\.1 format\)/);
    const [, ok, all] = /kmalloc size classes: (\d+) of (\d+) equal/.exec(r.stdout) ?? [];
    assert.ok(Number(all) > 500 && ok === all, r.stdout.slice(0, 400));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A trace whose pages outgrow kmem's RAM (32 order-10 blocks, 128 MiB, in 64 MiB): kmem's failures
 * are reported as kmem's, in the summary, and their frees are not blamed on the trace; --json has
 * the RAM used.
 */
async function kmemOutOfMemory(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-replay-oom-'));
  try {
    const file = join(dir, 'big.trace');
    const pfns = Array.from({ length: 32 }, (_, i) => (0x100000 + i * 1024).toString(16));
    const line = (i: number, event: string): string => `            bash-1201    [000] .....  ${1000 + i}.000000: ${event}`;
    const lines = [
      ...pfns.map((pfn, i) => line(i, `mm_page_alloc: page=00000000${pfn} pfn=0x${pfn} order=10 migratetype=0 gfp_flags=GFP_KERNEL|__GFP_COMP`)),
      ...pfns.map((pfn, i) => line(100 + i, `mm_page_free: page=00000000${pfn} pfn=0x${pfn} order=10`)),
    ];
    writeFileSync(file, `# tracer: nop\n${lines.join('\n')}\n`);
    const text = await kmem('replay', file, '--ram-bytes', '64MiB');
    assert.equal(text.status, 0, text.stderr);
    const [, failed] = /^kmem's RAM: 64 MiB; kmem could not satisfy (\d+) allocations of the trace/m.exec(text.stdout) ?? [];
    assert.ok(Number(failed) > 16, text.stdout);
    assert.match(text.stdout, /Trace defects, counted: 0 frees of pointers never allocated \(objects older than the trace\), 0 frees of pages never allocated/);
    const json = JSON.parse((await kmem('replay', file, '--ram-bytes', '64MiB', '--json')).stdout) as { ramBytes: number; unknownPageFrees: number; designs: { design: string; failed: number }[] };
    assert.deepEqual([json.ramBytes, json.unknownPageFrees, json.designs[0]?.failed], [64 << 20, 0, Number(failed)]);
    assert.equal(JSON.parse((await kmem('replay', FIXTURE, '--json')).stdout).ramBytes, 64 << 20, 'the default RAM, for a small trace');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
