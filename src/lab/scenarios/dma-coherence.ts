/**
 * dma-coherence: a device receives packets by DMA into buffers the CPU then reads. What does the CPU
 * see, and what does seeing the right bytes cost, for each way of giving the device memory?
 *
 * A NIC (machine/nic.ts) with an 8-descriptor receive ring in coherent memory receives `packets`
 * packets of `bufferBytes` into 8 rotating buffers; after each, the driver (this scenario, on CPU 0)
 * polls the descriptor, does what its design says, and reads the whole packet in 4-byte loads,
 * comparing each word with what the NIC wrote. Designs:
 *   nosync    non-coherent NIC, streaming dmaMap once, never synced (the bug: the CPU's cached lines
 *             from the buffer's previous packet are read instead of RAM)
 *   sync      non-coherent NIC, dmaSyncForCpu before reading, dmaSyncForDevice before reposting
 *   swiotlb   as sync, but the NIC has a 24-bit mask and the buffers lie above 16 MiB: bounced
 *   iommu     as swiotlb, but the NIC sits behind an IOMMU: IOVAs below its mask, nothing bounced
 *   coherent  a coherent (snooping) NIC, buffers from dmaAllocCoherent, cached write-back
 *   uncached  non-coherent NIC, buffers from dmaAllocCoherent: the CPU maps them uncached
 * Counted from what happened in the cache model: stale words, CPU cycles (loads, cache maintenance,
 * bounce copies, descriptor polling), lines invalidated (by the API or by the NIC's snoops), bytes
 * bounced through swiotlb. A second table receives into "user" pages by copy or zero-copy (pinned
 * pages; lab/workloads/rx-path.ts).
 */
import { MemorySystem, MemType } from '../../machine/cache.ts';
import { CACHE_PRESET_NAMES } from '../../machine/cache-presets.ts';
import type { CachePresetName } from '../../machine/cache-presets.ts';
import { DmaEngine } from '../../machine/dma-engine.ts';
import { Iommu } from '../../machine/iommu.ts';
import { NIC_DESC_BYTES, Nic, RX_STATUS_DD, encodeDescriptor } from '../../machine/nic.ts';
import { DmaApi } from '../../mm/dma/api.ts';
import type { CoherentBuffer } from '../../mm/dma/api.ts';
import { DmaDirection } from '../../mm/dma/types.ts';
import { GFP } from '../../mm/gfp.ts';
import { Kernel } from '../../mm/kernel.ts';
import { DMA_ZONE_BYTES, PAGE_SIZE } from '../../mm/types.ts';
import { assert } from '../../util/assert.ts';
import { RX_PATHS, runRxPath } from '../workloads/rx-path.ts';
import type { RxPath, RxPathResult } from '../workloads/rx-path.ts';
import { defineScenario } from '../scenario.ts';
import type { Plot, Table } from '../scenario.ts';

export const DMA_DESIGNS = ['nosync', 'sync', 'swiotlb', 'iommu', 'coherent', 'uncached'] as const;
export type DmaDesign = (typeof DMA_DESIGNS)[number];
const DESIGN_LABELS: Record<DmaDesign, string> = {
  nosync: 'non-coherent, streaming, no sync',
  sync: 'non-coherent, streaming + sync',
  swiotlb: 'non-coherent 24-bit, swiotlb + sync',
  iommu: 'non-coherent 24-bit behind an IOMMU + sync',
  coherent: 'coherent device, coherent buffer',
  uncached: 'non-coherent device, coherent (uncached) buffer',
};
const RING = 8;

export interface DmaRunResult {
  design: DmaDesign;
  bufferBytes: number;
  packets: number;
  loads: number;
  staleWords: number;
  stalePackets: number;
  cycles: number;
  loadCycles: number;
  linesInvalidated: number;
  linesCleaned: number;
  bytesBounced: number;
}

/** The word `j` of packet `p`: what the NIC writes, and what the CPU should read. */
function payloadWord(seed: number, p: number, j: number): number {
  let x = (Math.imul(p + 1, 0x9e3779b1) ^ Math.imul(j + 1, 0x85ebca6b) ^ seed) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}

