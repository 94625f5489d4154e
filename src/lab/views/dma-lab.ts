/**
 * The explorer's DMA machine: a kmem kernel, the CPU caches of machine/cache.ts (one CPU), a
 * non-coherent device (machine/dma-engine.ts, 64-bit mask, no IOMMU) and one 4 KiB receive buffer
 * mapped DMA_FROM_DEVICE through the kernel's DMA API (mm/dma/api.ts). The page drives it a step at
 * a time: the device writes a packet into RAM, the CPU reads it (counting the words that differ from
 * what the device wrote), the driver syncs for the CPU or the device, or scribbles on the buffer.
 *
 * `lineStates` says, for every 64-byte line of the buffer and every cache level, whether that level
 * holds it and how its copy compares with the truth below it (the first dirty copy in a lower level,
 * else RAM): clean (equal), dirty (newer than below), stale (a clean copy that differs: RAM changed
 * behind the cache's back). A load returns the highest level's copy, so the "seen" row is the
 * state of the highest copy. Only this buffer's lines pass through this cache model, so the dirty
 * and valid lines counted per level are the buffer's (the browser test checks the drawing
 * against those counters and against what the CPU's next read finds).
 */
import { MemorySystem, MemType } from '../../machine/cache.ts';
import type { CacheLevel } from '../../machine/cache-level.ts';
import { DmaEngine } from '../../machine/dma-engine.ts';
import { DmaApi } from '../../mm/dma/api.ts';
import { DmaDirection } from '../../mm/dma/types.ts';
import { GFP } from '../../mm/gfp.ts';
import { Kernel } from '../../mm/kernel.ts';
import { PAGE_SIZE } from '../../mm/types.ts';
import { Prng } from '../../util/prng.ts';

export const LineState = { Absent: 0, Clean: 1, Dirty: 2, Stale: 3 } as const;
export type LineState = (typeof LineState)[keyof typeof LineState];
export const LINE_STATE_NAMES: readonly string[] = ['not cached', 'clean (= memory)', 'dirty (newer than memory)', 'stale (memory changed)'];

export interface ReadResult {
  staleWords: number;
  staleLines: number;
}

const BUFFER_BYTES = PAGE_SIZE;

export class DmaLab {
  readonly kernel: Kernel;
  readonly memory: MemorySystem;
  readonly dma: DmaApi;
  readonly device: DmaEngine;
  readonly bufferPaddr: number;
  readonly handle: number;
  readonly lineBytes: number;
  /** Packets the device wrote, and the bytes of the last one (what a correct read returns). */
  packets = 0;
  private expected: Uint8Array;
  private readonly rng: Prng;
  /** The last read's findings, and the log of steps. */
  lastRead: ReadResult | null = null;
  readonly log: string[] = [];

  constructor(seed: number) {
    this.rng = new Prng(seed);
    this.kernel = Kernel.boot({ ramBytes: '32MiB' });
    this.memory = new MemorySystem(this.kernel.ram, { preset: 'skylake' });
    this.dma = new DmaApi(this.kernel, { memory: this.memory });
    this.device = new DmaEngine({ ram: this.kernel.ram, memory: this.memory, coherent: false, name: 'nic0' });
    this.lineBytes = this.memory.lineBytes;
    this.bufferPaddr = (this.kernel.pages.allocPages(0, GFP.KERNEL) as number) * PAGE_SIZE;
    // The driver fills the buffer (the previous packet's bytes, say), then maps it for the device:
    // dma_map_single cleans the lines, which stay cached.
    this.expected = this.randomBytes();
    this.memory.cpu(0).writeBytes(this.bufferPaddr, this.expected);
    this.handle = this.dma.dmaMap(this.device, this.bufferPaddr, BUFFER_BYTES, DmaDirection.FromDevice);
    this.log.push(`CPU wrote the buffer at 0x${this.bufferPaddr.toString(16)}; dma_map_single(DMA_FROM_DEVICE) cleaned its lines`);
  }

  get lines(): number {
    return BUFFER_BYTES / this.lineBytes;
  }

  /** The CPU's levels, nearest first (L1D, L2, then the shared L3). */
  levels(): CacheLevel[] {
    const cpu = this.memory.cpu(0);
    return this.memory.shared === null ? cpu.privateLevels : [...cpu.privateLevels, this.memory.shared];
  }

