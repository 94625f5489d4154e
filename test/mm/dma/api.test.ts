import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemType, MemorySystem } from '../../../src/machine/cache.ts';
import { DmaApi } from '../../../src/mm/dma/api.ts';
import { Kernel } from '../../../src/mm/kernel.ts';
import { DmaEngine } from '../../../src/machine/dma-engine.ts';
import { Iommu, IommuFaultError } from '../../../src/machine/iommu.ts';
import { DmaApiLeakError, DmaArgumentError, DmaMappingError, DmaMismatchError, DmaOwnershipError, DmaSyncError, DmaUnknownHandleError } from '../../../src/mm/dma/errors.ts';
import { DmaDirection, IO_TLB_SIZE, SWIOTLB_MAX_MAPPING_BYTES } from '../../../src/mm/dma/types.ts';
import { dmaRig, highBuffer } from './helpers.ts';

const { ToDevice, FromDevice, Bidirectional } = DmaDirection;

test('dmaAllocCoherent: 2^order pages, zeroed, and a buffer of ≤ 64 KiB never crosses a 64 KiB boundary', () => {
  const { dma, coherent, nonCoherent, kernel } = dmaRig();
  for (let size = 1; size <= 64 << 10; size = Math.ceil(size * 1.7)) {
    for (const dev of [coherent, nonCoherent]) {
      const buf = dma.dmaAllocCoherent(dev, size);
      assert.equal(buf.order, Math.max(0, Math.ceil(Math.log2(Math.ceil(size / 4096)))), `size ${size}`);
      assert.equal(Math.floor(buf.cpuAddr / 65536), Math.floor((buf.cpuAddr + size - 1) / 65536), `size ${size} at 0x${buf.cpuAddr.toString(16)}`);
      assert.ok(kernel.ram.u8(buf.cpuAddr, size).every((b) => b === 0));
      assert.equal(buf.memType, dev.coherent ? MemType.WriteBack : MemType.Uncached);
    }
  }
  assert.equal(dma.dmaAllocCoherent(nonCoherent, 100, { writeCombine: true }).memType, MemType.WriteCombining);
  dma.validate();
  kernel.validate();
});

test('dmaAllocCoherent: a 24-bit device gets memory below 16 MiB; a mask below the DMA zone can fail, typed', () => {
  const { dma, isa, kernel, memory } = dmaRig('64MiB', { swiotlbBytes: 0 });
  for (let i = 0; i < 20; i++) assert.ok(dma.dmaAllocCoherent(isa, 8192).cpuAddr + 8192 <= 16 << 20);
  const tiny = new DmaEngine({ ram: kernel.ram, memory, coherent: true, maskBits: 12, name: 'tiny' });
  assert.throws(() => dma.dmaAllocCoherent(tiny, 100), DmaMappingError);
  kernel.validate();
});

test('dmaFreeCoherent: another size is refused, a double free is refused, the state stays valid', () => {
  const { dma, coherent, kernel } = dmaRig();
  const buf = dma.dmaAllocCoherent(coherent, 3000);
  assert.throws(() => dma.dmaFreeCoherent(coherent, { ...buf, sizeBytes: 2000 }), DmaMismatchError);
  dma.dmaFreeCoherent(coherent, buf);
  assert.throws(() => dma.dmaFreeCoherent(coherent, buf), DmaUnknownHandleError);
  dma.validate();
  kernel.validate();
});

test('streaming, non-coherent FROM_DEVICE: the CPU reads stale bytes without dmaSyncForCpu and fresh ones with it', () => {
  const { dma, nonCoherent: dev, memory, kernel } = dmaRig();
  const cpu = memory.cpu(0);
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  cpu.writeBytes(buf, new Uint8Array(256).fill(1)); // the CPU used the buffer before: lines cached
  const h = dma.dmaMap(dev, buf, 256, FromDevice); // cleans them
  assert.equal(h, buf, 'reachable: mapped directly');
  cpu.load(buf, 4); // a speculative or buggy touch brings the line back
  dev.write(h, new Uint8Array(256).fill(7));
  assert.equal(cpu.load(buf, 1), 1, 'stale without a sync');
  dma.dmaSyncForCpu(dev, h, 256, FromDevice);
  assert.equal(cpu.load(buf, 1), 7);
  assert.equal(cpu.load(buf + 255, 1), 7);
  dma.dmaUnmap(dev, h, 256, FromDevice);
  assert.ok(dma.stats().linesInvalidated >= 4);
});

