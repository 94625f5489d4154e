/**
 * The log-structured object store (the seed's "log-structured slab"): variable-size objects,
 * identified by number, appended to the log as new versions; an index in controller RAM finds each
 * object's live version; delete appends a tombstone; garbage collection (log-store.ts) copies a
 * victim's live records to the log's end and erases it.
 *
 * On the chip, a page holds whole records packed from offset 0 (the rest stays erased):
 *   record  24-byte header, then the payload, padded to 8 bytes (the unit valid counts count)
 *     u32 'OB' << 16 | flags (bit 0: tombstone)   u32 object id   u32, u32 version (low, high)
 *     u32 payload length   u32 CRC-32 of the header's first 20 bytes and the payload
 *   spare   u32 'KO' << 16 | 3 << 8 | stream   u32 records in the page   u32, u32 page sequence number
 * A version is the object's write number (global, increasing); GC copies keep it, and their page's
 * newer sequence number breaks the tie with the original at mount.
 *
 * Writes are buffered: a page is programmed when the next record does not fit, or on flush(). A put
 * or delete is acknowledged (durable) once its page is programmed: every version up to
 * durableVersion is. flush() pads the page (the padding counts in write amplification).
 *
 * GC copies a victim page by page; a page's live records go to the GC target whole (the buffer is
 * programmed first if they do not fit), so a victim never needs more target pages than it has pages
 * with live data (plus one partly filled page): the current frontier's rest and one new block; so
 * the store starts cleaning a victim only with a free block in hand (lowWatermark ≥ 2). Erasing a
 * victim must never take the last durable copy of an object whose newer version is still buffered
 * (a power cut would then lose both), so each GC episode first programs the host buffers. The GC
 * target's buffer is programmed before the victim is erased.
 *
 * Tombstones, crash recovery and versions follow the page store (ftl.ts): copiesOf[id] counts data
 * records of id on the chip; a live tombstone is copied while any remains, the victim's included.
 * Mount reads every page: the highest version per object wins (ties: the newer page); a winning
 * tombstone with no data record left is dropped; records in Corrupt pages are gone, and only
 * unacknowledged writes can have been in them.
 */
import { PageState } from '../machine/nand.ts';
import type { NandDevice } from '../machine/nand.ts';
import { crc32 } from '../util/crc32.ts';
import { InvariantError } from '../util/errors.ts';
import { BlockState } from './block-table.ts';
import { FlashConfigError, FlashMountError, ObjectIdError, ObjectSizeError } from './errors.ts';
import { LogStore, TWO_32, putSeq } from './log-store.ts';
import type { GcStats, LogStoreConfig } from './log-store.ts';

export interface ObjectStoreConfig extends LogStoreConfig {
  /** Object ids are 0 .. maxObjects-1. */
  maxObjects: number;
}

export interface ObjectStoreStats {
  maxObjects: number;
  liveObjects: number;
  liveBytes: number;
  puts: number;
  gets: number;
  deletes: number;
  flushes: number;
  /** Record bytes (headers included) the host's puts and deletes appended. */
  hostBytes: number;
  gcRecords: number;
  gcBytes: number;
  tombstonesDropped: number;
  /** Erased bytes left at the end of programmed pages. */
  paddingBytes: number;
  durableVersion: number;
  /** Bytes programmed / host record bytes, from the chip's program count. */
  writeAmplification: number;
  gc: GcStats;
}

const RECORD_HEADER_BYTES = 24;
const GRANULE = 8;
const RECORD_MAGIC = 0x4f42 << 16;
const MAGIC_MASK = 0xffff0000 | 0;
const FLAG_TOMBSTONE = 1;
const PAGE_TAG = (0x4b4f << 16) | (3 << 8);
const SPARE_BYTES = 16;
const NONE = -1;

function recordBytes(length: number): number {
  return Math.ceil((RECORD_HEADER_BYTES + length) / GRANULE) * GRANULE;
}

/** One record of a page, as parsePage() sees it. */
interface RecordView {
  offset: number;
  id: number;
  version: number;
  flags: number;
  length: number;
  size: number;
  /** The record's CRC-32 matches (always true when parsePage was told not to verify). */
  crcOk: boolean;
}

/** The records of a page's `count` records in `bytes` (at `base`), or a description of what is wrong.
 * With `verify`, each record's CRC-32 is computed (crcOk); without, crcOk is true. */
