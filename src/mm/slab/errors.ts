/**
 * The slab allocator's typed errors. Each names the address and the cache, and says what was
 * expected; the call that throws has changed nothing (validate() still passes).
 */
import { ArgumentError, KmemError } from '../../util/errors.ts';

function hex(addr: number): string {
  return `0x${(addr >>> 0).toString(16)}`;
}

export class SlabError extends KmemError {
  override name = 'SlabError';
  constructor(
    readonly addr: number,
    readonly cache: string,
    message: string,
  ) {
    super(message);
  }
}

/** An address that is not an object the allocator handed out, given to ksize() or krealloc(). */
export class InvalidPointerError extends SlabError {
  override name = 'InvalidPointerError';
  constructor(addr: number, cache: string, detail: string, op = 'use') {
    super(addr, cache, `${op} of ${hex(addr)} in ${cache}: ${detail}`);
  }
}

/** A free of an address no cache handed out (not a slab object of this cache, or not memory at all). */
export class InvalidFreeError extends InvalidPointerError {
  override name = 'InvalidFreeError';
  constructor(addr: number, cache: string, detail: string) {
    super(addr, cache, detail, 'free');
  }
}

/** A free of a pointer into the middle of an object. */
export class InteriorPointerError extends SlabError {
  override name = 'InteriorPointerError';
  constructor(
    addr: number,
    cache: string,
    readonly objectAddr: number,
  ) {
    super(addr, cache, `free of ${hex(addr)} in ${cache}: it points ${addr - objectAddr} bytes into the object at ${hex(objectAddr)}; expected the object's start`);
  }
}

export class SlabDoubleFreeError extends SlabError {
  override name = 'SlabDoubleFreeError';
  constructor(addr: number, cache: string) {
    super(addr, cache, `double free of ${hex(addr)} in ${cache}: the object is already free; expected an allocated object`);
  }
}

/** A red zone byte was overwritten: a write past the object's end or before its start. */
export class RedZoneError extends SlabError {
  override name = 'RedZoneError';
  constructor(addr: number, cache: string, readonly offset: number, readonly found: number, readonly expected: number) {
    super(
      addr,
      cache,
      `red zone of ${hex(addr)} in ${cache} overwritten at offset ${offset}: byte 0x${found.toString(16)}, expected 0x${expected.toString(16)}`,
    );
  }
}

/** A poisoned (free) object was written: a use after free. */
export class UseAfterFreeError extends SlabError {
  override name = 'UseAfterFreeError';
  constructor(addr: number, cache: string, readonly offset: number, readonly found: number, readonly expected: number) {
    super(
      addr,
      cache,
      `use after free: ${hex(addr)} in ${cache} was written at offset ${offset} while free: byte 0x${found.toString(16)}, expected poison 0x${expected.toString(16)}`,
    );
  }
}

/** destroy() of a cache with objects still in use: the cache is kept. */
export class CacheBusyError extends KmemError {
  override name = 'CacheBusyError';
  constructor(
    readonly cache: string,
    readonly leaked: number,
    readonly leakedAddrs: readonly number[],
    detail?: string,
  ) {
    super(
      `destroy of ${cache}: ${
        detail ?? `${leaked} object${leaked === 1 ? '' : 's'} still in use (${leakedAddrs.map(hex).join(', ')}${leaked > leakedAddrs.length ? ', …' : ''})`
      }; expected none, the cache is kept`,
    );
  }
}

export class CacheNameError extends ArgumentError {
  override name = 'CacheNameError';
}

/** The cache table or the CPU slots are full. */
export class SlabLimitError extends KmemError {
  override name = 'SlabLimitError';
}

/** A handle to a cache that was destroyed (its slot may hold another cache now). */
export class CacheDestroyedError extends KmemError {
  override name = 'CacheDestroyedError';
  constructor(readonly cache: string) {
    super(`cache ${cache} was destroyed: expected a live cache (look it up again by name)`);
  }
}

/**
 * An object found in two places: a round popped from a magazine whose state bit was set already
 * (eager state, alloc-state.ts), so someone holds it. Two workers freed the same object at the same moment (a double free
 * that raced past the check). The duplicate is dropped, so the cache stays consistent.
 */
export class DuplicateObjectError extends SlabError {
  override name = 'DuplicateObjectError';
  constructor(addr: number, cache: string) {
    super(addr, cache, `object ${hex(addr)} of ${cache} was about to be handed out twice (freed twice at once by two workers?); expected each free object in one place, the duplicate was dropped`);
  }
}