test('streaming, non-coherent TO_DEVICE: dmaMap cleans, so the device reads what the CPU wrote; without it, stale RAM', () => {
  const { dma, nonCoherent: dev, memory, kernel } = dmaRig();
  const cpu = memory.cpu(0);
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  cpu.writeBytes(buf, new Uint8Array(64).fill(9));
  const got = new Uint8Array(64);
  dev.read(buf, got); // what a driver that forgot to map would send
  assert.equal(got[0], 0);
  const h = dma.dmaMap(dev, buf, 64, ToDevice);
  dev.read(h, got);
  assert.equal(got[0], 9);
  dma.dmaUnmap(dev, h, 64, ToDevice);
});

test('coherent device: no sync is needed for the CPU to see what the device wrote', () => {
  const { dma, coherent: dev, memory, kernel } = dmaRig();
  const cpu = memory.cpu(0);
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  cpu.load(buf, 4);
  const h = dma.dmaMap(dev, buf, 128, FromDevice);
  dev.write(h, new Uint8Array(128).fill(3));
  assert.equal(cpu.load(buf, 1), 3);
  dma.dmaUnmap(dev, h, 128, FromDevice);
  assert.equal(dma.stats().linesCleaned + dma.stats().linesInvalidated, 0);
});

test('misuse: unmapping twice, another size or direction, syncing the wrong way or outside, DMA_NONE; nothing changes', () => {
  const { dma, nonCoherent: dev, kernel } = dmaRig();
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  const h = dma.dmaMap(dev, buf, 512, ToDevice);
  assert.throws(() => dma.dmaUnmap(dev, h, 256, ToDevice), DmaMismatchError);
  assert.throws(() => dma.dmaUnmap(dev, h, 512, FromDevice), DmaMismatchError);
  assert.throws(() => dma.dmaSyncForCpu(dev, h, 512, FromDevice), DmaSyncError);
  assert.throws(() => dma.dmaSyncForDevice(dev, h, 256, ToDevice, 300), DmaSyncError);
  assert.throws(() => dma.dmaMap(dev, buf, 512, DmaDirection.None), DmaArgumentError);
  assert.throws(() => dma.dmaSyncForCpu(dev, h + 4096, 16, ToDevice), DmaUnknownHandleError);
  dma.dmaSyncForDevice(dev, h, 256, ToDevice, 256);
  dma.dmaUnmap(dev, h, 512, ToDevice);
  assert.throws(() => dma.dmaUnmap(dev, h, 512, ToDevice), DmaUnknownHandleError);
  const b = dma.dmaMap(dev, buf, 64, Bidirectional);
  dma.dmaSyncForCpu(dev, b, 64, FromDevice); // a bidirectional mapping may be synced either way
  dma.dmaSyncForDevice(dev, b, 64, ToDevice);
  dma.dmaUnmap(dev, b, 64, Bidirectional);
  dma.validate();
  kernel.validate();
  assert.equal(dma.stats().liveMappings, 0);
});

test('swiotlb: a 24-bit device mapping a high buffer bounces through 2 KiB slots below its mask; copies counted', () => {
  const { dma, isa, kernel, memory } = dmaRig();
  const cpu = memory.cpu(0);
  const buf = highBuffer(kernel, 1);
  cpu.writeBytes(buf, new Uint8Array(5000).fill(4));
  const h = dma.dmaMap(isa, buf, 5000, Bidirectional);
  assert.ok(h + 5000 <= 16 << 20 && h !== buf);
  assert.equal(h % 4096, 0, 'a mapping of a page or more starts on a page');
  assert.equal(dma.stats().swiotlb?.usedSlots, Math.ceil(5000 / IO_TLB_SIZE));
  const seen = new Uint8Array(5000);
  isa.read(h, seen);
  assert.ok(seen.every((b) => b === 4), 'the original was copied into the slots and cleaned');
  isa.write(h, new Uint8Array(5000).fill(8));
  dma.dmaSyncForCpu(isa, h, 5000, Bidirectional);
  assert.equal(cpu.load(buf + 4999, 1), 8);
  dma.dmaUnmap(isa, h, 5000, Bidirectional);
  const s = dma.stats().swiotlb;
  assert.equal(s?.usedSlots, 0);
  assert.equal(s?.copies, 3, 'map, syncForCpu and unmap each copied');
  assert.equal(s?.bytesBounced, 15000);
  dma.validate();
});

