/**
 * Assertions in the TigerBeetle manner: preconditions, postconditions and invariants stated in the
 * code, each failing loudly with an `InvariantError` that says what was expected.
 */
import { InvariantError } from './errors.ts';

export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
