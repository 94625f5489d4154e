/**
 * Typed errors of secret memory. A kernel access to a secret frame through the direct map is a
 * SecretAccessError naming the virtual address and the frame; a secretFree of something that is not
 * a secret region is a SecretRegionError; a KFENCE-detected bug is a KfenceError (kfence.ts).
 */
import { KmemError } from '../../util/errors.ts';
import { formatVaddr } from '../vm/types.ts';

export class SecretAccessError extends KmemError {
  override name = 'SecretAccessError';
  constructor(
    readonly vaddr: number,
    readonly pfn: number,
    readonly access: 'read' | 'write' | 'exec',
  ) {
    super(
      `kernel ${access} of 0x${formatVaddr(vaddr)}: pfn ${pfn} is secret memory, removed from the direct map; expected only its owner's mapping to reach it`,
    );
  }
}

export class SecretRegionError extends KmemError {
  override name = 'SecretRegionError';
  constructor(
    readonly addr: number,
    detail: string,
  ) {
    super(`secretFree of 0x${formatVaddr(addr)}: ${detail}; expected an address secretAlloc returned`);
  }
}
