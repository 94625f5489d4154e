/**
 * The accelerator for GPU tests: one per test file, opened at import. Where there is no WebGPU
 * adapter the file's tests are skipped with the reason, unless KMEM_REQUIRE_GPU=1 (CI, `.ci/run`),
 * where absence is a failure: the setup step installs lavapipe there, so the tests must run for real.
 */
import { Accelerator, GpuUnavailableError, gpuRequired } from '../../src/machine/accelerator.ts';
import type { AcceleratorOptions } from '../../src/machine/accelerator.ts';

export interface TestAccelerator {
  accelerator: Accelerator | null;
  /** Why the tests are skipped, or false when they run. */
  skip: string | false;
}

export async function openTestAccelerator(options: AcceleratorOptions = {}): Promise<TestAccelerator> {
  try {
    return { accelerator: await Accelerator.open(options), skip: false };
  } catch (error) {
    if (error instanceof GpuUnavailableError && !gpuRequired()) {
      return { accelerator: null, skip: `${error.message} (the setup step says why it could not install one; KMEM_REQUIRE_GPU=1 makes this a failure)` };
    }
    throw error;
  }
}

export function required(accelerator: Accelerator | null): Accelerator {
  if (accelerator === null) throw new Error('no accelerator: the test should have been skipped');
  return accelerator;
}
