/**
 * Where a swap device's slots are kept: the host side of a block device (Linux's swap file or
 * partition, reached through swap_writepage / swap_read_folio in mm/page_io.c). A backing reads and
 * writes whole 4 KiB slots at a byte offset of slot × 4096; slot 0 is the mkswap header.
 *
 * BufferBacking keeps the slots in a host ArrayBuffer or SharedArrayBuffer (a SharedArrayBuffer lets
 * every worker attach the same device); FileBacking (file.ts, Node only) keeps them in a file.
 */
import { ArgumentError } from '../../util/errors.ts';
import { PAGE_SIZE } from '../types.ts';

export interface SwapBacking {
  /** Slots it holds, the header included. */
  readonly slots: number;
  /** Writes one slot from `src` (PAGE_SIZE bytes). May throw (an I/O error). */
  writeSlot(slot: number, src: Uint8Array): void;
  /** Reads one slot into `dst` (PAGE_SIZE bytes). May throw. */
  readSlot(slot: number, dst: Uint8Array): void;
  /** Every byte of the device, for the secrets search (a file is read whole). */
  snapshot(): Uint8Array;
}

export class BufferBacking implements SwapBacking {
  readonly slots: number;
  readonly bytes: Uint8Array;

  constructor(readonly buffer: ArrayBuffer | SharedArrayBuffer) {
    if (buffer.byteLength % PAGE_SIZE !== 0 || buffer.byteLength < 2 * PAGE_SIZE) {
      throw new ArgumentError(`swap buffer of ${buffer.byteLength} bytes: expected a multiple of ${PAGE_SIZE}, at least two pages (the header and one slot)`);
    }
    this.slots = buffer.byteLength / PAGE_SIZE;
    this.bytes = new Uint8Array(buffer);
  }

  /** A device of `slots` slots over a new ArrayBuffer (shared: a SharedArrayBuffer). */
  static create(slots: number, shared = false): BufferBacking {
    const bytes = slots * PAGE_SIZE;
    return new BufferBacking(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  }

  writeSlot(slot: number, src: Uint8Array): void {
    this.bytes.set(src.subarray(0, PAGE_SIZE), slot * PAGE_SIZE);
  }

  readSlot(slot: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(slot * PAGE_SIZE, (slot + 1) * PAGE_SIZE));
  }

  snapshot(): Uint8Array {
    return this.bytes.slice();
  }
}
