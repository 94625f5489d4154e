// V8's inlining decisions for the fast-path budget tests (test/mm/pcp-inlining.test.ts,
// test/mm/slab/inlining.test.ts, test/flash/ftl-inlining.test.ts), and the miss path's
// optimization state (test/machine/miss-path-deopt.test.ts): a child Node runs a script with
// natives syntax (so the script can prepare a function, compile it once, synchronously, on demand,
// and read its state), on-stack replacement and concurrent recompilation off (so nothing else
// compiles the function, and nothing is still compiling when the child exits).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * What `node --import tsx … entry` prints (entry: a script path, or ['-e', source]), run from the
 * project's root, with `traceFlags` added (none, or one V8 trace flag). One trace stream only: with
 * two (say --trace-turbo-inlining and --trace-opt) their lines could interleave mid-line. Written to
 * a file, not a pipe: V8 writes it through C stdio, and the end of what it buffered for a pipe can
 * be lost when the child exits.
 */
export function v8Trace(traceFlags: readonly string[], entry: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-v8-trace-'));
  const path = join(dir, 'trace.txt');
  const fd = openSync(path, 'w');
  try {
    const args = ['--import', 'tsx', '--allow-natives-syntax', '--no-use-osr', '--no-concurrent-recompilation', ...traceFlags, ...entry];
    const child = spawnSync(process.execPath, args, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 240_000, cwd: ROOT });
    assert.equal(child.status, 0, child.stderr);
    return readFileSync(path, 'utf8');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The --trace-turbo-inlining log of `entry` (v8Trace). */
export function inliningTrace(entry: readonly string[]): string {
  return v8Trace(['--trace-turbo-inlining'], entry);
}

/** Whether the log shows function `callee` inlined (at any depth) into a compile of `target`. */
export function inlinedInto(log: string, callee: string, target: string): boolean {
  return new RegExp(`Inlining .*<SharedFunctionInfo ${callee}>\\} into .*<SharedFunctionInfo ${target}>\\}`).test(log);
}
