/// <reference types="@webgpu/types" preserve="true" />
/**
 * The accelerator: a real GPU reached through WebGPU — in a browser the page's own `navigator.gpu`,
 * in Node Dawn's bindings (npm `webgpu`, an optional dependency) — or, on a
 * machine without one, Mesa's CPU Vulkan driver (lavapipe) behind the same API. Like the rest of
 * machine/ it has no policy: it finds an adapter, opens a device with the features the adapter
 * offers, compiles compute pipelines, runs command buffers, reads buffers back and times passes.
 * What runs on it (the allocators of src/gpu) is somebody else's business.
 *
 * Facts the rest of kmem may rely on:
 *   - `subgroups` is true only when the device was opened with the `subgroups` feature; the subgroup
 *     size is never assumed: `measureSubgroupSize()` reads the `subgroup_size` builtin on the device,
 *     and `adapterSubgroupSize` is the adapter's reported minimum.
 *   - `timestamps` is true when the device has `timestamp-query`; `PassTimer` then gives the device's
 *     own nanoseconds for a compute pass, unquantized (Dawn's timestamp_quantization is turned off).
 *     Times on a CPU adapter (`isCpuAdapter`) say nothing about GPUs.
 *   - Every GPU error is captured by an error scope and raised as a typed error, so Dawn never prints
 *     an uncaptured error to stdout.
 *
 * Lifetime (Dawn's rules): the object `create()` returns must stay referenced while any adapter,
 * device or buffer made from it lives, or the process crashes when it is garbage-collected. An
 * Accelerator holds it, and so does the module-level set of open accelerators until `destroy()`.
 * `open()` never hangs when there is no driver: Dawn's requestAdapter() resolves to null in a few ms.
 * Whether that is a failure or a reason to skip is the drivers' business (lab/gpu-policy.ts).
 */
import { KmemError } from '../util/errors.ts';

/** No WebGPU adapter could be opened (no driver, no Vulkan loader, Dawn unavailable for this platform). */
export class GpuUnavailableError extends KmemError {
  override name = 'GpuUnavailableError';
}

/** A shader failed to compile or a pipeline failed validation; the message carries line:column. */
export class GpuShaderError extends KmemError {
  override name = 'GpuShaderError';
}

/** The device reported an error while running work (validation, out of memory, internal, lost). */
export class GpuDeviceError extends KmemError {
  override name = 'GpuDeviceError';
}

/** WebGPU's flag constants, taken from Dawn's `globals` rather than assumed to be global. */
interface WebGpuFlags {
  GPUBufferUsage: GPUBufferUsage;
  GPUMapMode: GPUMapMode;
  GPUShaderStage: GPUShaderStage;
}

export interface AcceleratorOptions {
  /** Ask for the `subgroups` feature when the adapter has it (default). False opens a device without it. */
  subgroups?: boolean;
  /** Extra options for Dawn's `create()`, such as 'backend=vulkan' or 'adapter=<name>'. Timestamp quantization is always off. */
  dawnOptions?: readonly string[];
  /**
   * Where WebGPU comes from: 'auto' (default) takes the page's `navigator.gpu` where there is one (a
   * browser) and Dawn otherwise; 'dawn' always loads the `webgpu` package.
   */
  source?: 'auto' | 'dawn';
}

/** The platform, for messages: `process.platform-arch` in Node, the user agent's in a browser. */
function platformName(): string {
  const proc = (globalThis as { process?: { platform?: string; arch?: string } }).process;
  return proc?.platform !== undefined ? `${proc.platform}-${proc.arch ?? ''}` : 'this browser';
}

/** The page's WebGPU and its flag constants, where this is a browser that has them. */
function browserWebGpu(): { gpu: GPU; globals: WebGpuFlags } | null {
  const g = globalThis as { navigator?: { gpu?: GPU }; GPUBufferUsage?: GPUBufferUsage; GPUMapMode?: GPUMapMode; GPUShaderStage?: GPUShaderStage };
  if (g.navigator?.gpu === undefined || g.GPUBufferUsage === undefined || g.GPUMapMode === undefined || g.GPUShaderStage === undefined) return null;
  return { gpu: g.navigator.gpu, globals: { GPUBufferUsage: g.GPUBufferUsage, GPUMapMode: g.GPUMapMode, GPUShaderStage: g.GPUShaderStage } };
}

