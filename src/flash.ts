/**
 * `kmem/flash`: a NAND chip and the log-structured stores on it (page FTL, object store), garbage
 * collection, wear levelling, and block traces read from text. Files (NAND images, trace files)
 * are `kmem/node`.
 *
 *   import { NandDevice, PageFtl } from 'kmem/flash';
 */
export { NandDevice, PageState, EraseStatus, PowerLossError, NandError, CopybackSourceError } from './machine/nand.ts';
export type { NandGeometry, NandOptions, NandStats } from './machine/nand.ts';
export { NAND_TIMINGS } from './machine/nand-timing.ts';
export { PageFtl } from './flash/ftl.ts';
export type { PageFtlConfig, PageFtlStats } from './flash/ftl.ts';
export { ObjectStore } from './flash/object-store.ts';
export type { ObjectStoreConfig, ObjectStoreStats } from './flash/object-store.ts';
export { InPlaceStore } from './flash/in-place.ts';
export type { LogStoreConfig } from './flash/log-store.ts';
export * from './flash/errors.ts';
export { TraceReader, TraceWorkload, TraceFormatError } from './flash/traces/reader.ts';
