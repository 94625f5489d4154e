/**
 * Reading block traces, and replaying them on a page store. A TraceReader streams a trace file (or
 * text) line by line, in chunks, so traces larger than memory replay; a malformed line is a
 * TraceFormatError naming the file, the line number and what was expected.
 *
 * TraceWorkload turns requests into page operations: a request covers the pages
 * [⌊offset / P⌋, ⌈(offset + size) / P⌉) of page size P, and each goes to a logical page of the store
 * by one of two named mappings:
 *   compact  pages are numbered in the order the trace writes them first (the trace's working set
 *            packed into the store); a trace writing more pages than the store has is an error
 *            (TraceCapacityError). A read or TRIM of a page the trace never wrote is skipped: it has
 *            no logical page, and nothing to read or discard (mkfs and fstrim discard whole devices)
 *   modulo   (device page + device · 1000003) mod L: every trace fits, distinct pages may collide; a
 *            TRIM of more than L pages discards each logical page once
 * A read or write of more pages than the store's L is a TraceFormatError naming the file and line.
 */
import { ArgumentError, KmemError } from '../../util/errors.ts';
import { TraceFormatError, textLines } from '../../util/lines.ts';
import type { LineSource } from '../../util/lines.ts';
import { OpKind } from '../workload.ts';
import type { OpBatch, Workload } from '../workload.ts';
import { TRACE_FORMATS, parseBlkparseLine, parseDisksimLine, parseMsrLine, parseSpcLine } from './formats.ts';
import type { LineParse, TraceFormat, TraceRecord } from './formats.ts';

export { TraceFormatError };

/** More distinct pages than the store holds (compact mapping). */
export class TraceCapacityError extends KmemError {
  override name = 'TraceCapacityError';
}

export class TraceReader {
  /** Lines read so far. */
  lineNumber = 0;
  records = 0;
  private readonly parse: (line: string) => LineParse;

  private constructor(
    private readonly source: LineSource,
    readonly format: TraceFormat,
    readonly name: string,
  ) {
    if (!TRACE_FORMATS.includes(format)) throw new ArgumentError(`trace format '${format}': expected one of ${TRACE_FORMATS.join(', ')}`);
    const blk = { inSummary: false };
    this.parse =
      format === 'msr' ? parseMsrLine : format === 'spc' ? parseSpcLine : format === 'disksim' ? parseDisksimLine : (line: string) => parseBlkparseLine(line, blk);
  }

  /** A reader over any line source (a file: openTraceFile in trace-file.ts, for Node). */
  static over(source: LineSource, format: TraceFormat, name: string): TraceReader {
    return new TraceReader(source, format, name);
  }

  static fromText(text: string, format: TraceFormat, name = '<text>'): TraceReader {
    return new TraceReader(textLines(text), format, name);
  }

  /** The next request, or null at the end of the trace. */
  next(): TraceRecord | null {
    for (;;) {
      const line = this.source.next();
      if (line === null) {
        this.source.close();
        return null;
      }
      this.lineNumber++;
      const parsed = this.parse(line);
      if (parsed === null) continue;
      if (typeof parsed === 'string') {
        this.source.close();
        throw new TraceFormatError(this.name, this.lineNumber, parsed);
      }
      this.records++;
      return parsed;
    }
  }

  close(): void {
    this.source.close();
  }

  /** Every request of the trace. */
  readAll(): TraceRecord[] {
    const out: TraceRecord[] = [];
    for (let r = this.next(); r !== null; r = this.next()) out.push(r);
    return out;
  }
}

export type TraceMapping = 'compact' | 'modulo';

export interface TraceWorkloadOptions {
  logicalPages: number;
  pageBytes: number;
  mapping?: TraceMapping;
}

const DEVICE_STRIDE = 1000003;

