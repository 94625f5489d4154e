import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { MAP, PAGE_SIZE, PROT } from '../../../src/mm/vm/types.ts';
import { startLabWorker, waitForWord } from '../../../src/lab/worker-thread.ts';
import { C } from './shootdown-workers-control.ts';
import type { VmShootdownInput, VmShootdownReport } from './shootdown-workers-worker.ts';

const PAGES = 8;
const url = new URL('./shootdown-workers-worker.ts', import.meta.url);

function setup() {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 4 });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const base = mm.mmap(0, PAGES * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  for (let page = 0; page < PAGES; page++) mm.write(base + page * PAGE_SIZE, new Uint8Array([1]));
  const control = new SharedArrayBuffer(4 * (C.STATE + PAGES));
  const input = (role: 'changer' | 'reader', rounds: number, stale: boolean, parkAfter = 0): VmShootdownInput => ({
    buffer: kernel.ram.buffer as SharedArrayBuffer,
    control,
    pid: mm.pid,
    base,
    pages: PAGES,
    role,
    rounds,
    stale,
    parkAfter,
  });
  return { kernel, vm, mm, base, control: new Int32Array(control), input };
}

test('two workers share an address space: after munmap/mprotect/MADV_DONTNEED returns, the other CPU never reads through a stale entry', async () => {
  const { kernel, vm, mm, input } = setup();
  const [changer, reader] = await Promise.all([
    startLabWorker<VmShootdownReport>(url, input('changer', 900, false)).report,
    startLabWorker<VmShootdownReport>(url, input('reader', 0, false)).report,
  ]);
  assert.equal(changer.rounds, 900);
  assert.equal(reader.violations, 0, `${reader.violations} loads went through a translation whose change had returned`);
  assert.ok(reader.faults > 0 && reader.loads > reader.faults, `the reader kept loading and saw pages gone (${reader.loads} loads, ${reader.faults} faults)`);
  const sd = vm.shootdown;
  assert.deepEqual(sd.cpus(mm.cpumaskBase).sort(), [changer.cpu, reader.cpu].sort(), 'both CPUs are in the mm mask (switch_mm)');
  assert.ok(sd.domain.stats().generation >= 900, `every change was shot down (${sd.domain.stats().generation} requests)`);
  sd.domain.validate();
  kernel.validate();
});

test('control: a CPU that loads CR3 without switch_mm is in no mask, and is caught reading stale entries (the check can fail)', async () => {
  const { input } = setup();
  const [, reader] = await Promise.all([
    startLabWorker<VmShootdownReport>(url, input('changer', 300, false)).report,
    startLabWorker<VmShootdownReport>(url, input('reader', 0, true)).report,
  ]);
  assert.ok(reader.violations > 0, `expected stale reads from a CPU outside the mask, saw ${reader.violations} in ${reader.loads} loads`);
});

test('a worker offlined mid-run never blocks a shootdown and leaves nothing mapped that should not be', async () => {
  const { kernel, vm, mm, base, control, input } = setup();
  const changerRun = startLabWorker<VmShootdownReport>(url, input('changer', 600, false, 200));
  const readerRun = startLabWorker<VmShootdownReport>(url, input('reader', 0, false));
  readerRun.report.catch(() => undefined); // it is terminated and never reports
  await waitForWord(control, C.PARKED, 1);
  // The parked reader answers nothing now: the changer's next shootdown waits for it until its slot is offlined.
  await readerRun.worker.terminate();
  const readerCpu = Atomics.load(control, C.READER_CPU);
  assert.ok(kernel.offlineCpu(readerCpu, Atomics.load(control, C.READER_EPOCH)), 'the reader slot went offline');
  const changer = await changerRun.report;
  assert.equal(changer.rounds, 600, 'every change completed: the offlined CPU was not waited for');
  const sd = vm.shootdown;
  assert.deepEqual(sd.cpus(mm.cpumaskBase), [changer.cpu], 'the offlined CPU left the mm mask');
  assert.ok(!sd.cpus(sd.boundMask).includes(readerCpu), 'and the bound mask');
  // Nothing is mapped that should not be: every page is mapped once, holds its last stamp, and the rest of
  // the page tables, rmap and counters check out.
  for (let page = 0; page < PAGES; page++) {
    const last = Math.max(...Array.from({ length: 600 }, (_, i) => i + 1).filter((round) => round % PAGES === page));
    const bytes = mm.read(base + page * PAGE_SIZE, 4);
    assert.equal(new DataView(bytes.buffer).getUint32(0, true), last, `page ${page} holds its last stamp`);
  }
  assert.equal(mm.maps().trim().split('\n').length, 1, 'one VMA covers the pages again');
  sd.domain.validate();
  kernel.validate();
});
