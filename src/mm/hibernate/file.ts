/**
 * Hibernation to and from a file (Node only; exported from kmem/node). The image is written to a
 * temporary file beside the target, flushed and renamed, so a crash while writing leaves the old
 * image or none, never a torn one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { AttachOptions, Kernel } from '../kernel.ts';
import { hibernate, resume } from './image.ts';
import type { HibernateOptions } from './image.ts';

/** Writes `kernel`'s image to `path`; returns the image's size in bytes. */
export function hibernateToFile(kernel: Kernel, path: string, options: HibernateOptions = {}): number {
  const image = hibernate(kernel, options);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, image);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return image.length;
}

/** Resumes the kernel of the image at `path` in this process (see resume()). */
export function resumeFromFile(path: string, options: Omit<AttachOptions, 'resume'> = {}): Kernel {
  return resume(readFileSync(path), options);
}