/** One design at one buffer size: a fresh machine, kernel and NIC. */
export function runDmaDesign(design: DmaDesign, bufferBytes: number, packets: number, seed: number, preset: CachePresetName, ramBytes: number): DmaRunResult {
  const kernel = Kernel.boot({ ramBytes });
  const memory = new MemorySystem(kernel.ram, { preset });
  const dma = new DmaApi(kernel, { memory });
  const narrow = design === 'swiotlb' || design === 'iommu';
  const engine = new DmaEngine({ ram: kernel.ram, memory, coherent: design === 'coherent', maskBits: narrow ? 24 : 64, iommu: design === 'iommu' ? new Iommu() : null, name: 'eth0' });
  const nic = new Nic(engine, bufferBytes);
  const cpu = memory.cpu(0);
  const ring = dma.dmaAllocCoherent(engine, RING * NIC_DESC_BYTES);
  nic.setRing('rx', ring.dmaHandle, RING);
  const order = Math.max(0, Math.ceil(Math.log2(bufferBytes / PAGE_SIZE)));
  const buffers: { cpuAddr: number; dma: number; memType: MemType; coherent: CoherentBuffer | null }[] = [];
  for (let i = 0; i < RING; i++) {
    if (design === 'coherent' || design === 'uncached') {
      const b = dma.dmaAllocCoherent(engine, bufferBytes);
      buffers.push({ cpuAddr: b.cpuAddr, dma: b.dmaHandle, memType: b.memType, coherent: b });
    } else {
      let pfn = kernel.pages.allocPages(order, GFP.KERNEL) as number;
      assert(!narrow || pfn * PAGE_SIZE >= DMA_ZONE_BYTES, () => `dma-coherence: buffer at pfn ${pfn} is not above the 24-bit mask`);
      pfn = pfn as number;
      const cpuAddr = pfn * PAGE_SIZE;
      buffers.push({ cpuAddr, dma: dma.dmaMap(engine, cpuAddr, bufferBytes, DmaDirection.FromDevice), memType: MemType.WriteBack, coherent: null });
    }
  }
  const desc = new Uint8Array(NIC_DESC_BYTES);
  const post = (i: number): void => {
    encodeDescriptor(desc, (buffers[i] as { dma: number }).dma, 0);
    cpu.writeBytes(ring.cpuAddr + i * NIC_DESC_BYTES, desc, ring.memType);
  };
  for (let i = 0; i < RING - 1; i++) post(i);
  nic.writeTail('rx', RING - 1);
  const words = bufferBytes / 4;
  const packet = new Uint8Array(bufferBytes);
  const packetView = new DataView(packet.buffer);
  const result: DmaRunResult = { design, bufferBytes, packets, loads: 0, staleWords: 0, stalePackets: 0, cycles: 0, loadCycles: 0, linesInvalidated: 0, linesCleaned: 0, bytesBounced: 0 };
  const cyclesBefore = cpu.cycles;
  for (let p = 0; p < packets; p++) {
    for (let j = 0; j < words; j++) packetView.setUint32(j * 4, payloadWord(seed, p, j), true);
    assert(nic.receive(packet), () => `dma-coherence: the NIC dropped packet ${p}`);
    const slot = p % RING;
    const b = buffers[slot] as { cpuAddr: number; dma: number; memType: MemType };
    const status = cpu.load(ring.cpuAddr + slot * NIC_DESC_BYTES + 12, 1, ring.memType);
    assert((status & RX_STATUS_DD) !== 0, () => `dma-coherence: descriptor ${slot} not done after packet ${p}`);
    if (design === 'sync' || narrow) dma.dmaSyncForCpu(engine, b.dma, bufferBytes, DmaDirection.FromDevice);
    const loadStart = cpu.cycles;
    let stale = 0;
    for (let j = 0; j < words; j++) if (cpu.load(b.cpuAddr + j * 4, 4, b.memType) !== (payloadWord(seed, p, j) | 0)) stale++;
    result.loadCycles += cpu.cycles - loadStart;
    result.loads += words;
    result.staleWords += stale;
    if (stale > 0) result.stalePackets++;
    if (design === 'sync' || narrow) dma.dmaSyncForDevice(engine, b.dma, bufferBytes, DmaDirection.FromDevice);
    // Refill at the tail (the one descriptor the device does not own) and hand it over: the device
    // then owns the RING - 1 descriptors after this one.
    post((slot + RING - 1) % RING);
    nic.writeTail('rx', slot);
  }
  result.cycles = cpu.cycles - cyclesBefore;
  const s = dma.stats();
  result.linesInvalidated = s.linesInvalidated + engine.snoopInvalidations;
  result.linesCleaned = s.linesCleaned;
  result.bytesBounced = s.swiotlb?.bytesBounced ?? 0;
  for (const b of buffers) {
    if (b.coherent !== null) dma.dmaFreeCoherent(engine, b.coherent);
    else dma.dmaUnmap(engine, b.dma, bufferBytes, DmaDirection.FromDevice);
  }
  dma.dmaFreeCoherent(engine, ring);
  dma.checkDeviceReleased(engine);
  dma.validate();
  memory.validate();
  return result;
}

