/**
 * The root of kmem's typed errors.
 *
 * Every error a caller can provoke (a bad free, a double free, an out-of-range frame, a malformed
 * size) is a subclass of `KmemError` that names the address involved and what was expected. The
 * operation that throws leaves every structure as it was, so `validate()` still passes afterwards.
 *
 * `InvariantError` is different: it means kmem itself is wrong (a corrupted list, a broken count).
 * `validate()` and the `assert` helpers throw it.
 */
export class KmemError extends Error {
  override name = 'KmemError';
}

/** A structure failed one of its invariants: a bug in kmem or memory corrupted behind its back. */
export class InvariantError extends KmemError {
  override name = 'InvariantError';
}

/** An argument that no call could accept (a negative size, an unknown option). */
export class ArgumentError extends KmemError {
  override name = 'ArgumentError';
}

/** Why a path could not be used, in words, from a Node file-system error's code (ENOENT → 'no such file or directory'). */
export function fileErrorReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'EROFS':
      return 'a read-only file system';
    case 'EISDIR':
      return 'a directory: expected a file';
    default:
      return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  }
}
