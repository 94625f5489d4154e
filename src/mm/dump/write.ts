/**
 * Writes a crash dump (types.ts has the format) of a stopped kernel's RAM: every frame classified,
 * the classes the dump level names left out, sensitive frames always left out or zeroed.
 */
import { ArgumentError } from '../../util/errors.ts';
import type { Kernel } from '../kernel.ts';
import { PAGE_SIZE } from '../types.ts';
import { classifyFrames, excludes, pageIsZero } from './classify.ts';
import { sealImage } from '../image-format.ts';
import { DUMP_FORMAT, DUMP_HEADER_BYTES, DUMP_VERSION, DumpLevel, NR_PAGE_CLASSES, PageClass, SensitivePolicy } from './types.ts';

export interface DumpOptions {
  /** makedumpfile's -d mask (0..31); default 31, every class it knows excluded. */
  dumpLevel?: number;
  /** Sensitive pages: 'exclude' (default) leaves them out, 'zero' writes them as zeros. */
  sensitive?: 'exclude' | 'zero';
  /**
   * Which flags make a page sensitive (default Sensitive | NoDump). 0 turns tagging off: the
   * scenario's control run, which shows that the search for secrets can find them.
   */
  tags?: number;
}

export function writeDump(kernel: Kernel, options: DumpOptions = {}): Uint8Array {
  const level = options.dumpLevel ?? DumpLevel.All;
  if (!Number.isInteger(level) || level < 0 || level > DumpLevel.All) throw new ArgumentError(`dump level ${level}: expected an integer in [0, 31] (makedumpfile -d)`);
  const policy = options.sensitive === 'zero' ? SensitivePolicy.Zero : SensitivePolicy.Exclude;
  const ram = new Uint8Array(kernel.buffer);
  const memMap = kernel.memMap;
  const n = memMap.nrPages;
  const classes = options.tags === undefined ? classifyFrames(memMap, ram) : classifyFrames(memMap, ram, options.tags);
  const bitmapBytes = Math.ceil(n / 8);
  const bitmap = new Uint8Array(bitmapBytes);
  const pages = new Uint32Array(NR_PAGE_CLASSES);
  const excluded = new Uint32Array(NR_PAGE_CLASSES);
  let included = 0;
  for (let pfn = 0; pfn < n; pfn++) {
    const cls = classes[pfn] as number;
    pages[cls]!++;
    const keepZeroed = cls === PageClass.Sensitive && policy === SensitivePolicy.Zero;
    if (!keepZeroed && excludes(level, cls, cls !== PageClass.Sensitive && pageIsZero(ram, pfn))) {
      excluded[cls]!++;
      continue;
    }
    bitmap[pfn >>> 3]! |= 1 << (pfn & 7);
    included++;
  }
  const out = new Uint8Array(DUMP_HEADER_BYTES + n + bitmapBytes + included * PAGE_SIZE);
  out.set(classes, DUMP_HEADER_BYTES);
  out.set(bitmap, DUMP_HEADER_BYTES + n);
  let at = DUMP_HEADER_BYTES + n + bitmapBytes;
  for (let pfn = 0; pfn < n; pfn++) {
    if (((bitmap[pfn >>> 3] as number) & (1 << (pfn & 7))) === 0) continue;
    // A zeroed sensitive page is left as the zeros the output buffer starts with.
    if (classes[pfn] !== PageClass.Sensitive) out.set(ram.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE), at);
    at += PAGE_SIZE;
  }
  const view = new DataView(out.buffer);
  view.setUint32(8, DUMP_VERSION, true);
  view.setUint32(12, PAGE_SIZE, true);
  view.setUint32(16, n, true);
  view.setUint32(20, level, true);
  view.setUint32(24, policy, true);
  view.setUint32(28, NR_PAGE_CLASSES, true);
  for (let c = 0; c < NR_PAGE_CLASSES; c++) {
    view.setUint32(40 + c * 8, pages[c] as number, true);
    view.setUint32(44 + c * 8, excluded[c] as number, true);
  }
  view.setUint32(96, included, true);
  sealImage(out, DUMP_FORMAT);
  return out;
}
