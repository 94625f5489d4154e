/**
 * The sync subsystem's typed errors. Each names the lock (or CPU) and what was expected.
 */
import { KmemError } from '../util/errors.ts';

/** A lock still held after the wait limit (the kernel's lock words raise the same class). */
export { LockTimeoutError } from './lock-word.ts';

/** A release by a CPU that does not hold the lock, or a re-entrant acquire that would deadlock. */
export class LockUsageError extends KmemError {
  override name = 'LockUsageError';
}

/** A sync domain that is not one (bad magic), a full lock table, a CPU out of range. */
export class SyncDomainError extends KmemError {
  override name = 'SyncDomainError';
}

/** An RCU call made in the wrong state (a quiescent state inside a read section, an unbalanced unlock). */
export class RcuUsageError extends KmemError {
  override name = 'RcuUsageError';
}

/** A grace period that did not complete in the time the caller allowed. */
export class RcuTimeoutError extends KmemError {
  override name = 'RcuTimeoutError';
}