/** A trace replayed as page operations. Reads stay reads; TRIMs (blkparse discards) stay TRIMs. */
export class TraceWorkload implements Workload {
  readonly name: string;
  /** Pages of reads and TRIMs skipped because the trace never wrote them (compact mapping). */
  skippedPages = 0;
  private readonly logicalPages: number;
  private readonly pageBytes: number;
  private readonly mapping: TraceMapping;
  /** compact: per device, trace page → logical page. */
  private readonly compact = new Map<number, Map<number, number>>();
  private distinct = 0;
  private current: TraceRecord | null = null;
  private kind: OpKind = OpKind.Write;
  private pages: Map<number, number> | null = null;
  private nextPage = 0;
  private endPage = 0;
  /** The logical pages of a compact TRIM or read larger than the pages written so far, gathered from
   * the map instead of walking the whole range. */
  private listed: number[] = [];
  private listedNext = 0;

  constructor(
    private readonly reader: TraceReader,
    options: TraceWorkloadOptions,
  ) {
    this.logicalPages = options.logicalPages;
    this.pageBytes = options.pageBytes;
    this.mapping = options.mapping ?? 'compact';
    if (this.mapping !== 'compact' && this.mapping !== 'modulo') throw new ArgumentError(`trace mapping '${String(this.mapping)}': expected compact or modulo`);
    this.name = `trace ${reader.name} (${reader.format})`;
  }

  /** Distinct trace pages written so far (compact mapping). */
  get distinctPages(): number {
    return this.distinct;
  }

  next(batch: OpBatch): number {
    batch.count = 0;
    while (!batch.full) {
      if (this.listedNext < this.listed.length) {
        batch.push(this.kind, this.listed[this.listedNext++] as number, 0);
        continue;
      }
      if (this.current === null || this.nextPage >= this.endPage) {
        const record = this.reader.next();
        if (record === null) break;
        this.start(record);
        continue;
      }
      const page = this.nextPage++;
      if (this.mapping === 'modulo') {
        batch.push(this.kind, (page + this.current.device * DEVICE_STRIDE) % this.logicalPages, 0);
        continue;
      }
      let lpn = this.pages?.get(page);
      if (lpn === undefined) {
        if (this.kind !== OpKind.Write) {
          this.skippedPages++;
          continue;
        }
        lpn = this.assign(page);
      }
      batch.push(this.kind, lpn, 0);
    }
    return batch.count;
  }

  /** Starts replaying a request: its page range, checked against the store. */
  private start(record: TraceRecord): void {
    this.current = record;
    this.kind = record.op === 'write' ? OpKind.Write : record.op === 'read' ? OpKind.Read : OpKind.Trim;
    this.nextPage = Math.floor(record.offsetBytes / this.pageBytes);
    this.endPage = Math.ceil((record.offsetBytes + record.sizeBytes) / this.pageBytes);
    const count = this.endPage - this.nextPage;
    if (record.op !== 'trim' && count > this.logicalPages) {
      throw new TraceFormatError(this.reader.name, this.reader.lineNumber, `a ${record.op} of ${record.sizeBytes} bytes covers ${count} pages: expected at most the store's ${this.logicalPages} logical pages`);
    }
    if (this.mapping === 'modulo') {
      if (count > this.logicalPages) this.endPage = this.nextPage + this.logicalPages;
      return;
    }
    this.pages = this.compact.get(record.device) ?? null;
    if (this.pages === null && this.kind === OpKind.Write) {
      this.pages = new Map();
      this.compact.set(record.device, this.pages);
    }
    if (this.kind !== OpKind.Write && count > (this.pages?.size ?? 0)) {
      // Fewer pages written on this device than the request covers: take them from the map.
      this.listed = [];
      this.listedNext = 0;
      for (const [page, lpn] of this.pages ?? []) if (page >= this.nextPage && page < this.endPage) this.listed.push(lpn);
      this.skippedPages += count - this.listed.length;
      this.nextPage = this.endPage;
    }
  }

  private assign(page: number): number {
    const lpn = this.distinct;
    if (lpn >= this.logicalPages) {
      throw new TraceCapacityError(`${this.reader.name}:${this.reader.lineNumber}: the trace writes more than the store's ${this.logicalPages} logical pages; use a larger store or the modulo mapping`);
    }
    (this.pages as Map<number, number>).set(page, lpn);
    this.distinct++;
    return lpn;
  }
}
