// The published declarations (dist/, built by the setup step with stripInternal) leave out the
// kernel's internals, so that a user cannot corrupt the kernel with one line through the typed API:
// a cache's per-CPU word index, its views of RAM and its locks, the boot header's writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
  // The struct-page arrays, the boot header, the pageblock migratetypes and a zone's words and lock,
  // reachable through kernel.pages, kernel.slab and kernel.pages.zones.
  const pageAlloc = dts('mm/page-alloc.d.ts');
  const zone = dts('mm/zone.d.ts');
  assert.doesNotMatch(pageAlloc, /readonly (memMap|header|pageblockMt):/, 'PageAllocator.memMap, .header, .pageblockMt');
  assert.doesNotMatch(allocator, /readonly memMap:/, 'SlabAllocator.memMap');
  assert.doesNotMatch(zone, /readonly (words|lock):|\bcount\(/, 'Zone.words, Zone.lock, Zone.count');
  // What users need stays.
  assert.match(cache, /alloc\(gfp\?: number\): number;/);
  assert.match(cache, /tryAlloc\(gfp\?: number\): number \| null;/);
  assert.match(kernel, /offlineCpu\(cpu: number, epoch\?: number\): boolean;/);
});

test('a strict TypeScript project that imports every entry point type-checks against the published declarations, library check included (no skipLibCheck)', () => {
  // stripInternal leaves a class's @internal members out; an `implements` clause naming an interface
  // that lists them then fails in the user's compiler (it did for SlabAllocator / SlabServices).
  const root = resolve(import.meta.dirname, '../..');
  const dir = mkdtempSync(join(tmpdir(), 'kmem-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'kmem'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['use.ts'] }),
    );
    writeFileSync(
      join(dir, 'use.ts'),
      [
        "import { Kernel, GFP } from 'kmem';",
        "import * as flash from 'kmem/flash';",
        "import * as gpu from 'kmem/gpu';",
        "import * as node from 'kmem/node';",
        "const kernel = Kernel.boot({ ramBytes: '64MiB' });",
        'const pfn: number = kernel.pages.allocPages(0, GFP.KERNEL);',
        "const cache = kernel.slab.createCache('msg', 64);",
        'const obj: number = cache.alloc();',
        'console.log(pfn, obj, flash, gpu, node);',
        '',
      ].join('\n'),
    );
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
