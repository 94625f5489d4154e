/**
 * Typed errors of swap. An I/O failure of the backing is a SwapIoError naming the slot and the
 * operation; the page or the entry it concerned is left as it was (a page that failed to be written
 * stays mapped, an entry that failed to be read stays a swap entry), so validate() still passes.
 * A call the device's state refuses (swapon while one is on, a fault on a swapped page in a worker
 * that attached no backing) is a SwapDeviceError.
 */
import { KmemError } from '../../util/errors.ts';

export class SwapIoError extends KmemError {
  override name = 'SwapIoError';
  constructor(
    readonly slot: number,
    readonly op: 'read' | 'write',
    override readonly cause: unknown,
  ) {
    super(`swap ${op} of slot ${slot} failed: ${cause instanceof Error ? cause.message : String(cause)}; expected the backing to ${op} 4096 bytes`);
  }
}

export class SwapDeviceError extends KmemError {
  override name = 'SwapDeviceError';
  constructor(call: string, detail: string) {
    super(`${call}: ${detail}`);
  }
}
