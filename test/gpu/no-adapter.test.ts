// Without a WebGPU adapter the GPU code fails fast with a clear, typed error: no hang, no crash.
// The Vulkan loader is pointed at a driver file that does not exist, so Dawn finds no adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

function run(args: string[], extraEnv: Record<string, string | undefined>) {
  const env: NodeJS.ProcessEnv = { ...process.env, VK_DRIVER_FILES: '/nonexistent/kmem-no-driver.json', VK_ICD_FILENAMES: '/nonexistent/kmem-no-driver.json' };
  for (const [key, value] of Object.entries(extraEnv)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

test('Accelerator.open() without an adapter rejects at once with GpuUnavailableError', () => {
  const script = `import { Accelerator } from './src/machine/accelerator.ts';
try { await Accelerator.open(); console.log('OPENED'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const result = run(['--input-type=module', '-e', script], {});
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.signal, null);
  assert.match(result.stdout, /^GpuUnavailableError: no WebGPU adapter: Dawn found no usable Vulkan, Metal or D3D12 driver on \w+-\w+$/m);
  assert.doesNotMatch(result.stdout, /\bnpm\b|\bapt\b|Debian|lavapipe/, 'machine/ states the fact; what to do about it is the drivers\' policy');
  assert.ok(result.seconds < 30, `took ${result.seconds} s`);
});

test('kmem run gpu-warp-slab without an adapter: a one-line error when a GPU is required, a "not run" result otherwise', () => {
  const required = run(['src/cli/main.ts', 'run', 'gpu-warp-slab', '--smoke'], { KMEM_REQUIRE_GPU: '1' });
  assert.equal(required.status, 1, required.stderr); // a failure while running, not a usage error (docs/report.md)
  assert.match(required.stderr, /^kmem: no WebGPU adapter: .*`npm run setup`.*KMEM_REQUIRE_GPU=1/m);
  const optional = run(['src/cli/main.ts', 'run', 'gpu-warp-slab', '--smoke'], { KMEM_REQUIRE_GPU: undefined });
  assert.equal(optional.status, 0, optional.stderr);
  assert.match(optional.stdout, /\* Not run: no WebGPU adapter/);
  assert.match(optional.stdout, /`npm run setup` installs Mesa's CPU Vulkan driver/);
});
