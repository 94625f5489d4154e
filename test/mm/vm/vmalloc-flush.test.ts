// docs/vm.md: kernel mappings (vmalloc) are flushed on every bound CPU, and vfree returns only after
// that: another worker's CPU that cached a vmalloc translation never loads through it once vfree()
// has returned, and faults instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { startLabWorker } from '../../../src/lab/worker-thread.ts';

test('vfree shoots the mapping down on another worker\'s CPU before it returns', async () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 3 });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const addr = vm.vmalloc(4096);
  assert.ok(addr !== null);
  vm.kernelWrite(addr, new Uint8Array([42]));
  const control = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  const { report } = startLabWorker<{ first: number; loads: number; violations: number; faulted: boolean }>(new URL('./vmalloc-flush-worker.ts', import.meta.url), { buffer: kernel.ram.buffer as SharedArrayBuffer, control, pid: mm.pid, addr });
  while (Atomics.load(ctl, 0) === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  vm.vfree(addr); // returns once every bound CPU flushed
  Atomics.store(ctl, 1, 1);
  const result = await report;
  assert.equal(result.first, 42, 'the worker read through its own translation first');
  assert.equal(result.violations, 0, `${result.violations} loads after vfree returned went through a stale translation`);
  assert.equal(result.faulted, true, 'the worker faulted on the freed address');
  kernel.validate();
});
