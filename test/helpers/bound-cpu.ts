// A kernel, one address space, and an emulated CPU bound to it (fully associative TLB of `tlbEntries`),
// the set-up of the tests that look at memory through a CPU's TLB.
import { Cpu } from '../../src/machine/cpu.ts';
import { fullyAssociative } from '../../src/machine/tlb-presets.ts';
import { Kernel } from '../../src/mm/kernel.ts';
import { bindCpu } from '../../src/mm/vm/cpu-binding.ts';
import type { AddressSpace } from '../../src/mm/vm/mm-struct.ts';
import { setThpSettings } from '../../src/mm/vm/thp-settings.ts';
import type { Vm } from '../../src/mm/vm/vm.ts';

export function bootWithCpu(options: { ramBytes: string; tlbEntries: number; thp?: 'never' }): { kernel: Kernel; vm: Vm; mm: AddressSpace; cpu: Cpu } {
  const kernel = Kernel.boot({ ramBytes: options.ramBytes });
  const vm = kernel.vm;
  if (options.thp !== undefined) setThpSettings(vm, { enabled: options.thp });
  const mm = vm.createAddressSpace();
  const cpu = new Cpu(kernel.ram, { preset: fullyAssociative(options.tlbEntries) });
  bindCpu(vm, cpu).switchTo(mm);
  return { kernel, vm, mm, cpu };
}
