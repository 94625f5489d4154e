/**
 * What a kernel fault in the direct map means, for the fault handlers (vm/cpu-binding.ts) and the
 * kernel's own accesses (Vm.kernelRead/kernelWrite): a KFENCE report when it hit the KFENCE pool, a
 * SecretAccessError when it hit a secret frame, else null (the caller's ordinary SegvError).
 */
import type { KmemError } from '../../util/errors.ts';
import type { Vm } from '../vm/vm.ts';
import { secretFaultError } from './direct-map.ts';
import { kfenceFaultError } from './kfence.ts';

export function kernelFaultError(vm: Vm, vaddr: number, access: 'read' | 'write' | 'exec'): KmemError | null {
  return kfenceFaultError(vm, vaddr) ?? secretFaultError(vm, vaddr, access);
}
