import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// CpuCache.lineInL1 holds the whole miss walk so that its bytecode stays over V8's inlining limit:
// it is then never inlined, and load()/store() compiled on their own stay small enough for their
// callers to inline (cache.ts; docs/benchmarks.md, "L1 hits within 5×"). When lineInL1 shrank below
// the limit, a load() first compiled during misses carried the walk, and every L1 hit became a call.

function v8Flag(name: string): number {
  const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  const match = new RegExp(`--${name}=(\\d+)`).exec(options);
  assert.ok(match !== null, `node --v8-options lists --${name}`);
  return Number(match[1]);
}

test('cache: CpuCache.lineInL1 is over V8\'s inlining limit (--max-inlined-bytecode-size), so load()/store() stay inlinable', () => {
  const cache = new URL('../../src/machine/cache.ts', import.meta.url).href;
  const ram = new URL('../../src/machine/ram.ts', import.meta.url).href;
  const script = `Promise.all([import(${JSON.stringify(cache)}), import(${JSON.stringify(ram)})]).then(([c, r]) => { new c.MemorySystem(r.Ram.create({ sizeBytes: '4MiB' })).cpu(0).load(0, 4); });`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--print-bytecode', '--print-bytecode-filter=lineInL1', '-e', script], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  assert.equal(child.status, 0, child.stderr);
  const lengths = [...child.stdout.matchAll(/Bytecode length: (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(lengths.length, 1, 'one function named lineInL1 compiled');
  const limit = v8Flag('max-inlined-bytecode-size');
  assert.ok((lengths[0] as number) > limit, `lineInL1 is ${lengths[0]} bytes of bytecode, V8 inlines up to ${limit}`);
});
