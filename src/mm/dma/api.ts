/**
 * The DMA API (Linux Documentation/core-api/dma-api.rst, kernel/dma/direct.c, swiotlb.c, debug.c):
 * coherent buffers, streaming mappings with a direction and their syncs, scatter-gather lists, and
 * swiotlb bounce buffers for devices whose mask cannot reach a buffer. The device is its DmaEngine
 * (its mask, coherence and IOMMU are the hardware's); behind an IOMMU every mapping gets IOVA pages
 * below the mask (iova.ts) and nothing bounces. Layout, invariants and locking: types.ts.
 *
 * What each call does on a non-coherent device (as arm64's arch_sync_dma_*), through the CPU caches:
 *   dmaMap            bounce first if needed (the original is always copied into the slots, as Linux
 *                     does since the 2022 DMA_FROM_DEVICE info-leak fix), then clean the lines
 *   dmaSyncForDevice  copy into the slots (TO_DEVICE, BIDIRECTIONAL), then clean
 *   dmaSyncForCpu     invalidate (unless TO_DEVICE), then copy out of the slots
 *   dmaUnmap          as dmaSyncForCpu, then free the slots
 * A coherent device needs no clean or invalidate: its engine snoops. Bounce copies run on the CPU
 * (through its caches) and are counted.
 *
 * Misuse is a typed error and changes nothing: unmapping or syncing a handle the device does not
 * hold, unmapping with another size or direction, syncing in a direction the mapping does not allow
 * or outside it, unmapping a scatter-gather list with another entry count. With `debug` (default on)
 * `debugPort`/`checkCpuAccess` also refuse the CPU touching a buffer the device owns.
 */
import type { AccessSize, MemoryPort, MemorySystem, RangeResult } from '../../machine/cache.ts';
import { MemType } from '../../machine/cache.ts';
import { dmaMaskLimit } from '../../machine/dma-engine.ts';
import type { DmaEngine } from '../../machine/dma-engine.ts';
import type { Iommu } from '../../machine/iommu.ts';
import { InvariantError } from '../../util/errors.ts';
import { GFP } from '../gfp.ts';
import type { Kernel } from '../kernel.ts';
import { PAGE_SIZE } from '../types.ts';
import { DmaApiLeakError, DmaArgumentError, DmaMappingError, DmaMismatchError, DmaOwnershipError, DmaSyncError, DmaUnknownHandleError } from './errors.ts';
import { IovaSpace } from './iova.ts';
import { Swiotlb } from './swiotlb.ts';
import type { SwiotlbStats } from './swiotlb.ts';
import { DMA_DIRECTION_NAMES, DmaDirection } from './types.ts';

export interface DmaApiOptions {
  /** The CPUs' caches (null: a machine modelled without caches, where syncs only check). */
  memory: MemorySystem | null;
  /** The CPU that runs the DMA API: its cycles pay for syncs and bounce copies. Default 0. */
  cpu?: number;
  /** Bytes of swiotlb carved from the DMA zone (0: none). Default SWIOTLB_DEFAULT_BYTES. */
  swiotlbBytes?: number;
  /** CONFIG_DMA_API_DEBUG's check of CPU accesses to device-owned buffers (checkCpuAccess). Default true. */
  debug?: boolean;
}

export interface CoherentBuffer {
  /** Where the CPU reaches the buffer (physical: the kernel's direct map). */
  cpuAddr: number;
  /** What the device is given. */
  dmaHandle: number;
  sizeBytes: number;
  /** 2^order pages back it. */
  order: number;
  /** How the CPU must access it: write-back for a coherent device, else uncached (or write-combining on request). */
  memType: MemType;
}

export interface SgEntry {
  paddr: number;
  sizeBytes: number;
}

/** A mapped scatter-gather list (struct sg_table after dma_map_sg). */
export interface SgList {
  readonly device: DmaEngine;
  readonly dir: DmaDirection;
  /** The entries passed to dmaMapSg: dmaUnmapSg must be given this count (Linux's rule). */
  readonly nents: number;
  readonly mapped: readonly { dmaAddress: number; sizeBytes: number }[];
}

