/**
 * The GPU allocators' typed errors. Misuse (a bad configuration, a request the allocator was not
 * sized for, a free of something not allocated) is refused on the host before anything reaches the
 * device, so the device arena is unchanged. `DeviceArenaError` is different: the host's checks of
 * what a kernel did found an allocator bug (an object outside the arena, handed to two lanes, lost).
 */
import { ArgumentError, InvariantError, KmemError } from '../util/errors.ts';

function hexWord(address: number): string {
  return `0x${address.toString(16)}`;
}

/** A device arena or allocator configuration that cannot work. */
export class GpuConfigError extends ArgumentError {
  override name = 'GpuConfigError';
}

/** A request stream the allocator was not created for (too many lanes, too many objects per lane). */
export class GpuRequestError extends ArgumentError {
  override name = 'GpuRequestError';
}

/**
 * The subgroups a pass ran in, as its lanes recorded them, are not the ones the host assumed (a
 * driver that gave this pipeline another subgroup size than the one measured, say): figures grouped
 * by the assumed subgroups would be wrong, so none are given.
 */
export class SubgroupMismatchError extends KmemError {
  override name = 'SubgroupMismatchError';
}

/** A free of an address that is not a live object of this allocator; nothing was freed. */
export class DeviceFreeError extends KmemError {
  override name = 'DeviceFreeError';
  constructor(
    readonly address: number,
    readonly lane: number,
    reason: string,
  ) {
    super(`free of word ${hexWord(address)} by lane ${lane}: ${reason}; expected the address of a live object`);
  }
}

/** The host's check of a pass, or validate(), found the device arena wrong: an allocator bug. */
export class DeviceArenaError extends InvariantError {
  override name = 'DeviceArenaError';
  constructor(
    readonly address: number,
    what: string,
  ) {
    super(`device arena, word ${address === -1 ? '(none)' : hexWord(address)}: ${what}`);
  }
}
