/**
 * `kmem/gpu`: warp-centric slab allocators as WGSL compute shaders on WebGPU (the page's
 * `navigator.gpu` in a browser, Dawn's `webgpu` package in Node).
 *
 *   import { Accelerator, WarpSlabAllocator } from 'kmem/gpu';
 */
export { Accelerator, GpuUnavailableError, GpuShaderError, GpuDeviceError } from './machine/accelerator.ts';
export { NO_GROUP, WarpSlabAllocator, laneRequest, maxDispatchLanes } from './gpu/warp-allocator.ts';
export type { WarpAllocatorOptions, AllocPass, FreePass, WarpAllocatorStats } from './gpu/warp-allocator.ts';
export { WARP_DESIGNS } from './gpu/designs.ts';
export type { WarpDesign } from './gpu/designs.ts';
export { NO_OBJECT, DeviceArenaLayout } from './gpu/arena-layout.ts';
export * from './gpu/errors.ts';