interface Mapping {
  device: DmaEngine;
  handle: number;
  /** The buffer the CPU uses. */
  paddr: number;
  /** Where the device's transfers land in RAM: the buffer, or its swiotlb slots. */
  devPaddr: number;
  /** IOVA pages mapped in the device's IOMMU, or null. */
  iova: { first: number; pages: number } | null;
  sizeBytes: number;
  dir: DmaDirection;
  bounced: boolean;
  coherent: boolean;
  owner: 'cpu' | 'device';
}

export interface DmaStats {
  maps: number;
  unmaps: number;
  bouncedMaps: number;
  syncsForCpu: number;
  syncsForDevice: number;
  coherentAllocs: number;
  coherentFrees: number;
  liveMappings: number;
  liveCoherent: number;
  /** Cache lines the API cleaned and invalidated, dirty lines it wrote back, copies it dropped. */
  linesCleaned: number;
  linesInvalidated: number;
  cacheWritebacks: number;
  cacheCopiesDropped: number;
  /** CPU cycles spent in cache maintenance and bounce copies. */
  cycles: number;
  swiotlb: SwiotlbStats | null;
}

export class DmaApi {
  readonly memory: MemorySystem | null;
  readonly cpu: number;
  readonly debug: boolean;
  readonly swiotlb: Swiotlb | null;
  private readonly table = new Map<DmaEngine, Map<number, Mapping[]>>();
  private readonly iova = new Map<DmaEngine, IovaSpace>();
  private readonly counters = {
    maps: 0,
    unmaps: 0,
    bouncedMaps: 0,
    syncsForCpu: 0,
    syncsForDevice: 0,
    coherentAllocs: 0,
    coherentFrees: 0,
    linesCleaned: 0,
    linesInvalidated: 0,
    cacheWritebacks: 0,
    cacheCopiesDropped: 0,
    cycles: 0,
  };

  constructor(
    readonly kernel: Kernel,
    options: DmaApiOptions,
  ) {
    this.memory = options.memory;
    this.cpu = options.cpu ?? 0;
    if (this.memory !== null) this.memory.cpu(this.cpu);
    this.debug = options.debug ?? true;
    const swiotlbBytes = options.swiotlbBytes ?? 4 << 20;
    this.swiotlb = swiotlbBytes === 0 ? null : new Swiotlb(kernel, swiotlbBytes);
  }

  // ---- coherent memory -------------------------------------------------------------------------

