// The KFENCE-like sampled pool: page-edge placement, guard pages, reports through the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../src/machine/cpu.ts';
import { skylake } from '../../../src/machine/tlb-presets.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { bindCpu } from '../../../src/mm/vm/cpu-binding.ts';
import { DIRECT_MAP_BASE } from '../../../src/mm/vm/types.ts';
import { KFENCE_OBJECTS_MAX, KfenceError, enableKfence } from '../../../src/mm/secret/kfence.ts';
import { Prng } from '../../../src/util/prng.ts';
import { runTsWorker } from '../../helpers/worker.ts';

const P = 4096;

function setup(sampleInterval: number): { kernel: Kernel; cpu: Cpu; kfence: ReturnType<typeof enableKfence> } {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const kfence = enableKfence(kernel, { sampleInterval, objects: 15 });
  const cpu = new Cpu(kernel.ram, { preset: skylake() });
  bindCpu(kernel.vm, cpu).switchTo(kernel.vm.createAddressSpace());
  cpu.setUser(false);
  return { kernel, cpu, kfence };
}

test('one slow-path kmalloc in every N lands in the pool at a page edge; kfree and ksize know it', () => {
  const { kernel, kfence } = setup(4);
  const sampled: number[] = [];
  const all: number[] = [];
  for (let i = 0; i < 40; i++) {
    const a = kernel.tryKmalloc(100 + i) as number; // tryKmalloc always takes the slow path
    all.push(a);
    if (kfence.owns(a)) sampled.push(a);
  }
  assert.equal(sampled.length, 10, 'every 4th of 40');
  for (const a of sampled) {
    const size = kernel.ksize(a);
    assert.ok(a % P === 0 || (a + size) % P === 0, `0x${a.toString(16)} (${size} bytes) at a page edge`);
  }
  kernel.validate();
  for (const a of all) kernel.kfree(a);
  assert.equal(kfence.stats().freed, 10);
  kernel.validate();
});

test('every out-of-bounds access through the CPU is a KfenceError with object, offset and sites', () => {
  const { kernel, cpu, kfence } = setup(0);
  const prng = new Prng(5);
  for (let i = 0; i < 30; i++) {
    const size = 1 + prng.int(P);
    const a = kfence.alloc(size, `driver-${i}`) as number;
    assert.ok(a !== null);
    const rightAligned = (a + size) % P === 0;
    const distance = 1 + prng.int(P);
    const offset = rightAligned ? size - 1 + distance : -distance;
    const vaddr = DIRECT_MAP_BASE + a + offset;
    cpu.store8(DIRECT_MAP_BASE + a, 1); // inside: fine
    assert.throws(
      () => cpu.load8(vaddr),
      (e: unknown) => e instanceof KfenceError && e.bug === 'out-of-bounds' && e.object === a && e.offset === offset && e.allocSite === `driver-${i}` && e.freeSite === null,
      `${rightAligned ? 'overflow' : 'underflow'} of ${distance} from a ${size}-byte object`,
    );
    kernel.validate();
    kfence.free(a, `free-${i}`);
  }
  kernel.validate();
});

test('every access after free is a use-after-free report naming both sites; a stack-ish site by default', () => {
  const { kernel, cpu, kfence } = setup(1);
  for (let i = 0; i < 20; i++) {
    const size = 8 + i * 50;
    const a = kernel.tryKmalloc(size) as number;
    assert.ok(kfence.owns(a));
    cpu.store32(DIRECT_MAP_BASE + a, 0xdead);
    kernel.kfree(a);
    const off = i % size;
    assert.throws(
      () => (i % 2 === 0 ? cpu.load8(DIRECT_MAP_BASE + a + off) : cpu.store8(DIRECT_MAP_BASE + a + off, 1)),
      (e: unknown) => e instanceof KfenceError && e.bug === 'use-after-free' && e.object === a && e.offset === off && /kfence\.test\.ts/.test(e.allocSite) && /kfence\.test\.ts/.test(e.freeSite ?? ''),
    );
    assert.throws(() => kernel.vm.kernelRead(DIRECT_MAP_BASE + a, 1), KfenceError);
    kernel.validate();
  }
});

test('a write into the page beside the object is a corruption report on free; a double free is invalid-free', () => {
  const { kernel, kfence } = setup(0);
  const a = kfence.alloc(100, 'x') as number; // first allocation: right-aligned
  assert.equal((a + 100) % P, 0);
  kernel.ram.bytes[a - 3] = 0;
  assert.throws(() => kfence.free(a, 'y'), (e: unknown) => e instanceof KfenceError && e.bug === 'corruption' && e.offset === -3 && e.freeSite === 'y');
  kernel.validate();
  assert.throws(() => kernel.kfree(a), (e: unknown) => e instanceof KfenceError && e.bug === 'invalid-free');
  assert.throws(() => kfence.free(a + 1), (e: unknown) => e instanceof KfenceError && e.bug === 'invalid-free');
  kernel.validate();
  assert.equal(kfence.stats().reports, 3);
});

test('a pool larger than its metadata page holds is refused (126 objects at most), and the largest one works whole', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  assert.throws(() => enableKfence(kernel, { sampleInterval: 0, objects: KFENCE_OBJECTS_MAX + 1 }), /expected an integer in \[1, 126\]/);
  const kfence = enableKfence(kernel, { sampleInterval: 0, objects: KFENCE_OBJECTS_MAX });
  for (let i = 0; i < KFENCE_OBJECTS_MAX; i++) assert.notEqual(kfence.alloc(16, 'fill'), null);
  assert.equal(kfence.alloc(16, 'one too many'), null);
  assert.equal(kfence.stats().allocated, KFENCE_OBJECTS_MAX);
  kernel.validate();
});

test('a KFENCE fault on another thread is reported there too, and lands in the arena report ring the enabling thread reads', async () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true });
  const kfence = enableKfence(kernel, { sampleInterval: 0, objects: 7 });
  const a = kfence.alloc(100, 'main:alloc-a') as number; // the first allocation ends at its page's end
  assert.equal((a + 100) % P, 0);
  const b = kfence.alloc(40, 'main:alloc-b') as number;
  kfence.free(b, 'main:free-b');
  type Result = { bug: string; object: number; offset: number; allocSite: string; freeSite: string | null };
  const results = await runTsWorker<Result[]>(new URL('./kfence-worker.ts', import.meta.url), { buffer: kernel.buffer, overflowAt: a + 100 + 7, freedAt: b + 3 });
  assert.deepEqual(results, [
    { bug: 'out-of-bounds', object: a, offset: 107, allocSite: 'main:alloc-a', freeSite: null },
    { bug: 'use-after-free', object: b, offset: 3, allocSite: 'main:alloc-b', freeSite: 'main:free-b' },
  ]);
  const reports = kfence.reports();
  assert.equal(reports.length, 2);
  assert.deepEqual(
    reports.map((r) => [r.error.bug, r.error.object, r.error.offset, r.error.allocSite]),
    [
      ['out-of-bounds', a, 107, 'main:alloc-a'],
      ['use-after-free', b, 3, 'main:alloc-b'],
    ],
  );
  assert.equal(kfence.stats().reports, 2);
  kernel.validate();
});