/** How a binding of a compute pipeline is used: its bind group layout entry type. */
export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

// The GPU object of every open accelerator, from open() until its destroy() (see the header): an
// accelerator dropped without destroy() leaves its device alive, and the GPU must outlive it.
const LIVE = new Set<unknown>();

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Accelerator {
  /** The adapter's own description, e.g. 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)'. */
  readonly adapterName: string;
  /** A software adapter (lavapipe, SwiftShader) or a fallback adapter: its times say nothing about GPUs. */
  readonly isCpuAdapter: boolean;
  /** The device was opened with the `subgroups` feature. */
  readonly subgroups: boolean;
  /** The device was opened with `timestamp-query`. */
  readonly timestamps: boolean;
  /** The adapter's reported minimum subgroup size, or null when it reports none. */
  readonly adapterSubgroupSize: number | null;
  readonly maxStorageBindingBytes: number;
  /** The device's maxComputeWorkgroupsPerDimension: a 1-D dispatch has at most this many workgroups. */
  readonly maxWorkgroupsPerDimension: number;
  readonly usage: GPUBufferUsage;
  private readonly flags: WebGpuFlags;
  private failure: string | null = null;
  private destroyed = false;

  private constructor(
    private readonly gpu: GPU,
    adapter: GPUAdapter,
    readonly device: GPUDevice,
    flags: WebGpuFlags,
  ) {
    const info = adapter.info;
    this.adapterName = (info.description || [info.vendor, info.architecture, info.device].filter((s) => s !== '').join(' ')).trim() || 'unnamed adapter';
    this.isCpuAdapter = info.isFallbackAdapter || info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(this.adapterName);
    this.subgroups = device.features.has('subgroups');
    this.timestamps = device.features.has('timestamp-query');
    this.adapterSubgroupSize = info.subgroupMinSize ?? null;
    this.maxStorageBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.maxWorkgroupsPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
    this.flags = flags;
    this.usage = flags.GPUBufferUsage;
    void device.lost.then((lost) => {
      if (lost.reason !== 'destroyed') this.failure = `device lost: ${lost.message}`;
    });
    device.onuncapturederror = (event) => {
      this.failure ??= `uncaptured GPU error: ${event.error.message}`;
    };
  }

  /**
   * Opens the first adapter Dawn finds and a device with `subgroups` (when offered and wanted) and
   * `timestamp-query` (when offered), and with the adapter's own limits on storage bindings, buffers
   * and workgroups per dispatch dimension rather than WebGPU's defaults. Throws GpuUnavailableError,
   * quickly, when there is none.
   */
  static async open(options: AcceleratorOptions = {}): Promise<Accelerator> {
    const browser = options.source === 'dawn' ? null : browserWebGpu();
    let gpu: GPU;
    let globals: WebGpuFlags;
    if (browser !== null) {
      ({ gpu, globals } = browser);
    } else {
      let webgpu: { create(options: string[]): GPU; globals: object };
      try {
        // A variable specifier, so that bundlers for the browser leave Dawn's native package out.
        const dawn = 'webgpu';
        webgpu = (await import(/* @vite-ignore */ dawn)) as typeof webgpu;
      } catch (error) {
        throw new GpuUnavailableError(`no WebGPU: the 'webgpu' package (Dawn) does not load on ${platformName()}: ${describe(error)}`);
      }
      // Dawn rounds timestamps to about 0.1 ms by default (a browser's defence against timing
      // attacks); a measuring tool wants them whole.
      gpu = webgpu.create(['disable-dawn-features=timestamp_quantization', ...(options.dawnOptions ?? [])]);
      globals = webgpu.globals as WebGpuFlags;
    }
    LIVE.add(gpu);
    try {
      let adapter: GPUAdapter | null;
      try {
        adapter = await gpu.requestAdapter();
      } catch (error) {
        throw new GpuUnavailableError(`no WebGPU adapter: requestAdapter() failed: ${describe(error)}`);
      }
      if (adapter === null) {
        throw new GpuUnavailableError(`no WebGPU adapter: ${browser !== null ? 'the browser offers none' : 'Dawn found no usable Vulkan, Metal or D3D12 driver'} on ${platformName()}`);
      }
      const features: GPUFeatureName[] = [];
      if (options.subgroups !== false && adapter.features.has('subgroups')) features.push('subgroups');
      if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
      const device = await adapter.requestDevice({
        requiredFeatures: features,
        requiredLimits: {
          maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
          maxBufferSize: adapter.limits.maxBufferSize,
          maxComputeWorkgroupsPerDimension: adapter.limits.maxComputeWorkgroupsPerDimension,
        },
      });
      return new Accelerator(gpu, adapter, device, globals);
    } catch (error) {
      LIVE.delete(gpu); // no accelerator was made: nothing of this gpu outlives the call
      throw error;
    }
  }

  /** The adapter with its kind, for labels: every time kmem prints is labelled with this. */
  get label(): string {
    return `${this.adapterName}${this.isCpuAdapter ? ' (CPU adapter)' : ''}`;
  }

  private check(): void {
    if (this.destroyed) throw new GpuDeviceError(`${this.adapterName}: the device was destroyed`);
    if (this.failure !== null) throw new GpuDeviceError(`${this.adapterName}: ${this.failure}`);
  }

  createBuffer(label: string, sizeBytes: number, usage: number): GPUBuffer {
    this.check();
    return this.device.createBuffer({ label, size: Math.max(4, Math.ceil(sizeBytes / 4) * 4), usage });
  }

  /** A bind group layout and pipeline layout for bindings 0..n-1 of group 0, in the given kinds. */
  bindGroupLayout(label: string, kinds: readonly BindingKind[]): GPUBindGroupLayout {
    return this.device.createBindGroupLayout({
      label,
      entries: kinds.map((type, binding) => ({ binding, visibility: this.flags.GPUShaderStage.COMPUTE, buffer: { type } })),
    });
  }

  bindGroup(label: string, layout: GPUBindGroupLayout, buffers: readonly GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({ label, layout, entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
  }

  /** Compiles `code` and makes one compute pipeline per entry point; compile errors carry line:column. */
  async computePipelines(label: string, code: string, layout: GPUBindGroupLayout, entryPoints: readonly string[]): Promise<Map<string, GPUComputePipeline>> {
    this.check();
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    const pipelineLayout = this.device.createPipelineLayout({ label, bindGroupLayouts: [layout] });
    const pipelines = new Map<string, GPUComputePipeline>();
    let failure: string | null = null;
    if (errors.length === 0) {
      for (const entryPoint of entryPoints) {
        try {
          pipelines.set(entryPoint, await this.device.createComputePipelineAsync({ label: `${label}:${entryPoint}`, layout: pipelineLayout, compute: { module, entryPoint } }));
        } catch (error) {
          failure ??= describe(error);
        }
      }
    }
    const scoped = await this.device.popErrorScope();
    if (errors.length > 0 || failure !== null || scoped !== null) {
      const lines = errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`);
      throw new GpuShaderError(`${label}: WGSL did not compile on ${this.adapterName}: ${[...lines, failure ?? scoped?.message ?? ''].filter((s) => s !== '').join('; ')}`);
    }
    return pipelines;
  }

  /** Encodes with `encode`, submits, and waits for the device to finish; device errors are raised. */
  async submit(label: string, encode: (encoder: GPUCommandEncoder) => void): Promise<void> {
    this.check();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const encoder = this.device.createCommandEncoder({ label });
    encode(encoder);
    this.device.queue.submit([encoder.finish()]);
    const validation = await this.device.popErrorScope();
    const memory = await this.device.popErrorScope();
    await this.device.queue.onSubmittedWorkDone();
    const error = validation ?? memory;
    if (error !== null) throw new GpuDeviceError(`${label} on ${this.adapterName}: ${error.message}`);
    this.check();
  }

  write(buffer: GPUBuffer, data: Uint32Array, offsetBytes = 0): void {
    this.check();
    this.device.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /** A copy of `sizeBytes` of `buffer` from `offsetBytes` (both multiples of 4), read back to the host. */
  async read(buffer: GPUBuffer, sizeBytes: number, offsetBytes = 0): Promise<Uint32Array> {
    const staging = this.createBuffer('readback', sizeBytes, this.usage.MAP_READ | this.usage.COPY_DST);
    try {
      await this.submit('readback', (encoder) => encoder.copyBufferToBuffer(buffer, offsetBytes, staging, 0, staging.size));
      await staging.mapAsync(this.flags.GPUMapMode.READ);
      const copy = new Uint32Array(staging.getMappedRange().slice(0, sizeBytes)); // copy before unmap detaches it
      staging.unmap();
      return copy;
    } finally {
      staging.destroy();
    }
  }

  /**
   * The subgroup size the device really runs a 1-D workgroup of `workgroupSize` with, read from the
   * `subgroup_size` builtin. Null on a device opened without `subgroups`.
   */
  async measureSubgroupSize(workgroupSize: number): Promise<number | null> {
    if (!this.subgroups) return null;
    const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> sizes: array<u32>;
@compute @workgroup_size(${workgroupSize}) fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_size) s: u32) { sizes[i] = s; }`;
    const layout = this.bindGroupLayout('subgroup-size', ['storage']);
    const pipeline = (await this.computePipelines('subgroup-size', code, layout, ['main'])).get('main');
    const out = this.createBuffer('subgroup-size', workgroupSize * 4, this.usage.STORAGE | this.usage.COPY_SRC);
    try {
      const group = this.bindGroup('subgroup-size', layout, [out]);
      await this.submit('subgroup-size', (encoder) => {
        const pass = encoder.beginComputePass();
        if (pipeline !== undefined) pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(1);
        pass.end();
      });
      const sizes = await this.read(out, workgroupSize * 4);
      const size = sizes[0] ?? 0;
      if (size === 0 || !sizes.every((s) => s === size)) {
        throw new GpuDeviceError(`${this.adapterName}: subgroup_size builtin read [${[...new Set(sizes)].join(', ')}]: expected one size for the workgroup`);
      }
      return size;
    } finally {
      out.destroy();
    }
  }

  /** A timer for compute passes, from the device's timestamps; null when the device has none. */
  passTimer(): PassTimer | null {
    return this.timestamps ? new PassTimer(this) : null;
  }

  /** Destroys the device and lets the GPU object go. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
    LIVE.delete(this.gpu);
  }
}

/** Begin and end timestamps of one compute pass, resolved to nanoseconds on the device. */
export class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;

  constructor(private readonly accelerator: Accelerator) {
    this.querySet = accelerator.device.createQuerySet({ label: 'pass-timer', type: 'timestamp', count: 2 });
    this.resolved = accelerator.createBuffer('pass-timer', 16, accelerator.usage.QUERY_RESOLVE | accelerator.usage.COPY_SRC);
  }

  /** For `beginComputePass({ timestampWrites })`. */
  get writes(): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 };
  }

  /** Encodes the resolve; call after the timed pass has ended, in the same encoder. */
  resolve(encoder: GPUCommandEncoder): void {
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolved, 0);
  }

  /** The timed pass's duration in ns, as the device measured it. */
  async elapsedNs(): Promise<number> {
    const words = await this.accelerator.read(this.resolved, 16);
    const stamps = new BigUint64Array(words.buffer);
    const [begin = 0n, end = 0n] = stamps;
    return Number(end - begin);
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
  }
}