test('swiotlb: at most IO_TLB_SEGSIZE slots (256 KiB) per mapping; a full swiotlb is a typed error', () => {
  const { dma, isa, kernel } = dmaRig('64MiB', { swiotlbBytes: 512 << 10 });
  const big = highBuffer(kernel, 7);
  assert.throws(() => dma.dmaMap(isa, big, SWIOTLB_MAX_MAPPING_BYTES + 1, ToDevice), /over the limit/);
  const a = dma.dmaMap(isa, big, SWIOTLB_MAX_MAPPING_BYTES, ToDevice);
  const b = dma.dmaMap(isa, big, SWIOTLB_MAX_MAPPING_BYTES, ToDevice);
  assert.throws(() => dma.dmaMap(isa, big, 16, ToDevice), /swiotlb is full/);
  dma.validate();
  dma.dmaUnmap(isa, a, SWIOTLB_MAX_MAPPING_BYTES, ToDevice);
  dma.dmaUnmap(isa, b, SWIOTLB_MAX_MAPPING_BYTES, ToDevice);
  const none = dmaRig('64MiB', { swiotlbBytes: 0 });
  assert.throws(() => none.dma.dmaMap(none.isa, highBuffer(none.kernel), 16, ToDevice), DmaMappingError);
});

test('scatter-gather: dmaUnmapSg must be given the entry count passed to dmaMapSg', () => {
  const { dma, isa, kernel, memory } = dmaRig();
  const entries = [0, 1, 2].map((i) => ({ paddr: highBuffer(kernel) + i * 16, sizeBytes: 100 }));
  const sgl = dma.dmaMapSg(isa, entries, FromDevice);
  assert.equal(sgl.mapped.length, 3);
  isa.write(sgl.mapped[1]?.dmaAddress as number, new Uint8Array(100).fill(5));
  dma.dmaSyncSgForCpu(isa, sgl, FromDevice);
  assert.equal(memory.cpu(0).load((entries[1]?.paddr as number) + 99, 1), 5, 'copied back by the CPU: in its cache');
  assert.throws(() => dma.dmaUnmapSg(isa, sgl, 2, FromDevice), DmaMismatchError);
  assert.equal(dma.stats().liveMappings, 3, 'nothing was unmapped by the refused call');
  dma.dmaUnmapSg(isa, sgl, 3, FromDevice);
  assert.throws(() => dma.dmaUnmapSg(isa, sgl, 3, FromDevice), DmaUnknownHandleError);
  dma.validate();
});

test('dma-debug: the CPU touching a buffer the device owns is an error; after dmaSyncForCpu it is not', () => {
  const { dma, nonCoherent: dev, kernel } = dmaRig();
  const port = dma.debugPort(0);
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  const h = dma.dmaMap(dev, buf, 128, FromDevice);
  assert.throws(() => port.load(buf + 64, 4), DmaOwnershipError);
  assert.throws(() => port.store(buf, 4, 1), DmaOwnershipError);
  port.load(buf + 128, 4); // just past the mapping
  dma.dmaSyncForCpu(dev, h, 128, FromDevice);
  port.load(buf, 4);
  dma.dmaSyncForDevice(dev, h, 128, FromDevice);
  assert.throws(() => port.load(buf, 4), DmaOwnershipError);
  dma.dmaUnmap(dev, h, 128, FromDevice);
  const t = dma.dmaMap(dev, buf, 128, ToDevice);
  port.load(buf, 4); // reading a TO_DEVICE buffer the device only reads is allowed
  assert.throws(() => port.store(buf, 4, 1), DmaOwnershipError);
  assert.throws(() => dma.checkDeviceReleased(dev), DmaApiLeakError);
  dma.dmaUnmap(dev, t, 128, ToDevice);
  dma.checkDeviceReleased(dev);
});

