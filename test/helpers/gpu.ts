/**
 * The accelerator for GPU tests: one per test file, opened at import. Where there is no WebGPU
 * adapter the file's tests are skipped with the reason, unless KMEM_REQUIRE_GPU=1 (CI, `.ci/run`),
 * where absence is a failure (lab/gpu-policy.ts): the setup step installs lavapipe there, so the
 * tests must run for real.
 */
import { openAccelerator } from '../../src/lab/gpu-policy.ts';
import type { Accelerator, AcceleratorOptions } from '../../src/machine/accelerator.ts';

export interface TestAccelerator {
  accelerator: Accelerator | null;
  /** Why the tests are skipped, or false when they run. */
  skip: string | false;
}

export async function openTestAccelerator(options: AcceleratorOptions = {}): Promise<TestAccelerator> {
  const opened = await openAccelerator(options);
  if (opened.accelerator !== null) return { accelerator: opened.accelerator, skip: false };
  return { accelerator: null, skip: `${opened.unavailable.message} (the setup step says why it could not install one; KMEM_REQUIRE_GPU=1 makes this a failure)` };
}

export function required(accelerator: Accelerator | null): Accelerator {
  if (accelerator === null) throw new Error('no accelerator: the test should have been skipped');
  return accelerator;
}
