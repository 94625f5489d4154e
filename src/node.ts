/**
 * `kmem/node`: what needs Node's file system — NAND chips backed by image files that survive power
 * cuts, block traces streamed from files,
 * and hibernation images written to and resumed from files.
 *
 *   import { NandImageFile, openTraceFile, hibernateToFile, resumeFromFile, FileBacking } from 'kmem/node';
 */
export { NandImageFile } from './machine/nand-file.ts';
export { openTraceFile } from './flash/traces/trace-file.ts';
export { fileLines } from './util/file-lines.ts';
export { hibernateToFile, resumeFromFile } from './mm/hibernate/file.ts';
export { FileBacking } from './mm/swap/file.ts';
