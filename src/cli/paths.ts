/**
 * Files and directories named on the command line, checked before anything runs: a file to read
 * that is missing, a directory or unreadable, or an output directory that cannot be made or written,
 * is a usage error (one line, exit 2) naming the option and why, never Node's ENOENT, EISDIR or
 * EEXIST after a run has started.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ArgumentError, fileErrorReason as reason } from '../util/errors.ts';

/**
 * Throws an ArgumentError `what: cannot read PATH (why)` unless `path` is a file this process can
 * read. `what` names the option or command ('run flash-gc: --trace', 'replay'); `expected`, when
 * given, says what the file should hold, appended as `; expected …`.
 */
export function checkReadableFile(path: string, what: string, expected?: string): void {
  const refuse = (why: string): ArgumentError => new ArgumentError(`${what}: cannot read ${path} (${why})${expected === undefined ? '' : `; expected ${expected}`}`);
  let isFile: boolean;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw refuse('a directory: expected a file');
    isFile = stat.isFile();
  } catch (error) {
    if (error instanceof ArgumentError) throw error;
    throw refuse(reason(error));
  }
  // A regular file is opened to check it can be read; a pipe or a device (/dev/stdin) is not (opening
  // a FIFO would wait for a writer).
  if (!isFile) return;
  try {
    closeSync(openSync(path, 'r'));
  } catch (error) {
    throw refuse(reason(error));
  }
}

/**
 * Makes `dir` ready to be written into, before anything runs, or throws an ArgumentError
 * `what DIR: why`: `dir` must be a directory or absent; if absent, its nearest existing ancestor
 * must be a directory this process may write, and the missing directories are created one at a
 * time from there (not with mkdirSync's recursive form, which loops forever where mkdir fails with
 * ENOENT, as under /proc); then a probe file is written into `dir` and removed.
 */
export function prepareOutputDir(dir: string, what: string): void {
  const absolute = resolve(dir);
  const missing: string[] = [];
  let ancestor = absolute;
  for (;;) {
    let stat;
    try {
      stat = statSync(ancestor);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOTDIR') throw new ArgumentError(`${what} ${dir}: ${nearestFile(ancestor)} is not a directory`);
      if (code !== 'ENOENT' || dirname(ancestor) === ancestor) throw new ArgumentError(`${what} ${dir}: cannot look at ${ancestor} (${reason(error)})`);
      missing.unshift(ancestor);
      ancestor = dirname(ancestor);
      continue;
    }
    if (!stat.isDirectory()) {
      throw new ArgumentError(ancestor === absolute ? `${what} ${dir}: not a directory (expected a directory, or a path where one can be made)` : `${what} ${dir}: ${ancestor} is not a directory`);
    }
    break;
  }
  try {
    accessSync(ancestor, constants.W_OK);
  } catch (error) {
    throw new ArgumentError(`${what} ${dir}: cannot write in ${ancestor} (${reason(error)})`);
  }
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (error) {
      throw new ArgumentError(`${what} ${dir}: cannot create directory ${path} in ${dirname(path)} (${(error as { code?: string }).code ?? reason(error)})`);
    }
  }
  const probe = join(absolute, `.kmem-write-check-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (error) {
    throw new ArgumentError(`${what} ${dir}: cannot write in it (${reason(error)})`);
  }
}

/** The deepest path above `path` that exists and is not a directory (the cause of an ENOTDIR). */
function nearestFile(path: string): string {
  for (let p = dirname(path); dirname(p) !== p; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // not there, or itself under a file: keep climbing
    }
  }
  return path;
}