function parsePage(bytes: Uint8Array, base: number, pageBytes: number, count: number, verify: boolean): RecordView[] | string {
  const view = new DataView(bytes.buffer, bytes.byteOffset + base, pageBytes);
  const records: RecordView[] = [];
  let offset = 0;
  for (let k = 0; k < count; k++) {
    if (offset + RECORD_HEADER_BYTES > pageBytes) return `record ${k} at offset ${offset} runs past the page`;
    const word = view.getUint32(offset, true);
    if (((word & MAGIC_MASK) | 0) !== RECORD_MAGIC) return `record ${k} at offset ${offset} has no record magic`;
    const length = view.getUint32(offset + 16, true);
    const size = recordBytes(length);
    if (offset + size > pageBytes) return `record ${k} at offset ${offset} (${length} bytes) runs past the page`;
    let crcOk = true;
    if (verify) {
      const start = base + offset;
      crcOk = crc32(bytes, start + RECORD_HEADER_BYTES, start + RECORD_HEADER_BYTES + length, crc32(bytes, start, start + 20)) === view.getUint32(offset + 20, true);
    }
    records.push({
      offset,
      id: view.getUint32(offset + 4, true),
      version: view.getUint32(offset + 8, true) + view.getUint32(offset + 12, true) * TWO_32,
      flags: word & 0xffff,
      length,
      size,
      crcOk,
    });
    offset += size;
  }
  return records;
}

export class ObjectStore extends LogStore {
  readonly maxObjects: number;
  /** The largest payload: a record must fit a page. */
  readonly maxObjectBytes: number;
  private readonly pageBytes: number;
  private readonly locPage: Int32Array;
  private readonly locOffset: Int32Array;
  private readonly versionOf: Float64Array;
  private readonly lengthOf: Int32Array;
  private readonly tombstone: Uint8Array;
  private readonly copiesOf: Int32Array;
  private readonly buffers: Uint8Array[];
  /** A DataView over each stream's buffer. */
  private readonly bufferViews: DataView[];
  private readonly used: Int32Array;
  private readonly count: Int32Array;
  private readonly oldestBuffered: Float64Array;
  private readonly scratch: Uint8Array;
  private readonly bytesAtStart: number;
  /** The next object version. */
  private version = 1;
  private counters = { puts: 0, gets: 0, deletes: 0, flushes: 0, hostBytes: 0, gcRecords: 0, gcBytes: 0, tombstonesDropped: 0, paddingBytes: 0 };

  private constructor(device: NandDevice, config: ObjectStoreConfig) {
    if (!device.payloadStored) throw new FlashConfigError('the object store needs a chip that stores page data (storePayload)');
    if (device.pageBytes < 2 * RECORD_HEADER_BYTES || device.pageBytes % GRANULE !== 0) {
      throw new FlashConfigError(`page of ${device.pageBytes} bytes: the object store needs a multiple of ${GRANULE} of at least ${2 * RECORD_HEADER_BYTES}`);
    }
    if (device.spareBytes < SPARE_BYTES) throw new FlashConfigError(`the object store needs ${SPARE_BYTES} spare bytes per page; the chip has ${device.spareBytes}`);
    super(device, config, device.pagesPerBlock * (device.pageBytes / GRANULE), 2);
    const n = config.maxObjects;
    if (!Number.isInteger(n) || n < 1 || n > 1 << 24) throw new FlashConfigError(`maxObjects ${n}: expected an integer in [1, 2^24]`);
    this.maxObjects = n;
    this.pageBytes = device.pageBytes;
    this.maxObjectBytes = device.pageBytes - RECORD_HEADER_BYTES;
    this.locPage = new Int32Array(n).fill(NONE);
    this.locOffset = new Int32Array(n);
    this.versionOf = new Float64Array(n);
    this.lengthOf = new Int32Array(n);
    this.tombstone = new Uint8Array(n);
    this.copiesOf = new Int32Array(n);
    this.buffers = Array.from({ length: this.nrStreams }, () => new Uint8Array(device.pageBytes));
    this.bufferViews = this.buffers.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
    this.used = new Int32Array(this.nrStreams);
    this.count = new Int32Array(this.nrStreams);
    this.oldestBuffered = new Float64Array(this.nrStreams).fill(Infinity);
    this.scratch = new Uint8Array(device.pageBytes);
    this.bytesAtStart = (device.programs + device.copybacks) * device.pageBytes;
  }

