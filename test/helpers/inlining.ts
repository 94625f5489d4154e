// V8's inlining decisions for the fast-path budget tests (test/mm/pcp-inlining.test.ts,
// test/mm/slab/inlining.test.ts, test/flash/ftl-inlining.test.ts), and the miss path's
// optimization state (test/machine/miss-path-deopt.test.ts): a child Node runs a script with
// natives syntax (so the script can prepare a function, compile it once, synchronously, on demand,
// and read its state), on-stack replacement and concurrent recompilation off (so nothing else
// compiles the function, and nothing is still compiling when the child exits).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
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

/** The --trace-turbo-inlining log of `entry` (v8Trace), with `flags` added. */
export function inliningTrace(entry: readonly string[], flags: readonly string[] = []): string {
  return v8Trace(['--trace-turbo-inlining', ...flags], entry);
}

/** A tier-up budget no script reaches: with it, the only compiles are those a script asks for. */
export const NO_NATURAL_TIER_UP = '--interrupt-budget=1000000000';

/** Whether the log shows function `callee` inlined (at any depth) into a compile of `target`. */
export function inlinedInto(log: string, callee: string, target: string): boolean {
  return inlines(log).some((i) => i.callee === callee && i.target === target);
}

/** `node --v8-options`, read once. */
let v8Options: string | null = null;

/** A V8 flag's default, as `node --v8-options` reports it. */
export function v8FlagDefault(flag: string): number {
  v8Options ??= execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
  const match = new RegExp(`default: --${flag}=([0-9.]+)`).exec(v8Options);
  assert.ok(match !== null, `node --v8-options lists no default for --${flag}`);
  return Number(match[1]);
}

/**
 * What callees of `bytes` bytecode sizes charge V8's cumulative inlining budget when the largest is
 * the last one V8 considers: V8 takes candidates most frequent first (the frequencies come from
 * the type feedback of the moment, so any order can happen) and charges each, as it decides, at
 * --reserve-inline-budget-scale-factor times its size. At most --max-inlined-bytecode-size-cumulative
 * (returned as `budget`) and every callee is inlined whatever the order.
 */
export function worstOrderCharge(bytes: readonly number[]): { charge: number; budget: number; total: number } {
  const scale = v8FlagDefault('reserve-inline-budget-scale-factor');
  const budget = v8FlagDefault('max-inlined-bytecode-size-cumulative');
  const total = bytes.reduce((sum, b) => sum + b, 0);
  const charge = Math.max(0, ...bytes.map((b) => total - b + Math.floor(b * scale)));
  return { charge, budget, total };
}

/** One "Inlining {callee} into {function}" line of a --trace-turbo-inlining log: the callee's and
 *  the compiled function's SharedFunctionInfo addresses and names, and the callee's bytecode size
 *  from the candidate lists before it (undefined for an inline without one). */
export interface Inline {
  callee: string;
  calleeSfi: string;
  target: string;
  targetSfi: string;
  bytes: number | undefined;
}

/** Every inline in the log, in order. */
export function inlines(log: string): Inline[] {
  const sizes = new Map<string, number>();
  const out: Inline[] = [];
  for (const line of log.split('\n')) {
    const candidate = /- target: +0x[0-9a-f]+ \{(0x[0-9a-f]+) <SharedFunctionInfo ?[^>]*>\}, bytecode size: (\d+)/.exec(line);
    if (candidate !== null) sizes.set(candidate[1]!, Number(candidate[2]));
    const m = /^Inlining 0x[0-9a-f]+ \{(0x[0-9a-f]+) <SharedFunctionInfo ?([^>]*)>\} into 0x[0-9a-f]+ \{(0x[0-9a-f]+) <SharedFunctionInfo ?([^>]*)>\}/.exec(line);
    if (m !== null) out.push({ calleeSfi: m[1]!, callee: m[2]!, targetSfi: m[3]!, target: m[4]!, bytes: sizes.get(m[1]!) });
  }
  return out;
}

/**
 * The callees inlined into the compile of a function by the budgeted heuristic (name and bytecode
 * size); small functions (at most --max-inlined-bytecode-size-small bytes, which V8 inlines outside
 * the budget) are left out. `target` is the function's name, or its SharedFunctionInfo address.
 */
export function budgetedInlines(log: string, target: string): { name: string; bytes: number }[] {
  const small = v8FlagDefault('max-inlined-bytecode-size-small');
  return inlines(log)
    .filter((i) => (i.target === target || i.targetSfi === target) && i.bytes !== undefined && i.bytes > small)
    .map((i) => ({ name: i.callee, bytes: i.bytes as number }));
}
