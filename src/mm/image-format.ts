/**
 * What the files that hold RAM (crash dumps, mm/dump/; hibernation images, mm/hibernate/) share: an
 * 8-byte magic, a header whose last word is the CRC-32 of the bytes before it, a CRC-32 of the body
 * after the header, and a typed error naming the offset where a file stops being what it claims.
 */
import { crc32 } from '../util/crc32.ts';
import { KmemError } from '../util/errors.ts';

/** A file that is not of its format, damaged or cut short. */
export class ImageFormatError extends KmemError {
  override name = 'ImageFormatError';
  constructor(
    readonly offset: number,
    what: string,
    message: string,
  ) {
    super(`${what}, offset ${offset}: ${message}`);
  }
}

export interface ImageFormat {
  /** 8 ASCII characters at offset 0. */
  magic: string;
  headerBytes: number;
  /** Where the body's CRC-32 is kept; the header's own is the header's last word. */
  bodyCrcAt: number;
  /** The file's name in messages ('kmem crash dump'). */
  what: string;
  fail(offset: number, message: string): ImageFormatError;
}

/** Stamps the magic and both checksums into a file whose other fields are written. */
export function sealImage(out: Uint8Array, format: ImageFormat): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < 8; i++) out[i] = format.magic.charCodeAt(i);
  view.setUint32(format.bodyCrcAt, crc32(out, format.headerBytes), true);
  view.setUint32(format.headerBytes - 4, crc32(out, 0, format.headerBytes - 4), true);
}

/** Checks length, magic and the header's checksum; returns a little-endian reader of header words. */
export function openImageHeader(bytes: Uint8Array, format: ImageFormat): (at: number) => number {
  const h = format.headerBytes;
  if (bytes.length < h) throw format.fail(bytes.length, `the file ends after ${bytes.length} bytes: expected a ${h}-byte header`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== format.magic.charCodeAt(i)) throw format.fail(0, `magic is not '${format.magic}': not a ${format.what}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number): number => view.getUint32(at, true);
  if (crc32(bytes, 0, h - 4) !== u32(h - 4)) throw format.fail(h - 4, `header CRC-32 0x${u32(h - 4).toString(16)} does not match its bytes: the header is damaged`);
  return u32;
}

/** Checks the file's length against what its header promises, then the body's checksum. */
export function checkImageBody(bytes: Uint8Array, format: ImageFormat, expectedBytes: number, contents: string): void {
  if (bytes.length !== expectedBytes) throw format.fail(bytes.length, `the file is ${bytes.length} bytes: expected ${expectedBytes} (${contents}); truncated or padded`);
  const crc = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(format.bodyCrcAt, true);
  if (crc32(bytes, format.headerBytes) !== crc) throw format.fail(format.headerBytes, `CRC-32 of the body does not match 0x${crc.toString(16)}: the file is damaged`);
}