  static format(device: NandDevice, config: ObjectStoreConfig): ObjectStore {
    const store = new ObjectStore(device, config);
    store.formatBlocks();
    return store;
  }

  static mount(device: NandDevice, config: ObjectStoreConfig): ObjectStore {
    const store = new ObjectStore(device, config);
    store.recover();
    return store;
  }

  /** Writes a new version of object `id`; returns the version (durable once ≤ durableVersion). */
  put(id: number, bytes: Uint8Array, temperature = 0): number {
    this.checkId(id, 'put');
    if (bytes.length > this.maxObjectBytes) throw new ObjectSizeError(id, bytes.length, this.maxObjectBytes);
    const version = this.append(this.streamOf(temperature), id, 0, bytes);
    this.counters.puts++;
    return version;
  }

  /** Deletes object `id` (appends a tombstone); returns the tombstone's version (durable once ≤
   * durableVersion). */
  delete(id: number, temperature = 0): number {
    this.checkId(id, 'delete');
    if (this.locPage[id] === NONE || this.tombstone[id] === 1) throw new ObjectIdError(id, 'delete of an object that does not exist: expected a live object');
    const version = this.append(this.streamOf(temperature), id, FLAG_TOMBSTONE, null);
    this.counters.deletes++;
    return version;
  }

  has(id: number): boolean {
    this.checkId(id, 'has');
    return this.locPage[id] !== NONE && this.tombstone[id] === 0;
  }

  /** The live version's bytes (a copy), or null when the object does not exist. */
  get(id: number): Uint8Array | null {
    if (!this.has(id)) return null;
    this.counters.gets++;
    const ppn = this.locPage[id] as number;
    const offset = this.locOffset[id] as number;
    const length = this.lengthOf[id] as number;
    const start = offset + RECORD_HEADER_BYTES;
    for (let s = 0; s < this.nrStreams; s++) {
      if ((this.count[s] as number) > 0 && this.bufferedPage(s) === ppn) return (this.buffers[s] as Uint8Array).slice(start, start + length);
    }
    const b = Math.floor(ppn / this.pagesPerBlock);
    const state = this.device.read(b, ppn - b * this.pagesPerBlock, start + length, 0);
    if (state !== PageState.Programmed) throw new InvariantError(`object ${id} lives in block ${b} page ${ppn - b * this.pagesPerBlock}, which reads ${state === PageState.Erased ? 'erased' : 'corrupt'}`);
    return this.device.register.data.slice(start, start + length);
  }

  /** Programs every buffered page: everything put or deleted so far becomes durable. */
  flush(): number {
    for (let s = 0; s < this.hostStreams; s++) this.programBuffer(s);
    this.counters.flushes++;
    return this.durableVersion;
  }

  /** Every version up to this one is on the chip. */
  get durableVersion(): number {
    let oldest = Infinity;
    for (let s = 0; s < this.nrStreams; s++) oldest = Math.min(oldest, this.oldestBuffered[s] as number);
    return (oldest === Infinity ? this.version : oldest) - 1;
  }

  stats(): ObjectStoreStats {
    let live = 0;
    let liveBytes = 0;
    for (let id = 0; id < this.maxObjects; id++) {
      if (this.locPage[id] !== NONE && this.tombstone[id] === 0) {
        live++;
        liveBytes += this.lengthOf[id] as number;
      }
    }
    const programmed = (this.device.programs + this.device.copybacks) * this.pageBytes - this.bytesAtStart;
    return {
      maxObjects: this.maxObjects,
      liveObjects: live,
      liveBytes,
      ...this.counters,
      durableVersion: this.durableVersion,
      writeAmplification: this.counters.hostBytes === 0 ? 0 : programmed / this.counters.hostBytes,
      gc: this.gcStats(),
    };
  }

