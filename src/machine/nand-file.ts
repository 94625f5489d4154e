/**
 * A NAND chip persisted in a file: the file holds exactly the device's image (nand.ts: header, erase
 * counts, bad-block flags, page states, spare areas, page data), and every program, copy-back and
 * erase writes the byte ranges it changed at the same offsets before it returns. So between
 * operations the file is what the chip's cells hold: after a power cut (armPowerCut) the file is the
 * torn image, and NandImageFile.open() mounts it as a powered-on chip.
 *
 * Writes use pwrite; they survive the process (the operating system's page cache). With `sync: true`
 * each one is followed by fdatasync, so they survive the host losing power too (much slower). One
 * operation takes several writes; if the host process dies between two of them, the order the chip
 * writes them in (nand.ts) leaves an image that still mounts: a page that says Erased over bytes that
 * are not (a program that stopped before its state byte, or an erase after its states) is reset to
 * 0xFF when the file is opened, so the program did nothing or the erase finished.
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { NandDevice } from './nand.ts';
import type { NandOptions, NandSink } from './nand.ts';
import type { NandTiming, NandTimingName } from './nand-timing.ts';

export interface NandFileOptions {
  timing?: NandTimingName | NandTiming;
  /** fdatasync after every write (default false). */
  sync?: boolean;
}

class FileSink implements NandSink {
  private fd: number | null;

  constructor(
    path: string,
    private readonly bytes: Uint8Array,
    private readonly sync: boolean,
  ) {
    this.fd = openSync(path, 'r+');
  }

  write(offsetBytes: number, lengthBytes: number): void {
    if (this.fd === null) return;
    writeSync(this.fd, this.bytes, offsetBytes, lengthBytes, offsetBytes);
    if (this.sync) fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export const NandImageFile = {
  /** Creates (or overwrites) `path` with a new, fully erased chip and returns the chip. */
  create(path: string, options: NandOptions & NandFileOptions): NandDevice {
    const device = NandDevice.create(options);
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, device.bytes, 0, device.bytes.length, 0);
    } finally {
      closeSync(fd);
    }
    device.attachSink(new FileSink(path, device.bytes, options.sync ?? false));
    return device;
  },

  /** Mounts the chip whose image is `path`, as at power-on; later operations write to the file. Pages
   * a host crash left half written (bytes without their state byte) are reset to erased first. */
  open(path: string, options: NandFileOptions = {}): NandDevice {
    const file = readFileSync(path);
    const buffer = new ArrayBuffer(file.byteLength);
    new Uint8Array(buffer).set(file);
    const device = NandDevice.over(buffer, options.timing);
    device.attachSink(new FileSink(path, device.bytes, options.sync ?? false));
    device.resetTornErasedPages();
    return device;
  },
};
