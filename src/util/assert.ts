/**
 * Assertions in the TigerBeetle manner: preconditions, postconditions and invariants stated in the
 * code, each failing loudly with an `InvariantError` that says what was expected.
 */
import { InvariantError } from './errors.ts';

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}

/** Asserts `value` is an integer in [min, max] and returns it. */
export function assertIntInRange(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvariantError(`${what}: expected an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function unreachable(value: never, what: string): never {
  throw new InvariantError(`${what}: unexpected value ${String(value)}`);
}