  /**
   * Walks every page of every block in use (and the buffered pages): each record's checksum holds;
   * the index points at records that say what it says; valid units per block are the live records'
   * sizes; copiesOf matches the data records on the chip; frontiers sit at the write pointers.
   */
  validate(): void {
    const fail = (message: string): never => {
      throw new InvariantError(`object store: ${message}`);
    };
    this.table.validate();
    const ppb = this.pagesPerBlock;
    const device = this.device;
    const data = device.data as Uint8Array;
    const validUnits = new Int32Array(device.blocks);
    const copies = new Int32Array(this.maxObjects);
    const seen = new Uint8Array(this.maxObjects);
    const visit = (ppn: number, bytes: Uint8Array, base: number, count: number): void => {
      const records = parsePage(bytes, base, this.pageBytes, count, true);
      if (typeof records === 'string') fail(`page ${ppn}: ${records}`);
      for (const r of records as RecordView[]) {
        if (!r.crcOk) fail(`page ${ppn} offset ${r.offset}: record checksum mismatch`);
        if (r.id >= this.maxObjects) fail(`page ${ppn} offset ${r.offset}: object id ${r.id} out of range`);
        const tomb = (r.flags & FLAG_TOMBSTONE) !== 0;
        if (!tomb) copies[r.id]!++;
        if (this.locPage[r.id] === ppn && this.locOffset[r.id] === r.offset) {
          if (this.versionOf[r.id] !== r.version || this.lengthOf[r.id] !== r.length || (this.tombstone[r.id] === 1) !== tomb) fail(`object ${r.id}: the index disagrees with its record at page ${ppn}`);
          validUnits[Math.floor(ppn / ppb)]! += r.size / GRANULE;
          seen[r.id] = 1;
        }
      }
    };
    for (let b = 0; b < device.blocks; b++) {
      const state = this.table.state[b] as number;
      if (state === BlockState.Free || state === BlockState.Bad) continue;
      for (let p = 0; p < ppb; p++) {
        const ppn = b * ppb + p;
        if (device.pageStates[ppn] !== PageState.Programmed) continue;
        const w = ppn * (device.spareBytes / 4);
        if (((device.spareWords[w] as number) & MAGIC_MASK) !== (PAGE_TAG & MAGIC_MASK)) fail(`page ${ppn} is not an object page`);
        visit(ppn, data, ppn * this.pageBytes, device.spareWords[w + 1] as number);
      }
    }
    this.validateFrontiers(fail);
    for (let s = 0; s < this.nrStreams; s++) {
      if (this.frontier[s] === NONE) {
        if (this.count[s] !== 0) fail(`stream ${s} buffers records but has no frontier`);
        continue;
      }
      if ((this.count[s] as number) > 0) visit(this.bufferedPage(s), this.buffers[s] as Uint8Array, 0, this.count[s] as number);
    }
    for (let id = 0; id < this.maxObjects; id++) {
      if (copies[id] !== this.copiesOf[id]) fail(`object ${id}: ${copies[id]} data records on the chip, copiesOf says ${this.copiesOf[id]}`);
      if (this.locPage[id] !== NONE && seen[id] !== 1) fail(`object ${id}: the index points at page ${this.locPage[id]} offset ${this.locOffset[id]}, where no such record is`);
    }
    for (let b = 0; b < device.blocks; b++) {
      if (validUnits[b] !== this.table.valid[b]) fail(`block ${b}: ${validUnits[b]} live units, the table says ${this.table.valid[b]}`);
    }
    device.validate();
  }

  /** Room is counted in free blocks: a victim may need the frontier's rest and one new block. */
  protected roomUnits(): number {
    return 0;
  }

  /** Programs the host streams' buffers before GC erases anything (see LogStore). */
  protected override prepareCollection(): void {
    for (let s = 0; s < this.hostStreams; s++) this.programBuffer(s);
  }

  /** Copies a victim's live records page by page (a page's live records stay together, see above).
   * A live tombstone goes along while any data record of its object remains on the chip, the victim's
   * stale ones included (copiesOf drops them only after the victim is copied); otherwise it is
   * dropped. */
  protected cleanBlock(victim: number, target: number): void {
    const ppb = this.pagesPerBlock;
    const device = this.device;
    const stale: number[] = [];
    const live: RecordView[] = [];
    const register = device.register.data;
    for (let p = 0; p < ppb; p++) {
      if (device.read(victim, p, this.pageBytes, SPARE_BYTES) !== PageState.Programmed) continue;
      const ppn = victim * ppb + p;
      // The index, not the checksum, says which records are live (validate and mount check it).
      const records = parsePage(register, 0, this.pageBytes, device.register.spareWords[1] as number, false);
      if (typeof records === 'string') throw new InvariantError(`GC of block ${victim} page ${p}: ${records}`);
      live.length = 0;
      let liveBytes = 0;
      for (const r of records) {
        if (this.locPage[r.id] !== ppn || this.locOffset[r.id] !== r.offset) {
          if ((r.flags & FLAG_TOMBSTONE) === 0) stale.push(r.id);
        } else if ((r.flags & FLAG_TOMBSTONE) !== 0 && this.copiesOf[r.id] === 0) {
          this.locPage[r.id] = NONE;
          this.tombstone[r.id] = 0;
          this.table.invalidateUnits(victim, r.size / GRANULE);
          this.counters.tombstonesDropped++;
        } else {
          live.push(r);
          liveBytes += r.size;
        }
      }
      if (live.length === 0) continue;
      // Programming the target's buffer goes through the register: keep the page's bytes first.
      this.scratch.set(register);
      if ((this.used[target] as number) + liveBytes > this.pageBytes) this.programBuffer(target);
      for (const r of live) this.copyRecord(target, victim, r, this.scratch);
    }
    for (const id of stale) this.copiesOf[id]!--;
    this.programBuffer(target);
  }

