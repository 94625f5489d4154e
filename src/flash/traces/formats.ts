/**
 * Block-trace line formats. Each parser takes one line and returns a TraceRecord, null for a line
 * that is well formed but carries no request to replay, or a string saying what is wrong (the reader
 * turns it into a TraceFormatError naming the file and line).
 *
 *   msr       MSR Cambridge (SNIA IOTTA; Narayanan et al., "Write Off-Loading", FAST 2008), CSV
 *             without header: Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime.
 *             Timestamp in Windows filetime (100 ns ticks since 1601, at or after 1970; read as
 *             microseconds since 1970, which a double holds exactly); Hostname not empty; Type Read
 *             or Write; Offset and Size in bytes; ResponseTime in 100 ns ticks.
 *   spc       SPC / UMass (Financial, WebSearch; SPC trace format spec 1.0.1), CSV:
 *             ASU,LBA,Size,Opcode,Timestamp[,…]. LBA in 512-byte blocks within the ASU; Size in
 *             bytes; Opcode r/R or w/W; Timestamp in seconds from the start.
 *   blkparse  blktrace's blkparse default text output (blkparse_fmt.c): "maj,min cpu seq sec.nsec pid
 *             action RWBS sector + nsectors [process]", the time with exactly 9 digits of nanoseconds.
 *             Only D (issued to the driver) events are replayed; RWBS's first letter after an
 *             optional F (preflush) says W write, R read, D discard (a TRIM), N no data (skipped).
 *             Other actions are skipped. The summary blkparse prints after its events (blkparse.c:
 *             "CPUn (dev):" and "Total (dev):" headers, indented "Name: value" statistics,
 *             "Throughput (R/W):", "Events (dev):", "Skips:") is skipped line by line; events after a
 *             summary (blkparse outputs joined one after another) are replayed; any other line is an
 *             error. Devices are numbered maj·2^20 + min (Linux's 12-bit major, 20-bit minor).
 *   disksim   DiskSim 4.0 ASCII input (disksim_iotrace.c reads "%lf %d %d %d %x"): arrival time (ms),
 *             device, block (512 bytes), block count, flags (hex; bit 0 set = read).
 * Blank lines and lines starting with '#' are skipped in every format.
 */

export type TraceOp = 'read' | 'write' | 'trim';

export interface TraceRecord {
  /** Issue time in microseconds (from the trace's own origin). */
  timeUs: number;
  op: TraceOp;
  /** The trace's device (disk number, ASU, maj:min as maj·2^20 + min, DiskSim device). */
  device: number;
  offsetBytes: number;
  sizeBytes: number;
}

export type TraceFormat = 'msr' | 'spc' | 'blkparse' | 'disksim';
export const TRACE_FORMATS: readonly TraceFormat[] = ['msr', 'spc', 'blkparse', 'disksim'];

export type LineParse = TraceRecord | null | string;

const SECTOR_BYTES = 512;
/** Windows filetime ticks per microsecond, and the ticks from 1601-01-01 to 1970-01-01. */
const TICKS_PER_US = 10n;
const FILETIME_UNIX_EPOCH = 116444736000000000n;

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?([eE][+-]?\d+)?$/;

