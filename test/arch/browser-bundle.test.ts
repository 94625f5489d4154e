// The package root, `kmem/flash` and `kmem/gpu` must bundle for a browser: no `node:` module and no
// Node-only package may be reachable from them. esbuild bundles each entry as a browser bundler
// would (platform 'browser' refuses Node built-ins); `kmem/node` is the one entry that needs Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';

const SRC = new URL('../../src/', import.meta.url).pathname;

async function bundle(entry: string) {
  return build({ entryPoints: [SRC + entry], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
}

for (const entry of ['index.ts', 'flash.ts', 'gpu.ts']) {
  test(`browser bundle: src/${entry} reaches no node: module and no Node-only package`, async () => {
    const result = await bundle(entry);
    const inputs = Object.keys(result.metafile.inputs);
    assert.deepEqual(inputs.filter((path) => path.startsWith('node:') || path.includes('node_modules/webgpu/')), []);
    const code = result.outputFiles[0]?.text ?? '';
    assert.doesNotMatch(code, /from\s*["']node:|require\(["']node:/);
  });
}

test('browser bundle: the check fails for an entry that needs Node (kmem/node)', async () => {
  await assert.rejects(bundle('node.ts'), /node:fs/);
});

test('browser bundle: the explorer (src/web/main.ts) loads no node: module when the page opens', async () => {
  // The explorer loads the lab's scenario registry; scenarios that need Node (worker threads, trace
  // files) import it dynamically when they run. Node built-ins are marked external here, and the
  // walk follows static imports only: what the page loads before anything runs.
  const result = await build({ entryPoints: [SRC + 'web/main.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', external: ['node:*'], splitting: true, outdir: '/tmp/kmem-web-bundle' });
  const inputs = result.metafile.inputs;
  const seen = new Set<string>();
  const reached: string[] = [];
  const walk = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const edge of inputs[path]?.imports ?? []) {
      if (edge.kind !== 'import-statement') continue;
      if (edge.path.startsWith('node:')) reached.push(`${path} → ${edge.path}`);
      else walk(edge.path);
    }
  };
  walk(Object.keys(inputs).find((p) => p.endsWith('web/main.ts')) ?? '');
  assert.ok(seen.size > 50, `walked ${seen.size} modules`);
  assert.deepEqual(reached, []);
  // And the check can fail: the lab's worker threads do reach node: statically.
  const dynamic = Object.entries(inputs).flatMap(([path, input]) => input.imports.filter((e) => e.path.startsWith('node:')).map((e) => `${path}:${e.kind}`));
  assert.ok(dynamic.some((d) => d.includes('worker-thread.ts')), dynamic.join(', '));
});
