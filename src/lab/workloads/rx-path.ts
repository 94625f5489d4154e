/**
 * A receive path into user pages, two ways (issue 11's zero-copy receive): a coherent NIC with an
 * 8-descriptor ring receives `packets` packets of `bufferBytes` for a reader that reads each packet in
 * 4-byte loads from its buffer, 8 pages of a user address space (an anonymous mmap, MAP_POPULATE).
 *   copy       the NIC fills 8 kernel buffers mapped once; the CPU copies each packet into the user
 *              page (copy_to_user), then the buffer is reposted
 *   zero-copy  the user page itself is pinned (pinUserPages on the user address, FOLL_PIN | FOLL_WRITE:
 *              refcount + GUP_PIN_COUNTING_BIAS) and mapped for the NIC; on completion it is unmapped and
 *              unpinned (unpinUserPages), and the reader reads it in place
 * Counted: CPU cycles (copies, loads, descriptor work), bytes copied, pins, stale words (must be 0).
 */
import { MemorySystem } from '../../machine/cache.ts';
import type { CachePresetName } from '../../machine/cache-presets.ts';
import { DmaEngine } from '../../machine/dma-engine.ts';
import { NIC_DESC_BYTES, Nic, encodeDescriptor } from '../../machine/nic.ts';
import { DmaApi } from '../../mm/dma/api.ts';
import { pageMaybeDmaPinned } from '../../mm/dma/gup.ts';
import { entryPfn } from '../../mm/vm/page-table.ts';
import { pinUserPages, unpinUserPages } from '../../mm/vm/pin.ts';
import { MAP, PROT } from '../../mm/vm/types.ts';
import { DmaDirection } from '../../mm/dma/types.ts';
import { Kernel } from '../../mm/kernel.ts';
import { PAGE_SIZE } from '../../mm/types.ts';
import { assert } from '../../util/assert.ts';

export const RX_PATHS = ['copy', 'zero-copy'] as const;
export type RxPath = (typeof RX_PATHS)[number];
const RING = 8;

export interface RxPathResult {
  path: RxPath;
  bufferBytes: number;
  packets: number;
  cycles: number;
  bytesCopied: number;
  pins: number;
  staleWords: number;
}

export function runRxPath(path: RxPath, bufferBytes: number, packets: number, seed: number, preset: CachePresetName, ramBytes: number): RxPathResult {
  assert(bufferBytes <= PAGE_SIZE && bufferBytes % 4 === 0, () => `rx-path: ${bufferBytes}-byte packets: expected at most a page, in whole words`);
  const kernel = Kernel.boot({ ramBytes });
  const memory = new MemorySystem(kernel.ram, { preset });
  const dma = new DmaApi(kernel, { memory });
  const engine = new DmaEngine({ ram: kernel.ram, memory, coherent: true, name: 'eth0' });
  const nic = new Nic(engine, Math.max(256, bufferBytes));
  const cpu = memory.cpu(0);
  const ring = dma.dmaAllocCoherent(engine, RING * NIC_DESC_BYTES);
  nic.setRing('rx', ring.dmaHandle, RING);
  const mm = kernel.vm.createAddressSpace();
  const userBase = mm.mmap(0, RING * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS | MAP.POPULATE);
  /** The physical address of user page i, as the page tables map it (copy_to_user's destination). */
  const userPhys = (i: number): number => entryPfn(kernel.vm.u[kernel.vm.tables.entry(mm.pgdPfn, userBase + i * PAGE_SIZE, 1, false)] as number) * PAGE_SIZE;
  const userPages = Array.from({ length: RING }, (_, i) => userPhys(i));
  const kernelBuffers = path === 'copy' ? Array.from({ length: RING }, () => (kernel.pages.allocPages(0) as number) * PAGE_SIZE) : [];
  const handles: number[] = new Array<number>(RING).fill(0);
  const result: RxPathResult = { path, bufferBytes, packets, cycles: 0, bytesCopied: 0, pins: 0, staleWords: 0 };
  const desc = new Uint8Array(NIC_DESC_BYTES);
  /** Gives descriptor `i` its buffer: the kernel buffer (mapped once), or the user page, pinned and mapped. */
  const post = (i: number): void => {
    if (path === 'copy') {
      if (handles[i] === 0) handles[i] = dma.dmaMap(engine, kernelBuffers[i] as number, bufferBytes, DmaDirection.FromDevice);
      else dma.dmaSyncForDevice(engine, handles[i] as number, bufferBytes, DmaDirection.FromDevice);
    } else {
      const page = (pinUserPages(mm, userBase + i * PAGE_SIZE, 1, true)[0] as number) * PAGE_SIZE;
      assert(page === userPages[i], () => `rx-path: pinning user page ${i} moved it`);
      result.pins++;
      handles[i] = dma.dmaMap(engine, page, bufferBytes, DmaDirection.FromDevice);
    }
    encodeDescriptor(desc, handles[i] as number, 0);
    cpu.writeBytes(ring.cpuAddr + i * NIC_DESC_BYTES, desc, ring.memType);
  };
  const before = cpu.cycles;
  for (let i = 0; i < RING - 1; i++) post(i);
  nic.writeTail('rx', RING - 1);
  const packet = new Uint8Array(bufferBytes);
  const view = new DataView(packet.buffer);
  const copy = new Uint8Array(bufferBytes);
  for (let p = 0; p < packets; p++) {
    for (let j = 0; j < bufferBytes / 4; j++) view.setInt32(j * 4, Math.imul(p + 1, 0x9e3779b1) ^ Math.imul(j + 1, 0x85ebca6b) ^ seed, true);
    assert(nic.receive(packet), () => `rx-path: the NIC dropped packet ${p}`);
    const slot = p % RING;
    const user = userPages[slot] as number;
    if (path === 'copy') {
      dma.dmaSyncForCpu(engine, handles[slot] as number, bufferBytes, DmaDirection.FromDevice);
      cpu.readBytes(kernelBuffers[slot] as number, copy);
      cpu.writeBytes(user, copy);
      result.bytesCopied += bufferBytes;
    } else {
      assert(pageMaybeDmaPinned(kernel, user / PAGE_SIZE), () => `rx-path: the user page of slot ${slot} is not pinned while the NIC owns it`);
      dma.dmaUnmap(engine, handles[slot] as number, bufferBytes, DmaDirection.FromDevice);
      unpinUserPages(kernel.vm, [user / PAGE_SIZE]);
    }
    for (let j = 0; j < bufferBytes / 4; j++) if (cpu.load(user + j * 4, 4) !== view.getInt32(j * 4, true)) result.staleWords++;
    post((slot + RING - 1) % RING);
    nic.writeTail('rx', slot);
  }
  result.cycles = cpu.cycles - before;
  for (let i = 0; i < RING; i++) {
    if (path === 'copy') dma.dmaUnmap(engine, handles[i] as number, bufferBytes, DmaDirection.FromDevice);
    else if (pageMaybeDmaPinned(kernel, (userPages[i] as number) / PAGE_SIZE)) {
      dma.dmaUnmap(engine, handles[i] as number, bufferBytes, DmaDirection.FromDevice);
      unpinUserPages(kernel.vm, [(userPages[i] as number) / PAGE_SIZE]);
    }
  }
  kernel.validate();
  mm.destroy();
  dma.dmaFreeCoherent(engine, ring);
  dma.checkDeviceReleased(engine);
  dma.validate();
  kernel.validate();
  return result;
}
