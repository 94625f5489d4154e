// The fast paths of kmalloc and kfree fit V8's inlining budget inside a caller's loop that also
// reads and writes its objects (cpu-slab.ts, const enum K; docs/benchmarks.md, "kmalloc churn with
// the objects used: V8's inlining budget"). When they did not, kfree's fast path stayed a call and
// the churn with the objects used ran 1.7-2x the trivial kmalloc instead of about 1.4x.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FREE_MARK, STATE_BIT_SHIFT, STATE_WORD_SHIFT } from '../../../src/mm/slab/alloc-state.ts';
import { ROW_FIELDS, ROW_WORDS } from '../../../src/mm/slab/cpu-slab.ts';
import { PAGE_SHIFT } from '../../../src/machine/ram.ts';

/** The inlining decisions of each optimised compile, from a --trace-turbo-inlining log. */
function compiles(log: string): { name: string; inlined: string[] }[] {
  const out: { name: string; inlined: string[] }[] = [];
  for (const line of log.split('\n')) {
    const started = /^\[compiling method 0x[0-9a-f]+ <JSFunction ([^ ]*) ?\(sfi/.exec(line);
    if (started !== null) {
      out.push({ name: started[1] ?? '', inlined: [] });
      continue;
    }
    const inlined = /^Inlining 0x[0-9a-f]+ \{0x[0-9a-f]+ <SharedFunctionInfo ?([^>]*)>\}/.exec(line);
    if (inlined !== null) out.at(-1)?.inlined.push(inlined[1] ?? '');
  }
  return out;
}

test('the churn loop that uses its objects inlines kfree down to its object-start check', () => {
  // V8 writes its trace through C stdio: into a pipe, the end of it can be lost when the child exits,
  // so the trace goes to a file.
  const dir = mkdtempSync(join(tmpdir(), 'kmem-inlining-'));
  const path = join(dir, 'trace.txt');
  const fd = openSync(path, 'w');
  let log: string;
  try {
    const child = spawnSync(
      process.execPath,
      ['--no-concurrent-recompilation', '--no-concurrent-osr', '--trace-turbo-inlining', '--trace-opt', '--import', 'tsx', new URL('./inline-churn.ts', import.meta.url).pathname],
      { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 240_000 },
    );
    assert.equal(child.status, 0, child.stderr);
    log = readFileSync(path, 'utf8');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  // The loop is the one compile that inlines both kmalloc and kfree (Kernel's methods).
  const loops = compiles(log).filter((c) => c.inlined.includes('kmalloc') && c.inlined.includes('kfree'));
  assert.ok(loops.length > 0, 'the churn loop was never optimised with kmalloc and kfree inlined');
  for (const loop of loops) {
    assert.ok(loop.inlined.includes('objectStart'), `kfree's fast path was not inlined into the loop: ${loop.inlined.join(', ')}`);
  }
});

test('every constant the fast paths write as a literal equals the constant its comment names', () => {
  const source = readFileSync(new URL('../../../src/mm/slab/cpu-slab.ts', import.meta.url), 'utf8');
  const named: Record<string, number> = { FREE_MARK, STATE_BIT_SHIFT, STATE_WORD_SHIFT, PAGE_SHIFT, ROW_WORDS };
  for (const [field, value] of Object.entries(ROW_FIELDS)) named[`F.${field}`] = value;
  const uses = [...source.matchAll(/\b(0x[0-9a-f]+|\d+) \/\* (F\.[A-Z_]+|[A-Z_]+) \*\//g)];
  assert.ok(uses.length >= 30, `only ${uses.length} annotated literals found`);
  for (const [text, literal, name] of uses) {
    assert.ok(name !== undefined && name in named, `${text}: no constant named ${name}`);
    assert.equal(Number(literal), named[name as string], `${text}: ${name} is ${named[name as string]}`);
  }
});