  /** dma_alloc_coherent: zeroed, 2^order pages for `sizeBytes`, reachable by the device. */
  dmaAllocCoherent(dev: DmaEngine, sizeBytes: number, options: { writeCombine?: boolean } = {}): CoherentBuffer {
    this.checkSize(sizeBytes);
    const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(sizeBytes / PAGE_SIZE))));
    const reachesAll = dev.iommu !== null || dev.maskLimit >= this.kernel.ram.sizeBytes - 1;
    const pfn = this.kernel.pages.allocPages(order, (reachesAll ? GFP.KERNEL : GFP.DMA) | GFP.ZERO) as number;
    const cpuAddr = pfn * PAGE_SIZE;
    if (dev.iommu === null && !dev.canReach(cpuAddr, PAGE_SIZE << order)) {
      this.kernel.pages.freePages(pfn, order);
      throw new DmaMappingError(`${dev.name}: no coherent memory below its ${dev.maskBits}-bit mask (0x${dmaMaskLimit(dev.maskBits).toString(16)}) for ${sizeBytes} bytes`);
    }
    // The page allocator zeroed RAM directly: drop any line a previous owner left in the caches, so
    // that neither a stale hit nor a later eviction undoes the zeroes (arch_dma_prep_coherent's job).
    this.maintain(cpuAddr, PAGE_SIZE << order, 'invalidate');
    const memType = dev.coherent ? MemType.WriteBack : options.writeCombine === true ? MemType.WriteCombining : MemType.Uncached;
    let iova: { first: number; pages: number } | null = null;
    try {
      iova = this.iommuMap(dev, cpuAddr, PAGE_SIZE << order, true);
    } catch (error) {
      this.kernel.pages.freePages(pfn, order);
      throw error;
    }
    const dmaHandle = iova === null ? cpuAddr : iova.first * PAGE_SIZE;
    this.record({ device: dev, handle: dmaHandle, paddr: cpuAddr, devPaddr: cpuAddr, iova, sizeBytes, dir: DmaDirection.Bidirectional, bounced: false, coherent: true, owner: 'cpu' });
    this.counters.coherentAllocs++;
    return { cpuAddr, dmaHandle, sizeBytes, order, memType };
  }

  /** dma_free_coherent: the size and handle must be those of the allocation. */
  dmaFreeCoherent(dev: DmaEngine, buffer: CoherentBuffer): void {
    const m = this.lookup(dev, buffer.dmaHandle, 'dmaFreeCoherent', (x) => x.coherent);
    if (m.sizeBytes !== buffer.sizeBytes || m.paddr !== buffer.cpuAddr) {
      throw new DmaMismatchError(dev.name, buffer.dmaHandle, `dmaFreeCoherent of ${buffer.sizeBytes} bytes at 0x${buffer.cpuAddr.toString(16)}: expected the ${m.sizeBytes} bytes at 0x${m.paddr.toString(16)} it allocated`);
    }
    this.iommuUnmap(m);
    this.forget(m);
    this.kernel.pages.freePages(buffer.cpuAddr / PAGE_SIZE, buffer.order);
    this.counters.coherentFrees++;
  }

  // ---- streaming mappings ----------------------------------------------------------------------

  /** dma_map_single / dma_map_page: hands [paddr, +sizeBytes) to the device; returns the DMA address. */
  dmaMap(dev: DmaEngine, paddr: number, sizeBytes: number, dir: DmaDirection): number {
    this.checkDir(dir);
    this.checkSize(sizeBytes);
    this.kernel.ram.checkRange(paddr, sizeBytes);
    let handle = paddr;
    let bounced = false;
    const iova = this.iommuMap(dev, paddr, sizeBytes, dir !== DmaDirection.ToDevice);
    if (iova !== null) {
      handle = iova.first * PAGE_SIZE + (paddr % PAGE_SIZE);
    } else if (!dev.canReach(paddr, sizeBytes)) {
      const tlb = this.swiotlb;
      if (tlb === null) throw new DmaMappingError(`${dev.name}: [0x${paddr.toString(16)}, +${sizeBytes}) is beyond its ${dev.maskBits}-bit mask and there is no swiotlb`);
      if (!tlb.reachableBelow(dev.maskLimit)) throw new DmaMappingError(`${dev.name}: swiotlb lies beyond its ${dev.maskBits}-bit mask`);
      handle = tlb.map(paddr, sizeBytes);
      bounced = true;
      this.bounce(paddr, handle, sizeBytes);
      this.counters.bouncedMaps++;
    }
    const devPaddr = bounced ? handle : paddr;
    if (!dev.coherent) this.maintain(devPaddr, sizeBytes, 'clean');
    this.record({ device: dev, handle, paddr, devPaddr, iova, sizeBytes, dir, bounced, coherent: false, owner: 'device' });
    this.counters.maps++;
    return handle;
  }

  /** dma_unmap_single / dma_unmap_page: size and direction must be the mapping's. */
  dmaUnmap(dev: DmaEngine, handle: number, sizeBytes: number, dir: DmaDirection): void {
    const m = this.lookup(dev, handle, 'dmaUnmap', (x) => !x.coherent);
    if (m.sizeBytes !== sizeBytes) throw new DmaMismatchError(dev.name, handle, `dmaUnmap of ${sizeBytes} bytes: expected ${m.sizeBytes}, the mapped size`);
    if (m.dir !== dir) throw new DmaMismatchError(dev.name, handle, `dmaUnmap with ${DMA_DIRECTION_NAMES[dir]}: expected ${DMA_DIRECTION_NAMES[m.dir]}, the mapped direction`);
    this.toCpu(m, 0, m.sizeBytes);
    if (m.bounced) (this.swiotlb as Swiotlb).unmap(handle);
    this.iommuUnmap(m);
    this.forget(m);
    this.counters.unmaps++;
  }

  /** dma_sync_single_for_cpu (offset: dma_sync_single_range_for_cpu): the CPU owns the range again. */
  dmaSyncForCpu(dev: DmaEngine, handle: number, sizeBytes: number, dir: DmaDirection, offset = 0): void {
    const m = this.syncTarget(dev, handle, sizeBytes, dir, offset, 'dmaSyncForCpu');
    this.toCpu(m, offset, sizeBytes);
    m.owner = 'cpu';
    this.counters.syncsForCpu++;
  }

  /** dma_sync_single_for_device: the device owns the range again. */
  dmaSyncForDevice(dev: DmaEngine, handle: number, sizeBytes: number, dir: DmaDirection, offset = 0): void {
    const m = this.syncTarget(dev, handle, sizeBytes, dir, offset, 'dmaSyncForDevice');
    if (m.bounced && m.dir !== DmaDirection.FromDevice) this.bounce(m.paddr + offset, m.devPaddr + offset, sizeBytes);
    if (!dev.coherent) this.maintain(m.devPaddr + offset, sizeBytes, 'clean');
    m.owner = 'device';
    this.counters.syncsForDevice++;
  }

  /** dma_map_sg: maps each entry (dma-direct does not merge entries); on failure unmaps those done. */
  dmaMapSg(dev: DmaEngine, entries: readonly SgEntry[], dir: DmaDirection): SgList {
    if (entries.length === 0) throw new DmaArgumentError(`${dev.name}: dmaMapSg of an empty list`);
    const mapped: { dmaAddress: number; sizeBytes: number }[] = [];
    try {
      for (const e of entries) mapped.push({ dmaAddress: this.dmaMap(dev, e.paddr, e.sizeBytes, dir), sizeBytes: e.sizeBytes });
    } catch (error) {
      for (const m of mapped) this.dmaUnmap(dev, m.dmaAddress, m.sizeBytes, dir);
      throw error;
    }
    return { device: dev, dir, nents: entries.length, mapped };
  }

  /** dma_unmap_sg: `nents` must be the count given to dmaMapSg, not the count it mapped. */
  dmaUnmapSg(dev: DmaEngine, sgl: SgList, nents: number, dir: DmaDirection): void {
    if (nents !== sgl.nents) throw new DmaMismatchError(dev.name, sgl.mapped[0]?.dmaAddress ?? 0, `dmaUnmapSg with ${nents} entries: expected ${sgl.nents}, the count passed to dmaMapSg`);
    for (const m of sgl.mapped) this.lookup(dev, m.dmaAddress, 'dmaUnmapSg', (x) => !x.coherent && x.sizeBytes === m.sizeBytes);
    for (const m of sgl.mapped) this.dmaUnmap(dev, m.dmaAddress, m.sizeBytes, dir);
  }

  dmaSyncSgForCpu(dev: DmaEngine, sgl: SgList, dir: DmaDirection): void {
    for (const m of sgl.mapped) this.syncTarget(dev, m.dmaAddress, m.sizeBytes, dir, 0, 'dmaSyncSgForCpu');
    for (const m of sgl.mapped) this.dmaSyncForCpu(dev, m.dmaAddress, m.sizeBytes, dir);
  }

  dmaSyncSgForDevice(dev: DmaEngine, sgl: SgList, dir: DmaDirection): void {
    for (const m of sgl.mapped) this.syncTarget(dev, m.dmaAddress, m.sizeBytes, dir, 0, 'dmaSyncSgForDevice');
    for (const m of sgl.mapped) this.dmaSyncForDevice(dev, m.dmaAddress, m.sizeBytes, dir);
  }

  // ---- the CPU-ownership check (CONFIG_DMA_API_DEBUG-like) --------------------------------------

  /**
   * Throws DmaOwnershipError if the CPU may not touch [paddr, +sizeBytes) now: a device owns a
   * streaming mapping over it. Reading a TO_DEVICE buffer is allowed (the device only reads it).
   */
  checkCpuAccess(paddr: number, sizeBytes: number, write: boolean): void {
    if (!this.debug) return;
    for (const perDevice of this.table.values()) {
      for (const list of perDevice.values()) {
        for (const m of list) {
          if (m.coherent || m.owner !== 'device' || (!write && m.dir === DmaDirection.ToDevice)) continue;
          if (paddr < m.paddr + m.sizeBytes && m.paddr < paddr + sizeBytes) throw new DmaOwnershipError(paddr, sizeBytes, m.device.name, m.handle, write);
        }
      }
    }
  }

  /** A MemoryPort of CPU `cpu` that runs checkCpuAccess before each access. */
  debugPort(cpu: number): MemoryPort {
    const port = (this.memory as MemorySystem).cpu(cpu);
    return {
      load: (paddr: number, sizeBytes: AccessSize, memType?: MemType) => {
        this.checkCpuAccess(paddr, sizeBytes, false);
        return port.load(paddr, sizeBytes, memType);
      },
      store: (paddr: number, sizeBytes: AccessSize, value: number, memType?: MemType) => {
        this.checkCpuAccess(paddr, sizeBytes, true);
        port.store(paddr, sizeBytes, value, memType);
      },
      readBytes: (paddr: number, dst: Uint8Array, memType?: MemType) => {
        this.checkCpuAccess(paddr, dst.length, false);
        port.readBytes(paddr, dst, memType);
      },
      writeBytes: (paddr: number, src: Uint8Array, memType?: MemType) => {
        this.checkCpuAccess(paddr, src.length, true);
        port.writeBytes(paddr, src, memType);
      },
    };
  }

  /** Linux's check on driver removal: the device must hold no mapping and no coherent buffer. */
  checkDeviceReleased(dev: DmaEngine): void {
    const live = [...(this.table.get(dev)?.values() ?? [])].flat();
    if (live.length > 0) {
      throw new DmaApiLeakError(`${dev.name}: released with ${live.length} DMA mappings or coherent buffers still live (first at 0x${(live[0] as Mapping).handle.toString(16)}): expected none`);
    }
  }

  // ---- internals -------------------------------------------------------------------------------

  private syncTarget(dev: DmaEngine, handle: number, sizeBytes: number, dir: DmaDirection, offset: number, op: string): Mapping {
    this.checkDir(dir);
    const m = this.lookup(dev, handle, op, (x) => !x.coherent);
    if (m.dir !== DmaDirection.Bidirectional && m.dir !== dir) {
      throw new DmaSyncError(dev.name, handle, `${op} with ${DMA_DIRECTION_NAMES[dir]}: expected ${DMA_DIRECTION_NAMES[m.dir]}, the mapped direction`);
    }
    if (!Number.isInteger(offset) || !Number.isInteger(sizeBytes) || offset < 0 || sizeBytes < 1 || offset + sizeBytes > m.sizeBytes) {
      throw new DmaSyncError(dev.name, handle, `${op} of [+${offset}, +${offset + sizeBytes}): expected a range inside the ${m.sizeBytes} mapped bytes`);
    }
    return m;
  }

  /** The CPU side of a transfer's end: invalidate (non-coherent, not TO_DEVICE), then copy out of the slots. */
  private toCpu(m: Mapping, offset: number, sizeBytes: number): void {
    if (m.dir === DmaDirection.ToDevice) return;
    if (!m.device.coherent) this.maintain(m.devPaddr + offset, sizeBytes, 'invalidate');
    if (m.bounced) this.bounce(m.devPaddr + offset, m.paddr + offset, sizeBytes);
  }

  /** A copy by the CPU (swiotlb_bounce), through its caches. */
  private bounce(from: number, to: number, sizeBytes: number): void {
    const tlb = this.swiotlb as Swiotlb;
    tlb.bytesBounced += sizeBytes;
    tlb.copies++;
    if (this.memory === null) {
      this.kernel.ram.bytes.copyWithin(to, from, from + sizeBytes);
      return;
    }
    const port = this.memory.cpu(this.cpu);
    const before = port.cycles;
    const tmp = new Uint8Array(sizeBytes);
    port.readBytes(from, tmp);
    port.writeBytes(to, tmp);
    this.counters.cycles += port.cycles - before;
  }

  /**
   * Cache maintenance by range. An invalidate cleans and invalidates a line the range covers only in
   * part, so that bytes beside the buffer that share its first or last line survive (as arm64's
   * dcache_inval_poc does); whole lines are dropped, dirty or not.
   */
  private maintain(paddr: number, sizeBytes: number, op: 'clean' | 'invalidate'): void {
    if (this.memory === null) return;
    const port = this.memory.cpu(this.cpu);
    const tally = (r: RangeResult, cleaned: boolean): void => {
      if (cleaned) this.counters.linesCleaned += r.lines;
      else this.counters.linesInvalidated += r.lines;
      this.counters.cacheWritebacks += r.writebacks;
      this.counters.cacheCopiesDropped += r.invalidated;
      this.counters.cycles += r.cycles;
    };
    if (op === 'clean') {
      tally(port.cleanRange(paddr, sizeBytes), true);
      return;
    }
    const line = this.memory.lineBytes;
    const end = paddr + sizeBytes;
    let start = paddr;
    let stop = end;
    if (start % line !== 0) {
      tally(port.flushRange(start, 1), false);
      start = Math.min(end, start - (start % line) + line);
    }
    if (stop % line !== 0 && stop > start) {
      tally(port.flushRange(stop - 1, 1), false);
      stop -= stop % line;
    }
    if (stop > start) tally(port.invalidateRange(start, stop - start), false);
  }

  private checkDir(dir: DmaDirection): void {
    if (dir !== DmaDirection.Bidirectional && dir !== DmaDirection.ToDevice && dir !== DmaDirection.FromDevice) {
      throw new DmaArgumentError(`DMA direction ${String(dir)} (${DMA_DIRECTION_NAMES[dir] ?? '?'}): expected DMA_BIDIRECTIONAL, DMA_TO_DEVICE or DMA_FROM_DEVICE`);
    }
  }

  private checkSize(sizeBytes: number): void {
    if (!Number.isInteger(sizeBytes) || sizeBytes < 1) throw new DmaArgumentError(`DMA size ${sizeBytes}: expected a whole number of bytes ≥ 1`);
  }

  /**
   * Maps the pages of [paddr, +sizeBytes) into the device's IOMMU at fresh IOVAs (the IOMMU makes any
   * page reachable, so nothing bounces); null for a device without one.
   */
  private iommuMap(dev: DmaEngine, paddr: number, sizeBytes: number, writable: boolean): { first: number; pages: number } | null {
    const iommu = dev.iommu;
    if (iommu === null) return null;
    let space = this.iova.get(dev);
    if (space === undefined) this.iova.set(dev, (space = new IovaSpace(dev.maskBits)));
    const firstPfn = Math.floor(paddr / PAGE_SIZE);
    const pages = Math.floor((paddr + sizeBytes - 1) / PAGE_SIZE) - firstPfn + 1;
    const first = space.alloc(pages);
    for (let i = 0; i < pages; i++) iommu.map(first + i, firstPfn + i, writable);
    return { first, pages };
  }

  private iommuUnmap(m: Mapping): void {
    if (m.iova === null) return;
    const iommu = m.device.iommu as Iommu;
    for (let i = 0; i < m.iova.pages; i++) iommu.unmap(m.iova.first + i);
    (this.iova.get(m.device) as IovaSpace).free(m.iova.first, m.iova.pages);
  }

  private record(m: Mapping): void {
    let perDevice = this.table.get(m.device);
    if (perDevice === undefined) this.table.set(m.device, (perDevice = new Map()));
    const list = perDevice.get(m.handle);
    if (list === undefined) perDevice.set(m.handle, [m]);
    else list.push(m);
  }

  private lookup(dev: DmaEngine, handle: number, op: string, match: (m: Mapping) => boolean): Mapping {
    const m = this.table.get(dev)?.get(handle)?.find(match);
    if (m === undefined) throw new DmaUnknownHandleError(dev.name, handle, op);
    return m;
  }

  private forget(m: Mapping): void {
    const perDevice = this.table.get(m.device) as Map<number, Mapping[]>;
    const list = perDevice.get(m.handle) as Mapping[];
    list.splice(list.indexOf(m), 1);
    if (list.length === 0) perDevice.delete(m.handle);
  }

  validate(): void {
    this.swiotlb?.validate();
    let bounced = 0;
    for (const perDevice of this.table.values()) {
      for (const [handle, list] of perDevice) {
        for (const m of list) {
          if (m.handle !== handle) throw new InvariantError(`dma-debug: mapping filed under 0x${handle.toString(16)} has handle 0x${m.handle.toString(16)}`);
          if (m.bounced) bounced++;
          else if (m.devPaddr !== m.paddr || (m.iova === null && m.handle !== m.paddr)) throw new InvariantError(`dma-debug: direct mapping 0x${m.handle.toString(16)} of paddr 0x${m.paddr.toString(16)}`);
        }
      }
    }
    const tlbMappings = this.swiotlb?.mappings ?? 0;
    if (bounced !== tlbMappings) throw new InvariantError(`dma: ${bounced} bounced mappings recorded, swiotlb holds ${tlbMappings}`);
  }

  stats(): DmaStats {
    let liveMappings = 0;
    let liveCoherent = 0;
    for (const perDevice of this.table.values()) for (const list of perDevice.values()) for (const m of list) if (m.coherent) liveCoherent++; else liveMappings++;
    return { ...this.counters, liveMappings, liveCoherent, swiotlb: this.swiotlb?.stats() ?? null };
  }
}

