/**
 * A swap device in a file (Node only; exported from kmem/node), like a Linux swap file: slot n at
 * byte n × 4096, read and written with positioned I/O (pread / pwrite), slot 0 the mkswap header.
 *
 *   const backing = FileBacking.create('/tmp/swapfile', 1024);  // 4 MiB, made (or truncated) now
 *   swapon(kernel.vm, backing);
 *   ...
 *   backing.close();
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { ArgumentError } from '../../util/errors.ts';
import { PAGE_SIZE } from '../types.ts';
import type { SwapBacking } from './backing.ts';

export class FileBacking implements SwapBacking {
  private fd: number;

  private constructor(
    readonly path: string,
    fd: number,
    readonly slots: number,
  ) {
    this.fd = fd;
  }

  /** A new swap file of `slots` slots at path (an existing file is truncated). */
  static create(path: string, slots: number): FileBacking {
    if (!Number.isInteger(slots) || slots < 2) throw new ArgumentError(`swap file of ${slots} slots: expected an integer ≥ 2 (the header and one slot)`);
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, slots * PAGE_SIZE);
    return new FileBacking(path, fd, slots);
  }

  /** An existing swap file (its size decides the slots), e.g. for a worker that attaches the same device. */
  static open(path: string): FileBacking {
    const fd = openSync(path, 'r+');
    const size = fstatSync(fd).size;
    if (size % PAGE_SIZE !== 0 || size < 2 * PAGE_SIZE) {
      closeSync(fd);
      throw new ArgumentError(`swap file ${path} of ${size} bytes: expected a multiple of ${PAGE_SIZE}, at least two pages`);
    }
    return new FileBacking(path, fd, size / PAGE_SIZE);
  }

  writeSlot(slot: number, src: Uint8Array): void {
    const n = writeSync(this.fd, src, 0, PAGE_SIZE, slot * PAGE_SIZE);
    if (n !== PAGE_SIZE) throw new ArgumentError(`swap file ${this.path}: wrote ${n} of ${PAGE_SIZE} bytes of slot ${slot}`);
  }

  readSlot(slot: number, dst: Uint8Array): void {
    const n = readSync(this.fd, dst, 0, PAGE_SIZE, slot * PAGE_SIZE);
    if (n !== PAGE_SIZE) throw new ArgumentError(`swap file ${this.path}: read ${n} of ${PAGE_SIZE} bytes of slot ${slot}`);
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(this.slots * PAGE_SIZE);
    for (let done = 0; done < out.length; ) {
      const n = readSync(this.fd, out, done, out.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
