/**
 * Files and directories named on the command line, checked before anything runs: a file to read
 * that is missing, a directory or unreadable is a usage error (one line, exit 2) naming the option
 * and why, never Node's ENOENT or EISDIR after a run has started.
 */
import { closeSync, openSync, statSync } from 'node:fs';
import { ArgumentError } from '../util/errors.ts';

/** Why a path could not be used, in words, from Node's error code. */
export function reason(error: unknown): string {
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
    default:
      return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  }
}

/**
 * Throws an ArgumentError `what: cannot read PATH (why)` unless `path` is a file this process can
 * read. `what` names the option or command ('run flash-gc: --trace', 'replay').
 */
export function checkReadableFile(path: string, what: string): void {
  let isFile: boolean;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new ArgumentError(`${what}: cannot read ${path} (a directory: expected a file)`);
    isFile = stat.isFile();
  } catch (error) {
    if (error instanceof ArgumentError) throw error;
    throw new ArgumentError(`${what}: cannot read ${path} (${reason(error)})`);
  }
  // A regular file is opened to check it can be read; a pipe or a device (/dev/stdin) is not (opening
  // a FIFO would wait for a writer).
  if (!isFile) return;
  try {
    closeSync(openSync(path, 'r'));
  } catch (error) {
    throw new ArgumentError(`${what}: cannot read ${path} (${reason(error)})`);
  }
}
