/**
 * Typed errors of the virtual-memory calls. A system call that Linux fails with an errno raises a
 * `SyscallError` whose `errno` is Linux's name for it (EINVAL, ENOMEM, EEXIST, EPERM), with the
 * address range and what was expected in the message. An access the kernel refuses (no VMA, or a
 * VMA that does not allow it) raises a `SegvError`, what a user program would see as SIGSEGV.
 */
import { KmemError } from '../../util/errors.ts';
import { formatVaddr } from './types.ts';
import type { AccessKind } from './types.ts';

export type Errno = 'EINVAL' | 'ENOMEM' | 'EEXIST' | 'EPERM' | 'EFAULT';

export class SyscallError extends KmemError {
  override name = 'SyscallError';
  constructor(
    readonly call: string,
    readonly errno: Errno,
    message: string,
  ) {
    super(`${call}: ${errno}: ${message}`);
  }
}

/** Why an access faulted for good: no VMA covers it, or the VMA forbids the access. */
export type SegvReason = 'not-mapped' | 'protection' | 'guard-page';

const REASON_TEXT: Record<SegvReason, string> = {
  'not-mapped': 'no mapping covers it (SEGV_MAPERR)',
  protection: 'the mapping does not allow it (SEGV_ACCERR)',
  'guard-page': 'it is the guard page after a vmalloc area',
};

export class SegvError extends KmemError {
  override name = 'SegvError';
  constructor(
    readonly vaddr: number,
    readonly access: AccessKind,
    readonly reason: SegvReason,
  ) {
    super(
      `${access} of 0x${formatVaddr(vaddr)}: ${REASON_TEXT[reason]}; expected an address a mapping allows this access to`,
    );
  }
}

export function rangeText(start: number, lengthBytes: number): string {
  return `[0x${formatVaddr(start)}, +0x${lengthBytes.toString(16)})`;
}