export const dmaCoherence = defineScenario({
  name: 'dma-coherence',
  title: 'DMA and CPU caches: stale reads and the cost of coherence',
  question:
    'A device writes RAM by DMA while the CPU may hold stale copies in its cache: what does the CPU read without a sync, and what do syncs, swiotlb bounce buffers, a coherent device and uncached memory each cost?',
  params: {
    ramBytes: { kind: 'size', default: 64 << 20, min: 32 << 20, max: 1 << 30, multipleOf: PAGE_SIZE, description: 'RAM of the emulated machine' },
    bufferSizes: { kind: 'numbers', default: [256, 1024, 2048, 4096, 8192, 16384], min: 256, max: 16384, multipleOf: 256, description: 'receive buffer sizes in bytes' },
    packets: { kind: 'int', default: 64, min: RING + 1, max: 100_000, description: 'packets received per design and size (8 buffers rotate)' },
    preset: { kind: 'enum', values: CACHE_PRESET_NAMES, default: 'skylake' as CachePresetName, description: 'CPU cache geometry and costs' },
  },
  smoke: { bufferSizes: [256, 1024], packets: 3 * RING },
  run(params, ctx) {
    const { bufferSizes: sizes, packets } = params;
    for (const s of sizes) assert(Number.isInteger(s) && s % 256 === 0, () => `dma-coherence: buffer size ${s}: expected a multiple of 256 bytes`);
    const runs: DmaRunResult[] = [];
    let done = 0;
    for (const design of DMA_DESIGNS) {
      for (const size of sizes) {
        runs.push(runDmaDesign(design, size, packets, ctx.seed, params.preset, params.ramBytes));
        ctx.progress(++done, DMA_DESIGNS.length * sizes.length, `${design} ${size} B`);
      }
    }
    const table: Table = {
      id: 'designs',
      title: `Receiving ${packets} packets into 8 rotating buffers (${params.preset} caches)`,
      columns: [
        { key: 'design', label: 'design' },
        { key: 'bufferBytes', label: 'buffer', unit: 'B' },
        { key: 'staleWords', label: 'stale words read' },
        { key: 'stalePackets', label: 'packets with stale words' },
        { key: 'cyclesPerPacket', label: 'CPU cycles / packet', digits: 0 },
        { key: 'cyclesPerLoad', label: 'cycles / 4-byte load', digits: 1 },
        { key: 'linesInvalidated', label: 'lines invalidated' },
        { key: 'linesCleaned', label: 'lines cleaned' },
        { key: 'bytesBounced', label: 'bytes bounced (swiotlb)' },
      ],
      rows: runs.map((r) => ({
        design: DESIGN_LABELS[r.design],
        bufferBytes: r.bufferBytes,
        staleWords: r.staleWords,
        stalePackets: r.stalePackets,
        cyclesPerPacket: r.cycles / r.packets,
        cyclesPerLoad: r.loadCycles / r.loads,
        linesInvalidated: r.linesInvalidated,
        linesCleaned: r.linesCleaned,
        bytesBounced: r.bytesBounced,
      })),
      note: 'Cycles are the cache model\'s (cited latencies, see docs/dma.md), counted per access, maintenance line and bounce copy; lines invalidated include a coherent device\'s snoops.',
    };
    const perDesign = (f: (r: DmaRunResult) => number): Plot['series'] =>
      // One panel per design (small multiples on shared axes): several designs cost the same, or read nothing stale.
      DMA_DESIGNS.map((d) => ({ label: DESIGN_LABELS[d], panel: DESIGN_LABELS[d], points: runs.filter((r) => r.design === d).map((r): [number, number] => [r.bufferBytes, f(r)]) }));
    const cyclesPlot: Plot = {
      id: 'cycles-vs-size',
      title: 'CPU cycles per packet against buffer size',
      kind: 'line',
      x: { label: 'buffer bytes', log: true },
      y: { label: 'cycles per packet', log: true },
      series: perDesign((r) => r.cycles / r.packets),
    };
    const stalePlot: Plot = {
      id: 'stale-vs-size',
      title: 'Share of words read stale against buffer size',
      kind: 'line',
      x: { label: 'buffer bytes', log: true },
      y: { label: 'stale fraction' },
      series: perDesign((r) => r.staleWords / r.loads),
    };
    const at = (d: DmaDesign): DmaRunResult => runs.filter((r) => r.design === d).at(-1) as DmaRunResult;
    const big = at('nosync').bufferBytes;
    const summary = [
      `Without a sync the CPU read ${at('nosync').staleWords} of ${at('nosync').loads} words stale at ${big} B (${((100 * at('nosync').staleWords) / at('nosync').loads).toFixed(1)} %): its cache still held the buffer's previous packet.`,
      `With syncs, a coherent device and uncached memory it read none stale (${at('sync').staleWords}, ${at('coherent').staleWords}, ${at('uncached').staleWords}); swiotlb also none (${at('swiotlb').staleWords}) after bouncing ${at('swiotlb').bytesBounced} bytes; behind an IOMMU the same 24-bit NIC bounced ${at('iommu').bytesBounced}.`,
      `Per 4-byte load at ${big} B: uncached ${(at('uncached').loadCycles / at('uncached').loads).toFixed(0)} cycles, coherent ${(at('coherent').loadCycles / at('coherent').loads).toFixed(1)}, synced ${(at('sync').loadCycles / at('sync').loads).toFixed(1)}; per packet: sync ${(at('sync').cycles / packets).toFixed(0)}, coherent ${(at('coherent').cycles / packets).toFixed(0)}, swiotlb ${(at('swiotlb').cycles / packets).toFixed(0)}, uncached ${(at('uncached').cycles / packets).toFixed(0)} cycles.`,
    ];
    const rxSizes = sizes.filter((size) => size <= PAGE_SIZE);
    const rx = rxSizes.flatMap((size) => RX_PATHS.map((path) => runRxPath(path, size, packets, ctx.seed, params.preset, params.ramBytes)));
    const rxTable: Table = {
      id: 'rx-paths',
      title: `Receiving ${packets} packets into user pages: copy vs zero-copy (coherent NIC, ${params.preset} caches)`,
      columns: [
        { key: 'path', label: 'path' },
        { key: 'bufferBytes', label: 'packet', unit: 'B' },
        { key: 'cyclesPerPacket', label: 'CPU cycles / packet', digits: 0 },
        { key: 'bytesCopied', label: 'bytes copied' },
        { key: 'pins', label: 'pages pinned' },
        { key: 'staleWords', label: 'stale words read' },
      ],
      rows: rx.map((r) => ({ path: r.path, bufferBytes: r.bufferBytes, cyclesPerPacket: r.cycles / r.packets, bytesCopied: r.bytesCopied, pins: r.pins, staleWords: r.staleWords })),
      note: 'Zero-copy pins the user page (refcount + GUP_PIN_COUNTING_BIAS) and maps it for the NIC; the copy path receives into a kernel buffer and copies (charged per line touched). The user pages are 8 pages of an anonymous mmap, pinned with pinUserPages.',
    };
    const rxAt = (path: RxPath): RxPathResult | undefined => rx.filter((r) => r.path === path).at(-1);
    const copyRun = rxAt('copy');
    const zeroRun = rxAt('zero-copy');
    if (copyRun !== undefined && zeroRun !== undefined) {
      summary.push(
        `Into user pages of ${copyRun.bufferBytes} B: copying cost ${(copyRun.cycles / packets).toFixed(0)} cycles and ${copyRun.bytesCopied / packets} bytes copied per packet, zero-copy ${(zeroRun.cycles / packets).toFixed(0)} cycles and none, with ${zeroRun.pins} pins.`,
      );
    }
    return { summary, tables: [table, ...(rx.length > 0 ? [rxTable] : [])], plots: [cyclesPlot, stalePlot] };
  },
});