  /** The device writes a packet of `bytes` (whole lines from the buffer's start) into RAM. */
  deviceWrites(bytes = BUFFER_BYTES): void {
    const packet = this.randomBytes().subarray(0, bytes);
    this.device.write(this.handle, packet);
    this.expected = new Uint8Array(this.kernel.ram.bytes.subarray(this.bufferPaddr, this.bufferPaddr + BUFFER_BYTES));
    this.packets++;
    this.log.push(`device wrote packet ${this.packets} (${bytes} bytes) into RAM, past the CPU's caches`);
  }

  /** The CPU reads the buffer in 4-byte loads and compares each word with what the device wrote. */
  cpuReads(): ReadResult {
    const cpu = this.memory.cpu(0);
    const view = new DataView(this.expected.buffer, this.expected.byteOffset);
    let staleWords = 0;
    const staleLines = new Set<number>();
    for (let off = 0; off < BUFFER_BYTES; off += 4) {
      if (cpu.load(this.bufferPaddr + off, 4, MemType.WriteBack) !== view.getInt32(off, true)) {
        staleWords++;
        staleLines.add(Math.floor(off / this.lineBytes));
      }
    }
    this.lastRead = { staleWords, staleLines: staleLines.size };
    this.log.push(`CPU read the buffer: ${staleWords} of ${BUFFER_BYTES / 4} words differ from what the device wrote (${staleLines.size} lines)`);
    return this.lastRead;
  }

  /** The driver writes the first `bytes` of the buffer while the device owns it (a bug: the dirty lines may be written back over the device's data). */
  cpuWrites(bytes: number): void {
    const scribble = this.randomBytes().subarray(0, bytes);
    this.memory.cpu(0).writeBytes(this.bufferPaddr, scribble);
    this.expected.set(scribble);
    this.log.push(`CPU wrote ${bytes} bytes into the buffer: dirty lines in its cache`);
  }

  syncForCpu(): void {
    const before = this.dma.stats();
    this.dma.dmaSyncForCpu(this.device, this.handle, BUFFER_BYTES, DmaDirection.FromDevice);
    const after = this.dma.stats();
    this.log.push(`dma_sync_single_for_cpu: ${after.linesInvalidated - before.linesInvalidated} lines invalidated`);
  }

  syncForDevice(): void {
    const before = this.dma.stats();
    this.dma.dmaSyncForDevice(this.device, this.handle, BUFFER_BYTES, DmaDirection.FromDevice);
    const after = this.dma.stats();
    this.log.push(`dma_sync_single_for_device: ${after.linesCleaned - before.linesCleaned} lines cleaned`);
  }

  /** One row per level (nearest first), then the row a load sees: a LineState per line. */
  lineStates(): Uint8Array[] {
    const levels = this.levels();
    const rows = levels.map(() => new Uint8Array(this.lines));
    const seen = new Uint8Array(this.lines);
    const ram = this.kernel.ram.bytes;
    const first = this.bufferPaddr >>> this.memory.lineShift;
    for (let i = 0; i < this.lines; i++) {
      const line = first + i;
      // From the bottom up: the truth below each level is the lowest dirty copy above RAM seen so far.
      let truth: Uint8Array = ram.subarray(line * this.lineBytes, (line + 1) * this.lineBytes);
      for (let l = levels.length - 1; l >= 0; l--) {
        const level = levels[l] as CacheLevel;
        const w = level.find(line);
        if (w < 0) continue;
        const copy = level.data.subarray(level.offset(w), level.offset(w) + this.lineBytes);
        let state: LineState;
        if (level.isDirty(w)) state = LineState.Dirty;
        else state = equalBytes(copy, truth) ? LineState.Clean : LineState.Stale;
        (rows[l] as Uint8Array)[i] = state;
        if (state === LineState.Dirty) truth = copy;
      }
      seen[i] = rows.find((r) => r[i] !== LineState.Absent)?.[i] ?? LineState.Absent;
    }
    return [...rows, seen];
  }

  validate(): void {
    this.memory.validate();
    this.dma.validate();
    this.kernel.validate();
  }

  private randomBytes(): Uint8Array {
    const bytes = new Uint8Array(BUFFER_BYTES);
    for (let i = 0; i < bytes.length; i += 4) new DataView(bytes.buffer).setUint32(i, this.rng.nextU32(), true);
    return bytes;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
