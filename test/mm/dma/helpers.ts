import { MemorySystem } from '../../../src/machine/cache.ts';
import { DmaEngine } from '../../../src/machine/dma-engine.ts';
import { DmaApi } from '../../../src/mm/dma/api.ts';
import type { DmaApiOptions } from '../../../src/mm/dma/api.ts';
import { Kernel } from '../../../src/mm/kernel.ts';

export interface DmaRig {
  kernel: Kernel;
  memory: MemorySystem;
  dma: DmaApi;
  coherent: DmaEngine;
  nonCoherent: DmaEngine;
  /** A non-coherent device with a 24-bit (ISA) mask. */
  isa: DmaEngine;
}

/** A kernel, one CPU's caches, the DMA API with swiotlb, and three devices. */
export function dmaRig(ramBytes = '64MiB', options: Partial<DmaApiOptions> = {}): DmaRig {
  const kernel = Kernel.boot({ ramBytes });
  const memory = new MemorySystem(kernel.ram, { preset: 'skylake' });
  const dma = new DmaApi(kernel, { memory, ...options });
  const engine = (name: string, coherent: boolean, maskBits = 64): DmaEngine => new DmaEngine({ ram: kernel.ram, memory, coherent, maskBits, name });
  return { kernel, memory, dma, coherent: engine('coh0', true), nonCoherent: engine('nc0', false), isa: engine('isa0', false, 24) };
}

/** A page-aligned buffer above 16 MiB (out of an ISA device's reach). */
export function highBuffer(kernel: Kernel, order = 0): number {
  for (;;) {
    const pfn = kernel.pages.allocPages(order) as number;
    if (pfn * 4096 >= 16 << 20) return pfn * 4096;
  }
}
