// The published declarations (dist/, built by the setup step with stripInternal) leave out the
// kernel's internals, so that a user cannot corrupt the kernel with one line through the typed API:
// a cache's per-CPU word index, its views of RAM and its locks, the boot header's writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const dts = (path: string): string => readFileSync(new URL(`../../dist/${path}`, import.meta.url), 'utf8');

test('internals are not in the published declarations', () => {
  const cache = dts('mm/slab/cache.d.ts');
  const context = dts('mm/slab/context.d.ts');
  const header = dts('mm/arena-header.d.ts');
  const kernel = dts('mm/kernel.d.ts');
  const allocator = dts('mm/slab/allocator.d.ts');
  assert.doesNotMatch(cache, /\bpcpu\b/, 'KmemCache.pcpu');
  for (const member of ['w', 'f64', 'bytes', 'slabLock', 'depotLock', 'owner', 'priv', 'services']) {
    assert.doesNotMatch(context, new RegExp(`readonly ${member}:`), `CacheContext.${member}`);
  }
  assert.doesNotMatch(context, /\blistAdd\(|\blistDel\(/, 'slab list surgery');
  assert.doesNotMatch(header, /\bset\(|addRegion\(|readonly words/, 'ArenaHeader writers');
  assert.doesNotMatch(kernel, /readonly header:|readonly memMap:/, 'Kernel.header, Kernel.memMap');
  assert.doesNotMatch(allocator, /\bwrap\(|pcpuWord\(|abandonMagazines\(|readonly cpuSlab/, 'SlabAllocator internals');
  // What users need stays.
  assert.match(cache, /alloc\(gfp\?: number\): number;/);
  assert.match(cache, /tryAlloc\(gfp\?: number\): number \| null;/);
  assert.match(kernel, /offlineCpu\(cpu: number, epoch\?: number\): boolean;/);
});