  private checkId(id: number, operation: string): void {
    if (id >>> 0 !== id || id >= this.maxObjects) throw new ObjectIdError(id, `${operation}: expected an id in [0, ${this.maxObjects})`);
  }

  /** The page a stream's buffer will be programmed to. */
  private bufferedPage(stream: number): number {
    return (this.frontier[stream] as number) * this.pagesPerBlock + (this.fill[stream] as number);
  }

  /** Room for `size` bytes in a stream's buffer (programming it first if they do not fit). */
  private makeRoom(stream: number, size: number): void {
    if ((this.used[stream] as number) + size > this.pageBytes) this.programBuffer(stream);
    this.ensureFrontier(stream);
  }

  /** Appends a new record (a host put or delete) and makes it the object's live version. */
  private append(stream: number, id: number, flags: number, payload: Uint8Array | null): number {
    const length = payload === null ? 0 : payload.length;
    const size = recordBytes(length);
    this.makeRoom(stream, size);
    const version = this.version++;
    const buffer = this.buffers[stream] as Uint8Array;
    const offset = this.used[stream] as number;
    const view = this.bufferViews[stream] as DataView;
    view.setUint32(offset, (RECORD_MAGIC | flags) >>> 0, true);
    view.setUint32(offset + 4, id, true);
    view.setUint32(offset + 8, version >>> 0, true);
    view.setUint32(offset + 12, Math.floor(version / TWO_32), true);
    view.setUint32(offset + 16, length, true);
    if (payload !== null) buffer.set(payload, offset + RECORD_HEADER_BYTES);
    buffer.fill(0, offset + RECORD_HEADER_BYTES + length, offset + size);
    view.setUint32(offset + 20, crc32(buffer, offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length, crc32(buffer, offset, offset + 20)), true);
    this.retire(id);
    this.place(stream, id, version, flags, length, size);
    if (flags === 0) this.copiesOf[id]!++;
    if (version < (this.oldestBuffered[stream] as number)) this.oldestBuffered[stream] = version;
    this.counters.hostBytes += size;
    if (this.trackYoungest) this.table.youngest[this.frontier[stream] as number] = this.seq;
    if (this.trackMtime) this.table.addMtime(this.frontier[stream] as number, this.seq, size / GRANULE);
    return version;
  }

  /** Copies a live record from `source` (a victim page's bytes) into a stream's buffer. */
  private copyRecord(stream: number, victim: number, r: RecordView, source: Uint8Array): void {
    this.makeRoom(stream, r.size);
    const buffer = this.buffers[stream] as Uint8Array;
    buffer.set(source.subarray(r.offset, r.offset + r.size), this.used[stream] as number);
    const units = r.size / GRANULE;
    this.table.valid[victim]! -= units;
    this.place(stream, r.id, r.version, r.flags, r.length, r.size);
    this.counters.gcRecords++;
    this.counters.gcBytes += r.size;
    if (this.trackMtime) this.table.addMtime(this.frontier[stream] as number, this.seq, units);
    if (this.trackYoungest && (this.table.youngest[victim] as number) > (this.table.youngest[this.frontier[stream] as number] as number)) {
      this.table.youngest[this.frontier[stream] as number] = this.table.youngest[victim] as number;
    }
  }

