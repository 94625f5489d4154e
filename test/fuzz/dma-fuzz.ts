/**
 * Seeded fuzzing of the DMA API's streaming mappings against a shadow model of what every byte of a
 * set of buffers should hold, through the cache model, with coherent, non-coherent and 24-bit
 * (swiotlb) devices, and a 24-bit device behind an IOMMU.
 *
 * Shadow: per buffer, the bytes its last writer wrote (the CPU through its caches, or a device by
 * DMA). Used correctly (the CPU touches a buffer only while no mapping of it is device-owned, writes
 * only buffers unmapped or mapped TO_DEVICE/BIDIRECTIONAL; devices touch only what they own, in their
 * mapping's direction), every CPU read and every device read must match the shadow: a mismatch is a
 * corruption. Random reads of an unrelated scratch area evict lines at random. Misuse is mixed in
 * (unmapping twice or with another direction, syncing the wrong way, touching a device-owned buffer
 * through the debug port): each must raise its typed error and change nothing. A mapping is unmapped
 * while the device owns it (unmap is the last hand-over to the CPU).
 *
 * Checks: every CPU or device read compares the range it read; every `fullCheckEvery` operations and at
 * the end the CPU reads every buffer it owns whole and compares it with the shadow; dma.validate() and
 * memory.validate() every `validateEvery` operations and at the end.
 *
 * With `skipSync` > 0, that share of dmaSyncForCpu / dmaSyncForDevice calls is skipped (ownership
 * moves without the sync): the fuzz must then find stale data, the proof that it can fail.
 */
import assert from 'node:assert/strict';
import { MemorySystem } from '../../src/machine/cache.ts';
import { DmaEngine } from '../../src/machine/dma-engine.ts';
import { Iommu } from '../../src/machine/iommu.ts';
import { DmaApi } from '../../src/mm/dma/api.ts';
import { DmaApiError, DmaOwnershipError } from '../../src/mm/dma/errors.ts';
import { DmaDirection } from '../../src/mm/dma/types.ts';
import { GFP } from '../../src/mm/gfp.ts';
import { Kernel } from '../../src/mm/kernel.ts';
import { Prng } from '../../src/util/prng.ts';

export interface DmaFuzzOptions {
  seed: number;
  ops: number;
  /** Share of syncs skipped (0: the API used correctly). */
  skipSync?: number;
  validateEvery?: number;
  /** A whole-buffer compare of every CPU-owned buffer every this many operations (default 10,000). */
  fullCheckEvery?: number;
}

export interface DmaFuzzReport {
  ops: number;
  corruptions: number;
  maps: number;
  bounced: number;
  syncs: number;
  skippedSyncs: number;
  cpuReads: number;
  deviceReads: number;
  deviceWrites: number;
  misuses: number;
  /** Whole-buffer compares done (periodic and final). */
  fullChecks: number;
}

interface Buffer {
  paddr: number;
  sizeBytes: number;
  shadow: Uint8Array;
  mapping: { dev: DmaEngine; handle: number; off: number; len: number; dir: DmaDirection; owner: 'cpu' | 'device' } | null;
}

const { ToDevice, FromDevice, Bidirectional } = DmaDirection;
const DIRS = [ToDevice, FromDevice, Bidirectional] as const;

