/**
 * What kmem's drivers (the gpu-warp-slab scenario, the benchmarks, the tests) do when there is no
 * WebGPU adapter: policy, so it lives here and not in machine/, which only reports that none was found.
 *
 * By default a missing adapter is a reason to skip, said with the reason. With KMEM_REQUIRE_GPU=1
 * (CI sets it in `.ci/run`, because there the setup step installs a CPU Vulkan driver and the GPU code
 * must run for real) it is a failure, and the error says what to do about it.
 */
import { Accelerator, GpuUnavailableError } from '../machine/accelerator.ts';
import type { AcceleratorOptions } from '../machine/accelerator.ts';

/** Whether a missing adapter is a failure rather than a reason to skip. */
export function gpuRequired(): boolean {
  return process.env.KMEM_REQUIRE_GPU === '1';
}

/** What to do about a missing adapter. */
export const NO_ADAPTER_REMEDY =
  "Without a GPU, `npm run setup` installs Mesa's CPU Vulkan driver (lavapipe) where it can, and says why where it cannot";

export type AcceleratorOrReason = { accelerator: Accelerator; unavailable: null } | { accelerator: null; unavailable: GpuUnavailableError };

/**
 * Opens the accelerator. Where there is no adapter: the reason, when the GPU is optional; a
 * GpuUnavailableError that adds the remedy, when it is required. Any other error is thrown as it is.
 */
export async function openAccelerator(options: AcceleratorOptions = {}): Promise<AcceleratorOrReason> {
  try {
    return { accelerator: await Accelerator.open(options), unavailable: null };
  } catch (error) {
    if (!(error instanceof GpuUnavailableError)) throw error;
    if (gpuRequired()) throw new GpuUnavailableError(`${error.message}. ${NO_ADAPTER_REMEDY} (KMEM_REQUIRE_GPU=1 makes this a failure)`);
    return { accelerator: null, unavailable: error };
  }
}