test('IOMMU: a 24-bit device behind an IOMMU reaches a high buffer through IOVAs below its mask, without bouncing', () => {
  const { dma, kernel, memory } = dmaRig();
  const iommu = new Iommu();
  const dev = new DmaEngine({ ram: kernel.ram, memory, coherent: false, maskBits: 24, iommu, name: 'isa-iommu' });
  const buf = highBuffer(kernel, 1) + 100;
  const h = dma.dmaMap(dev, buf, 5000, FromDevice);
  assert.ok(h + 5000 <= 1 << 24 && h % 4096 === 100, `IOVA 0x${h.toString(16)} keeps the page offset`);
  assert.equal(iommu.stats().mappedPages, 2);
  dev.write(h, new Uint8Array(5000).fill(6));
  dma.dmaSyncForCpu(dev, h, 5000, FromDevice);
  assert.equal(memory.cpu(0).load(buf + 4999, 1), 6);
  assert.equal(dma.stats().swiotlb?.bytesBounced, 0);
  dma.dmaUnmap(dev, h, 5000, FromDevice);
  assert.equal(iommu.stats().mappedPages, 0);
  assert.throws(() => dev.write(h, Uint8Array.of(1)), IommuFaultError, 'unmapped: the device can no longer reach it');
  const t = dma.dmaMap(dev, buf, 64, ToDevice);
  assert.throws(() => dev.write(t, Uint8Array.of(1)), IommuFaultError, 'a TO_DEVICE mapping is read-only to the device');
  dma.dmaUnmap(dev, t, 64, ToDevice);
  const c = dma.dmaAllocCoherent(dev, 8192);
  assert.notEqual(c.dmaHandle, c.cpuAddr);
  dev.write(c.dmaHandle + 8191, Uint8Array.of(9));
  assert.equal(kernel.ram.u8(c.cpuAddr + 8191, 1)[0], 9);
  dma.dmaFreeCoherent(dev, c);
  dma.checkDeviceReleased(dev);
  dma.validate();
});

test('streaming, non-coherent FROM_DEVICE: dmaMap cleans first, or a dirty line evicted later would overwrite what the device wrote', () => {
  for (const mapped of [false, true]) {
    const { dma, nonCoherent: dev, memory, kernel } = dmaRig();
    const cpu = memory.cpu(0);
    const buf = (kernel.pages.allocPages(0) as number) * 4096;
    cpu.writeBytes(buf, new Uint8Array(64).fill(1)); // dirty in the cache
    const h = mapped ? dma.dmaMap(dev, buf, 64, FromDevice) : buf;
    dev.write(h, new Uint8Array(64).fill(2));
    cpu.flushRange(buf, 64); // the line leaves the cache (an eviction would do the same)
    if (mapped) dma.dmaUnmap(dev, h, 64, FromDevice);
    assert.equal(kernel.ram.u8(buf, 1)[0], mapped ? 2 : 1, mapped ? 'cleaned at map: the device\'s bytes stay' : 'the stale dirty line overwrote the device\'s bytes');
  }
});

test('dma validate(): a corrupted swiotlb slot table or a lost mapping is found', () => {
  const { dma, isa, kernel } = dmaRig();
  const h = dma.dmaMap(isa, highBuffer(kernel), 3000, ToDevice);
  dma.validate();
  const tlb = dma.swiotlb;
  assert.ok(tlb !== null);
  tlb.usedSlots++; // the counter disagrees with the slot table in RAM
  assert.throws(() => dma.validate(), /counters say/);
  tlb.usedSlots--;
  dma.dmaUnmap(isa, h, 3000, ToDevice);
  dma.validate();
});

test('dma-debug off: checkCpuAccess lets the CPU touch a device-owned buffer (the other rules still hold)', () => {
  const { dma, nonCoherent: dev, kernel } = dmaRig('64MiB', { debug: false });
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  const h = dma.dmaMap(dev, buf, 64, FromDevice);
  dma.checkCpuAccess(buf, 4, true);
  assert.throws(() => dma.dmaUnmap(dev, h, 32, FromDevice), DmaMismatchError);
  dma.dmaUnmap(dev, h, 64, FromDevice);
});

test('syncs reach every CPU\'s caches: CPU 1 reads fresh bytes after CPU 0 ran dmaSyncForCpu', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB' });
  const memory = new MemorySystem(kernel.ram, { preset: 'zen3', cpus: 2 });
  const dma = new DmaApi(kernel, { memory, cpu: 0 });
  const dev = new DmaEngine({ ram: kernel.ram, memory, coherent: false, name: 'nc' });
  const buf = (kernel.pages.allocPages(0) as number) * 4096;
  memory.cpu(1).writeBytes(buf, new Uint8Array(128).fill(1)); // dirty in CPU 1
  const h = dma.dmaMap(dev, buf, 128, FromDevice); // CPU 0 cleans: CPU 1's dirty lines reach RAM
  assert.equal(kernel.ram.u8(buf, 1)[0], 1);
  memory.cpu(1).load(buf, 4); // CPU 1 still caches the line
  dev.write(h, new Uint8Array(128).fill(5));
  assert.equal(memory.cpu(1).load(buf, 1), 1, 'stale in CPU 1');
  dma.dmaSyncForCpu(dev, h, 128, FromDevice);
  assert.equal(memory.cpu(1).load(buf + 127, 1), 5);
  dma.dmaUnmap(dev, h, 128, FromDevice);
  memory.validate();
});