export function fuzzDma(options: DmaFuzzOptions): DmaFuzzReport {
  const prng = new Prng(options.seed);
  const skipSync = options.skipSync ?? 0;
  const validateEvery = options.validateEvery ?? 2000;
  const fullCheckEvery = options.fullCheckEvery ?? 10_000;
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  const memory = new MemorySystem(kernel.ram, { preset: prng.pick(['skylake', 'zen3', 'skylake-server'] as const) });
  const dma = new DmaApi(kernel, { memory, swiotlbBytes: 1 << 20 });
  const cpu = memory.cpu(0);
  // Skipping syncs breaks the ownership rules the debug port checks: use the bare port then.
  const debug = skipSync > 0 ? cpu : dma.debugPort(0);
  const engine = (name: string, coherent: boolean, maskBits: number, iommu: Iommu | null = null): DmaEngine => new DmaEngine({ ram: kernel.ram, memory, coherent, maskBits, name, iommu });
  const devices = [engine('coh', true, 64), engine('nc', false, 64), engine('isa-nc', false, 24), engine('isa-coh', true, 24), engine('isa-nc-iommu', false, 24, new Iommu())];
  const buffers: Buffer[] = [];
  for (let i = 0; i < 16; i++) {
    const order = prng.int(3);
    const pfn = kernel.pages.allocPages(order, i % 2 === 0 ? GFP.KERNEL : GFP.DMA) as number;
    const sizeBytes = Math.min(4096 << order, 64 + prng.int(4096 << order));
    buffers.push({ paddr: pfn * 4096, sizeBytes, shadow: new Uint8Array(sizeBytes), mapping: null });
  }
  const scratch = (kernel.pages.allocPages(8) as number) * 4096; // 1 MiB of noise to evict lines
  const report: DmaFuzzReport = { ops: 0, corruptions: 0, maps: 0, bounced: 0, syncs: 0, skippedSyncs: 0, cpuReads: 0, deviceReads: 0, deviceWrites: 0, misuses: 0, fullChecks: 0 };
  const randomBytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = prng.nextU32() & 0xff;
    return b;
  };
  const range = (size: number): [number, number] => {
    const off = prng.int(size);
    return [off, 1 + prng.int(Math.min(512, size - off))];
  };
  const compare = (got: Uint8Array, want: Uint8Array): void => {
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== want[i]) {
        report.corruptions++;
        return;
      }
    }
  };
  /** The CPU reads every buffer it owns, whole, and compares it with the shadow. */
  const fullCheck = (): void => {
    for (const b of buffers) {
      if (b.mapping !== null && b.mapping.owner === 'device') continue;
      const got = new Uint8Array(b.sizeBytes);
      debug.readBytes(b.paddr, got);
      compare(got, b.shadow);
      report.fullChecks++;
    }
  };
  // Expected errors are built without stack traces (a stack costs more than the operation).
  const quietly = (f: () => void): void => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      f();
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  const expectMisuse = (f: () => void): void => quietly(() => assert.throws(f, (e: unknown) => e instanceof DmaApiError));

  for (; report.ops < options.ops; report.ops++) {
    const b = prng.pick(buffers);
    const m = b.mapping;
    const cpuOwns = m === null || m.owner === 'cpu';
    const op = prng.int(100);
    if (op < 15) {
      // The CPU reads part of the buffer (only while it owns it).
      if (!cpuOwns) continue;
      const [off, len] = range(b.sizeBytes);
      const got = new Uint8Array(len);
      debug.readBytes(b.paddr + off, got);
      compare(got, b.shadow.subarray(off, off + len));
      report.cpuReads++;
    } else if (op < 27) {
      // The CPU writes part of the buffer: unmapped, or mapped for the device to read, while it owns it.
      if (!cpuOwns || (m !== null && m.dir === FromDevice)) continue;
      const [off, len] = range(b.sizeBytes);
      const bytes = randomBytes(len);
      debug.writeBytes(b.paddr + off, bytes);
      b.shadow.set(bytes, off);
    } else if (op < 37) {
      if (m !== null) continue;
      const dev = prng.pick(devices);
      const [off, len] = range(b.sizeBytes);
      const dir = prng.pick(DIRS);
      const handle = dma.dmaMap(dev, b.paddr + off, len, dir);
      if (handle !== b.paddr + off && dev.iommu === null) report.bounced++;
      b.mapping = { dev, handle, off, len, dir, owner: 'device' };
      report.maps++;
    } else if (op < 47) {
      // Unmapping ends the device's ownership (in place of a last dmaSyncForCpu), so the device owns it.
      if (m === null || m.owner !== 'device') continue;
      dma.dmaUnmap(m.dev, m.handle, m.len, m.dir);
      b.mapping = null;
    } else if (op < 60) {
      // Ownership moves: a sync, or (skipSync) the move without one.
      if (m === null) continue;
      const toCpu = m.owner === 'device';
      const dir = m.dir === Bidirectional ? prng.pick(DIRS) : m.dir;
      if (prng.chance(skipSync)) report.skippedSyncs++;
      else if (toCpu) dma.dmaSyncForCpu(m.dev, m.handle, m.len, dir);
      else dma.dmaSyncForDevice(m.dev, m.handle, m.len, dir);
      m.owner = toCpu ? 'cpu' : 'device';
      report.syncs++;
    } else if (op < 72) {
      // The device writes what it owns, if the direction lets it.
      if (m === null || m.owner !== 'device' || m.dir === ToDevice) continue;
      const [off, len] = range(m.len);
      const bytes = randomBytes(len);
      m.dev.write(m.handle + off, bytes);
      b.shadow.set(bytes, m.off + off);
      report.deviceWrites++;
    } else if (op < 84) {
      if (m === null || m.owner !== 'device' || m.dir === FromDevice) continue;
      const [off, len] = range(m.len);
      const got = new Uint8Array(len);
      m.dev.read(m.handle + off, got);
      compare(got, b.shadow.subarray(m.off + off, m.off + off + len));
      report.deviceReads++;
    } else if (op < 96) {
      // Noise: the CPU reads elsewhere, evicting lines.
      const n = 1 + prng.int(64);
      for (let i = 0; i < n; i++) cpu.load(scratch + prng.int(1 << 18) * 4, 4);
    } else {
      // Misuse: each is refused and changes nothing.
      if (m === null) expectMisuse(() => dma.dmaUnmap(prng.pick(devices), b.paddr, 16, ToDevice));
      else if (skipSync === 0 && m.owner === 'device' && m.dir !== ToDevice) quietly(() => assert.throws(() => debug.load(b.paddr + m.off, 1), DmaOwnershipError));
      else if (m.dir !== Bidirectional) expectMisuse(() => dma.dmaSyncForCpu(m.dev, m.handle, m.len, m.dir === ToDevice ? FromDevice : ToDevice));
      else expectMisuse(() => dma.dmaUnmap(m.dev, m.handle, m.len + 1, m.dir));
      report.misuses++;
    }
    if (report.ops % fullCheckEvery === 0) fullCheck();
    if (report.ops % validateEvery === 0) {
      dma.validate();
      memory.validate();
    }
  }
  // The end, by the loop's rule: only a buffer the device owns is unmapped. Unmapping ends the
  // device's ownership (Linux's dma_unmap syncs for the CPU: on a non-coherent device it invalidates
  // the CPU's cache lines over the mapping), so a buffer the CPU owns goes back to the device first,
  // or what the CPU wrote since its last sync would be dropped. Then every buffer is checked.
  for (const b of buffers) {
    const m = b.mapping;
    if (m === null) continue;
    if (m.owner === 'cpu') dma.dmaSyncForDevice(m.dev, m.handle, m.len, m.dir);
    dma.dmaUnmap(m.dev, m.handle, m.len, m.dir);
    b.mapping = null;
  }
  for (const dev of devices) dma.checkDeviceReleased(dev);
  fullCheck();
  dma.validate();
  memory.validate();
  kernel.validate();
  return report;
}
