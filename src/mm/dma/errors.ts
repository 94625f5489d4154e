/**
 * The DMA API's typed errors (the checks of Linux's CONFIG_DMA_API_DEBUG, kernel/dma/debug.c, made
 * loud). Each names the device, the address and what was expected; the call that throws has changed
 * nothing, so validate() still passes.
 */
import { KmemError } from '../../util/errors.ts';

export class DmaApiError extends KmemError {
  override name = 'DmaApiError';
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Unmapping, syncing or freeing a handle the device does not hold (never mapped, or already unmapped). */
export class DmaUnknownHandleError extends DmaApiError {
  override name = 'DmaUnknownHandleError';
  constructor(
    readonly device: string,
    readonly handle: number,
    op: string,
  ) {
    super(`${device}: ${op} of DMA handle ${hex(handle)}, which the device does not hold (never mapped, or already unmapped or freed): expected a live mapping`);
  }
}

/** Unmapping or freeing with another size or direction than the mapping had. */
export class DmaMismatchError extends DmaApiError {
  override name = 'DmaMismatchError';
  constructor(device: string, handle: number, what: string) {
    super(`${device}: DMA handle ${hex(handle)}: ${what}`);
  }
}

/** A sync whose direction the mapping does not allow, or a range outside the mapping. */
export class DmaSyncError extends DmaApiError {
  override name = 'DmaSyncError';
  constructor(device: string, handle: number, what: string) {
    super(`${device}: sync of DMA handle ${hex(handle)}: ${what}`);
  }
}

/** The CPU touched a buffer while the device owns it (between map / syncForDevice and syncForCpu / unmap). */
export class DmaOwnershipError extends DmaApiError {
  override name = 'DmaOwnershipError';
  constructor(
    readonly paddr: number,
    readonly sizeBytes: number,
    device: string,
    handle: number,
    write: boolean,
  ) {
    super(
      `CPU ${write ? 'write' : 'read'} of [${hex(paddr)}, +${sizeBytes}) while ${device} owns it (DMA handle ${hex(handle)}): expected dmaSyncForCpu or dmaUnmap first`,
    );
  }
}

/** A mapping the device cannot reach and swiotlb cannot bounce (too big, or no room). */
export class DmaMappingError extends DmaApiError {
  override name = 'DmaMappingError';
}

/** A bad direction, a zero size, a pool's impossible align/boundary. */
export class DmaArgumentError extends DmaApiError {
  override name = 'DmaArgumentError';
}

/** A device released while it still holds DMA mappings or coherent buffers. */
export class DmaApiLeakError extends DmaApiError {
  override name = 'DmaApiLeakError';
}
