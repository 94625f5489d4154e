import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { MemorySystem } from '../../src/machine/cache.ts';
import { DmaEngine, DmaMaskError, dmaMaskLimit } from '../../src/machine/dma-engine.ts';
import { Iommu, IommuFaultError } from '../../src/machine/iommu.ts';

function machine(): { ram: Ram; mem: MemorySystem } {
  const ram = Ram.create({ sizeBytes: '4MiB' });
  return { ram, mem: new MemorySystem(ram, { preset: 'skylake' }) };
}

test('dma-engine: a non-coherent write leaves the CPU reading its stale line; a coherent one is seen at once', () => {
  for (const coherent of [false, true]) {
    const { ram, mem } = machine();
    const dev = new DmaEngine({ ram, memory: mem, coherent });
    const cpu = mem.cpu(0);
    assert.equal(cpu.load(8192, 4), 0);
    dev.write(8192, Uint8Array.of(1, 0, 0, 0));
    assert.equal(cpu.load(8192, 4), coherent ? 1 : 0);
    assert.equal(dev.stats().snoopInvalidations, coherent ? 3 : 0);
  }
});

test('dma-engine: a non-coherent read misses a dirty cached store; a coherent read snoops it out', () => {
  for (const coherent of [false, true]) {
    const { ram, mem } = machine();
    const dev = new DmaEngine({ ram, memory: mem, coherent });
    mem.cpu(0).store(0, 4, 0x55);
    const got = new Uint8Array(4);
    dev.read(0, got);
    assert.equal(got[0], coherent ? 0x55 : 0);
    assert.equal(dev.stats().snoopWritebacks, coherent ? 1 : 0);
  }
});

test('dma-engine: the mask limits bus addresses (24-bit ISA, 20-bit below a 4 MiB RAM), and nothing moves on refusal', () => {
  assert.equal(dmaMaskLimit(24), 0xffffff);
  assert.equal(dmaMaskLimit(32), 0xffffffff);
  assert.equal(dmaMaskLimit(64), Number.MAX_SAFE_INTEGER);
  const { ram, mem } = machine();
  const dev = new DmaEngine({ ram, memory: mem, coherent: true, maskBits: 20 });
  dev.write((1 << 20) - 4, Uint8Array.of(1, 2, 3, 4));
  assert.throws(() => dev.write((1 << 20) - 2, Uint8Array.of(9, 9, 9, 9)), DmaMaskError);
  assert.deepEqual([...ram.u8((1 << 20) - 4, 4)], [1, 2, 3, 4]);
  assert.throws(() => new DmaEngine({ ram, memory: mem, coherent: true, maskBits: 8 }), /expected an integer in \[12, 64\]/);
});

test('dma-engine: through an IOMMU, bus addresses are translated page by page; unmapped or read-only pages fault', () => {
  const { ram, mem } = machine();
  const iommu = new Iommu();
  const dev = new DmaEngine({ ram, memory: mem, coherent: true, maskBits: 32, iommu });
  iommu.map(0, 100, true); // IOVA page 0 → frame 100
  iommu.map(1, 7, false); // IOVA page 1 → frame 7, read-only
  dev.write(4090, Uint8Array.of(1, 2, 3, 4, 5, 6).subarray(0, 6 - 2));
  assert.deepEqual([...ram.u8(100 * 4096 + 4090, 4)], [1, 2, 3, 4]);
  assert.throws(() => dev.write(4094, Uint8Array.of(1, 2, 3, 4)), IommuFaultError);
  assert.equal(ram.u8(100 * 4096 + 4094, 1)[0], 0, 'a faulting transfer writes nothing');
  ram.u8(7 * 4096, 1)[0] = 42;
  const got = new Uint8Array(1);
  dev.read(4096, got);
  assert.equal(got[0], 42);
  assert.throws(() => dev.read(3 * 4096, got), /no mapping/);
  assert.equal(iommu.stats().faults, 2);
});