function integer(text: string | undefined): number | null {
  if (text === undefined || !INTEGER.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

function decimal(text: string | undefined): number | null {
  return text !== undefined && DECIMAL.test(text) ? Number(text) : null;
}

function skippable(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

export function parseMsrLine(line: string): LineParse {
  if (skippable(line)) return null;
  const f = line.trim().split(',');
  if (f.length !== 7) return `expected 7 comma-separated fields (Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime), got ${f.length}`;
  const ticks = f[0] !== undefined && INTEGER.test(f[0]) ? BigInt(f[0]) : null;
  const disk = integer(f[2]);
  const offset = integer(f[4]);
  const size = integer(f[5]);
  if (ticks === null) return `Timestamp '${f[0]}': expected a whole number of 100 ns ticks`;
  if (ticks < FILETIME_UNIX_EPOCH) return `Timestamp '${f[0]}': expected Windows filetime ticks at or after 1970 (≥ ${FILETIME_UNIX_EPOCH})`;
  if ((f[1] ?? '').trim() === '') return 'Hostname is empty: expected the traced server\'s name';
  if (disk === null) return `DiskNumber '${f[2]}': expected a whole number`;
  const type = f[3]?.toLowerCase();
  if (type !== 'read' && type !== 'write') return `Type '${f[3]}': expected Read or Write`;
  if (offset === null) return `Offset '${f[4]}': expected a whole number of bytes`;
  if (size === null) return `Size '${f[5]}': expected a whole number of bytes`;
  if (integer(f[6]) === null) return `ResponseTime '${f[6]}': expected a whole number of 100 ns ticks`;
  if (offset + size > Number.MAX_SAFE_INTEGER) return `Offset ${offset} and Size ${size}: expected a request within 2^53 bytes`;
  return { timeUs: Number((ticks - FILETIME_UNIX_EPOCH) / TICKS_PER_US), op: type, device: disk, offsetBytes: offset, sizeBytes: size };
}

export function parseSpcLine(line: string): LineParse {
  if (skippable(line)) return null;
  const f = line.trim().split(',').map((s) => s.trim());
  if (f.length < 5) return `expected at least 5 comma-separated fields (ASU,LBA,Size,Opcode,Timestamp), got ${f.length}`;
  const asu = integer(f[0]);
  const lba = integer(f[1]);
  const size = integer(f[2]);
  const time = decimal(f[4]);
  if (asu === null) return `ASU '${f[0]}': expected a whole number`;
  if (lba === null) return `LBA '${f[1]}': expected a whole number of 512-byte blocks`;
  if (size === null) return `Size '${f[2]}': expected a whole number of bytes`;
  const opcode = f[3]?.toLowerCase();
  if (opcode !== 'r' && opcode !== 'w') return `Opcode '${f[3]}': expected r, R, w or W`;
  if (time === null) return `Timestamp '${f[4]}': expected seconds (a non-negative number)`;
  if ((lba + size) * SECTOR_BYTES > Number.MAX_SAFE_INTEGER) return `LBA ${lba} and Size ${size}: expected a request within 2^53 bytes`;
  return { timeUs: time * 1e6, op: opcode === 'r' ? 'read' : 'write', device: asu, offsetBytes: lba * SECTOR_BYTES, sizeBytes: size };
}

const BLK_EVENT = /^\s*(\d+),(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\.(\d+)\s+(\d+)\s+([A-Za-z]+)\s+([A-Z]+)\s*(.*)$/;
const BLK_EXTENT = /^(\d+)\s*\+\s*(\d+)\b/;
/** The lines of blkparse's summary (blkparse.c: show_device_and_cpu_stats, dump_io_stats). */
const BLK_SUMMARY_HEADER = /^(CPU\d+|Total)\s*\([^)]*\):\s*$/;
const BLK_SUMMARY_LINE = [/^\s+[A-Za-z][A-Za-z ]*:/, /^Throughput \(R\/W\):/, /^Events \([^)]*\):/, /^Skips:/];
const MINOR_BITS = 20;

/** blkparse is stateful only in that a summary may follow the events: the reader passes what it saw. */
export function parseBlkparseLine(line: string, state: { inSummary: boolean }): LineParse {
  if (skippable(line)) return null;
  const m = BLK_EVENT.exec(line);
  if (m === null) {
    if (BLK_SUMMARY_HEADER.test(line)) {
      state.inSummary = true;
      return null;
    }
    if (state.inSummary && BLK_SUMMARY_LINE.some((r) => r.test(line))) return null;
    return state.inSummary
      ? 'expected a blkparse summary line ("Name: value", "Throughput (R/W):", "Events (dev):", "Skips:") or an event'
      : 'expected a blkparse event: "maj,min cpu sequence sec.nsec pid action RWBS …" (or a summary: "CPUn (dev):", "Total (dev):")';
  }
  state.inSummary = false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major >= 1 << 12 || minor >= 1 << MINOR_BITS) return `device ${m[1]},${m[2]}: expected a major below 4096 and a minor below 2^20`;
  if ((m[6] as string).length !== 9) return `time ${m[5]}.${m[6]}: expected seconds and exactly 9 digits of nanoseconds`;
  const action = m[8] as string;
  if (action !== 'D') return null;
  const rwbs = m[9] as string;
  const kind = rwbs.startsWith('F') ? rwbs[1] : rwbs[0];
  if (kind === 'N' || kind === undefined) return null;
  if (kind !== 'W' && kind !== 'R' && kind !== 'D') return `RWBS '${rwbs}': expected W, R, D or N (after an optional F)`;
  const extent = BLK_EXTENT.exec((m[10] as string).trim());
  if (extent === null) return `a ${rwbs} issue event: expected "sector + nsectors" after the RWBS field`;
  const sector = integer(extent[1]);
  const sectors = integer(extent[2]);
  if (sector === null || sectors === null || (sector + sectors) * SECTOR_BYTES > Number.MAX_SAFE_INTEGER) return `extent ${extent[1]} + ${extent[2]}: expected sectors within 2^53 bytes`;
  return {
    timeUs: Number(m[5]) * 1e6 + Number(m[6]) / 1000,
    op: kind === 'W' ? 'write' : kind === 'R' ? 'read' : 'trim',
    device: major * 2 ** MINOR_BITS + minor,
    offsetBytes: sector * SECTOR_BYTES,
    sizeBytes: sectors * SECTOR_BYTES,
  };
}

export function parseDisksimLine(line: string): LineParse {
  if (skippable(line)) return null;
  const f = line.trim().split(/\s+/);
  if (f.length !== 5) return `expected 5 whitespace-separated fields (time device block count flags), got ${f.length}`;
  const time = decimal(f[0]);
  const device = integer(f[1]);
  const block = integer(f[2]);
  const count = integer(f[3]);
  const flagText = f[4] as string;
  if (time === null) return `time '${f[0]}': expected milliseconds (a non-negative number)`;
  if (device === null) return `device '${f[1]}': expected a whole number`;
  if (block === null) return `block '${f[2]}': expected a whole number of 512-byte blocks`;
  if (count === null) return `count '${f[3]}': expected a whole number of blocks`;
  if (!/^(0[xX])?[0-9a-fA-F]+$/.test(flagText)) return `flags '${flagText}': expected a hexadecimal number`;
  if ((block + count) * SECTOR_BYTES > Number.MAX_SAFE_INTEGER) return `block ${block} and count ${count}: expected a request within 2^53 bytes`;
  const flags = parseInt(flagText, 16);
  return { timeUs: time * 1000, op: (flags & 1) === 1 ? 'read' : 'write', device, offsetBytes: block * SECTOR_BYTES, sizeBytes: count * SECTOR_BYTES };
}
