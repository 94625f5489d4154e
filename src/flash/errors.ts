/**
 * The flash layer's typed errors. Each names the address or object involved and what was expected;
 * a call that throws one of them (power loss aside) has changed nothing.
 */
import { ArgumentError, KmemError } from '../util/errors.ts';

export class FlashConfigError extends ArgumentError {
  override name = 'FlashConfigError';
}

export class LogicalAddressError extends KmemError {
  override name = 'LogicalAddressError';
  constructor(
    readonly lpn: number,
    readonly logicalPages: number,
  ) {
    super(`logical page ${lpn} is out of range: expected an integer in [0, ${logicalPages})`);
  }
}

/** No free block and no victim that would free one: the data does not fit the chip. Thrown before the
 * write, TRIM, put or delete that needed the room is stored (a multi-page TRIM names the page it
 * stopped at; the pages before it were trimmed). */
export class FlashFullError extends KmemError {
  override name = 'FlashFullError';
}

/** The image cannot be mounted by this store: a page it does not recognise or cannot place. */
export class FlashMountError extends KmemError {
  override name = 'FlashMountError';
  constructor(
    readonly block: number,
    readonly page: number,
    detail: string,
  ) {
    super(`mount: block ${block} page ${page}: ${detail}`);
  }
}

export class ObjectIdError extends KmemError {
  override name = 'ObjectIdError';
  constructor(
    readonly id: number,
    detail: string,
  ) {
    super(`object ${id}: ${detail}`);
  }
}

export class ObjectSizeError extends ArgumentError {
  override name = 'ObjectSizeError';
  constructor(
    readonly id: number,
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(`object ${id} of ${sizeBytes} bytes: expected at most ${maxBytes} bytes (a record must fit one page with its header)`);
  }
}
