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
