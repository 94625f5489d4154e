/**
 * Reads a crash dump (types.ts has the format). Every check happens before anything is returned: a
 * file that is short, of another format or version, or whose checksums disagree is a DumpFormatError.
 */
import { checkImageBody, openImageHeader } from '../image-format.ts';
import { DUMP_FORMAT, DUMP_HEADER_BYTES, DUMP_VERSION, DumpFormatError, NR_PAGE_CLASSES, PAGE_CLASS_NAMES, SensitivePolicy } from './types.ts';
import type { DumpHeader } from './types.ts';

export class CrashDump {
  private constructor(
    readonly header: DumpHeader,
    private readonly bytes: Uint8Array,
    private readonly offsets: Int32Array,
  ) {}

  static parse(bytes: Uint8Array): CrashDump {
    const u32 = openImageHeader(bytes, DUMP_FORMAT);
    if (u32(8) !== DUMP_VERSION) throw new DumpFormatError(8, `version ${u32(8)}: expected ${DUMP_VERSION}`);
    if (u32(28) !== NR_PAGE_CLASSES) throw new DumpFormatError(28, `${u32(28)} page classes: expected ${NR_PAGE_CLASSES}`);
    const pageSizeBytes = u32(12);
    const nrPages = u32(16);
    const includedPages = u32(96);
    const bitmapAt = DUMP_HEADER_BYTES + nrPages;
    const pagesAt = bitmapAt + Math.ceil(nrPages / 8);
    const expected = pagesAt + includedPages * pageSizeBytes;
    checkImageBody(bytes, DUMP_FORMAT, expected, `${includedPages} pages of ${pageSizeBytes} bytes`);
    const offsets = new Int32Array(nrPages).fill(-1);
    let at = pagesAt;
    for (let pfn = 0; pfn < nrPages; pfn++) {
      if (((bytes[bitmapAt + (pfn >>> 3)] as number) & (1 << (pfn & 7))) === 0) continue;
      offsets[pfn] = at;
      at += pageSizeBytes;
    }
    if (at !== expected) throw new DumpFormatError(bitmapAt, `the bitmap names ${(at - pagesAt) / pageSizeBytes} pages: expected ${includedPages}`);
    const classes = PAGE_CLASS_NAMES.map((name, c) => ({ name, pages: u32(40 + c * 8), excluded: u32(44 + c * 8) }));
    const policy = u32(24) === SensitivePolicy.Zero ? SensitivePolicy.Zero : SensitivePolicy.Exclude;
    return new CrashDump({ version: u32(8), pageSizeBytes, nrPages, dumpLevel: u32(20), sensitivePolicy: policy, classes, includedPages }, bytes, offsets);
  }

  /** The frame's class (a PageClass). */
  classOf(pfn: number): number {
    return this.bytes[DUMP_HEADER_BYTES + pfn] as number;
  }

  /** The frame's bytes as the dump holds them, or null when the dump left it out. */
  page(pfn: number): Uint8Array | null {
    const at = this.offsets[pfn] ?? -1;
    return at < 0 ? null : this.bytes.subarray(at, at + this.header.pageSizeBytes);
  }

  /** Every included page's bytes, in pfn order (what a search of the file's contents sees). */
  pagesBytes(): Uint8Array {
    const first = DUMP_HEADER_BYTES + this.header.nrPages + Math.ceil(this.header.nrPages / 8);
    return this.bytes.subarray(first);
  }
}

/** What `kmem dump-info` prints: the header, each class's pages, which classes the dump contains and which it left out. */
export function describeDump(dump: CrashDump): string {
  const h = dump.header;
  const policy = h.sensitivePolicy === SensitivePolicy.Zero ? 'written as zeros' : 'excluded';
  const lines = [
    `kmem crash dump, version ${h.version}: ${h.nrPages} frames of ${h.pageSizeBytes} bytes, ${h.includedPages} in the file`,
    `dump level ${h.dumpLevel} (makedumpfile -d: 1 zero, 2 cache, 4 private cache, 8 user, 16 free); sensitive pages ${policy}`,
    '',
    `${'class'.padEnd(14)}${'frames'.padStart(8)}${'excluded'.padStart(10)}${'in dump'.padStart(9)}`,
    ...h.classes.map((c) => `${c.name.padEnd(14)}${String(c.pages).padStart(8)}${String(c.excluded).padStart(10)}${String(c.pages - c.excluded).padStart(9)}`),
    '',
    `contains: ${h.classes.filter((c) => c.pages > c.excluded).map((c) => c.name).join(', ') || 'nothing'}`,
    `excluded: ${h.classes.filter((c) => c.excluded > 0).map((c) => c.name).join(', ') || 'nothing'}`,
  ];
  return lines.join('\n');
}
