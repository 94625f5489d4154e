/**
 * `kmem/node`: what needs Node's file system — NAND chips backed by image files that survive power
 * cuts, and block traces streamed from files.
 *
 *   import { NandImageFile, openTraceFile } from 'kmem/node';
 */
export { NandImageFile } from './machine/nand-file.ts';
export { openTraceFile } from './flash/traces/trace-file.ts';
export { fileLines } from './util/file-lines.ts';