  /** The object's current record stops being live: a host put or delete replaced it (F2FS moves the
   * old block's mtime towards now; GC does not come here). */
  private retire(id: number): void {
    const ppn = this.locPage[id] as number;
    if (ppn === NONE) return;
    const b = Math.floor(ppn / this.pagesPerBlock);
    const units = recordBytes(this.lengthOf[id] as number) / GRANULE;
    if (this.trackMtime) this.table.touchMtime(b, this.seq, units);
    this.table.invalidateUnits(b, units);
  }

  /** The record just written at the end of a stream's buffer is the object's live version. */
  private place(stream: number, id: number, version: number, flags: number, length: number, size: number): void {
    const b = this.frontier[stream] as number;
    this.locPage[id] = this.bufferedPage(stream);
    this.locOffset[id] = this.used[stream] as number;
    this.versionOf[id] = version;
    this.lengthOf[id] = length;
    this.tombstone[id] = flags & FLAG_TOMBSTONE;
    this.used[stream]! += size;
    this.count[stream]!++;
    this.table.valid[b]! += size / GRANULE;
  }

  /** Programs a stream's buffered page (if it holds records) and moves to the next page. */
  private programBuffer(stream: number): void {
    const n = this.count[stream] as number;
    if (n === 0) return;
    const b = this.frontier[stream] as number;
    const p = this.fill[stream] as number;
    const used = this.used[stream] as number;
    const reg = this.device.register;
    reg.data.set((this.buffers[stream] as Uint8Array).subarray(0, used));
    const spare = reg.spareWords;
    spare[0] = PAGE_TAG | stream;
    spare[1] = n;
    putSeq(spare, 2, this.seq);
    this.device.program(b, p, used, SPARE_BYTES);
    this.seq++;
    this.counters.paddingBytes += this.pageBytes - used;
    this.used[stream] = 0;
    this.count[stream] = 0;
    this.oldestBuffered[stream] = Infinity;
    this.advanceFrontier(stream, p);
  }

  private recover(): void {
    const device = this.device;
    const ppb = this.pagesPerBlock;
    const n = this.maxObjects;
    const bestPageSeq = new Float64Array(n).fill(-1);
    let newestVersion = 0;
    this.mountChip({
      dataBytes: this.pageBytes,
      spareBytes: SPARE_BYTES,
      pageKind: 'an object-store page',
      ownTag: (tag) => ((tag & MAGIC_MASK) | 0) === ((PAGE_TAG & MAGIC_MASK) | 0),
      visit: (b, p, seq) => {
        const records = parsePage(device.register.data, 0, this.pageBytes, device.register.spareWords[1] as number, true);
        if (typeof records === 'string') throw new FlashMountError(b, p, records);
        const ppn = b * ppb + p;
        for (const r of records) {
          if (!r.crcOk) throw new FlashMountError(b, p, `record at offset ${r.offset}: checksum mismatch in a page ECC reads as clean`);
          if (r.id >= n) throw new FlashMountError(b, p, `object id ${r.id} is outside this store's ${n} (mount with the maxObjects it was formatted with)`);
          const tomb = (r.flags & FLAG_TOMBSTONE) !== 0;
          if (!tomb) this.copiesOf[r.id]!++;
          if (r.version > newestVersion) newestVersion = r.version;
          const better = this.locPage[r.id] === NONE || r.version > (this.versionOf[r.id] as number) || (r.version === this.versionOf[r.id] && seq > (bestPageSeq[r.id] as number));
          if (better) {
            this.locPage[r.id] = ppn;
            this.locOffset[r.id] = r.offset;
            this.versionOf[r.id] = r.version;
            this.lengthOf[r.id] = r.length;
            this.tombstone[r.id] = tomb ? 1 : 0;
            bestPageSeq[r.id] = seq;
          }
        }
      },
      settle: () => {
        for (let id = 0; id < n; id++) {
          const ppn = this.locPage[id] as number;
          if (ppn === NONE) continue;
          if (this.tombstone[id] === 1 && this.copiesOf[id] === 0) {
            this.locPage[id] = NONE;
            this.tombstone[id] = 0;
            continue;
          }
          const b = Math.floor(ppn / ppb);
          const units = recordBytes(this.lengthOf[id] as number) / GRANULE;
          this.table.valid[b]! += units;
          const pageSeq = bestPageSeq[id] as number;
          if (pageSeq > (this.table.youngest[b] as number)) this.table.youngest[b] = pageSeq;
          if (this.trackMtime) this.table.addMtime(b, pageSeq, units);
        }
        this.version = newestVersion + 1;
      },
    });
  }
}
