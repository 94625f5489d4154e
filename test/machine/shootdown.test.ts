import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { Cpu } from '../../src/machine/cpu.ts';
import { ShootdownDomain, ShootdownTimeoutError } from '../../src/machine/shootdown.ts';
import { skylake } from '../../src/machine/tlb-presets.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';
import { runTsWorker } from '../helpers/worker.ts';
import type { ShootdownWorkerInput, ShootdownWorkerReport } from './shootdown-worker.ts';
import { ArgumentError } from '../../src/util/errors.ts';

const PAGES = 4;

function setup() {
  const ram = Ram.create({ sizeBytes: '4MiB', shared: true });
  const pt = new PageTableBuilder(ram, 0x10000, 0x100000);
  const framesPaddr = 0x200000;
  for (let page = 0; page < PAGES; page++) {
    pt.map(page * 4096, framesPaddr + page * 2 * 4096, 1);
    ram.u32(framesPaddr + page * 2 * 4096, 1)[0] = 0;
  }
  const ptePaddrs = Array.from({ length: PAGES }, (_, page) => pt.entryPaddr(page * 4096, 1));
  return { ram, pt, framesPaddr, ptePaddrs };
}

async function run(skipShootdown: boolean, rounds: number, mutual = false): Promise<ShootdownWorkerReport[]> {
  const { ram, pt, framesPaddr, ptePaddrs } = setup();
  const domain = ShootdownDomain.create(2);
  const control = new SharedArrayBuffer(4 * (5 + PAGES));
  const base = {
    ram: ram.buffer as SharedArrayBuffer,
    domainWords: domain.words.buffer as SharedArrayBuffer,
    control,
    cr3: pt.cr3,
    ptePaddrs,
    framesPaddr,
    rounds,
    skipShootdown,
    mutual,
  };
  const url = new URL('./shootdown-worker.ts', import.meta.url);
  const reports = await Promise.all(
    ([0, 1] as const).map((cpu) => runTsWorker<ShootdownWorkerReport>(url, { ...base, cpu } satisfies ShootdownWorkerInput)),
  );
  domain.validate();
  return reports;
}

test('two workers: after a shootdown returns, the other CPU never reads through the stale entry', async () => {
  const [initiator, reader] = await run(false, 2000);
  assert.equal(reader!.violations, 0, 'a read went through a translation flushed by a completed shootdown');
  assert.ok(reader!.reads > 2000, `the reader kept reading (${reader!.reads})`);
  assert.equal(reader!.serviced, 2000, 'the reader serviced every shootdown');
  assert.equal(initiator!.serviced, 2000, 'the initiator flushed its own TLB each time');
});

test('control: without the shootdown the same reader does catch stale reads (the check can fail)', async () => {
  const [, reader] = await run(true, 200);
  assert.ok(reader!.violations > 0, `expected stale reads without a shootdown, saw ${reader!.violations} in ${reader!.reads} reads`);
});

test('two CPUs shooting down at each other at once both finish: a CPU waiting for the lock services requests', async () => {
  const reports = await run(false, 300, true);
  for (const r of reports) assert.equal(r.serviced, 600, `CPU ${r.cpu}: its own 300 flushes and the other's 300`);
});

test('a target that never translates nor polls times out the shootdown with a typed error; the lock is released', () => {
  const { ram, pt } = setup();
  const domain = ShootdownDomain.create(2);
  const cpu = new Cpu(ram, { preset: skylake(), index: 0 });
  cpu.attachShootdown(domain);
  cpu.setCr3(pt.cr3, 1);
  const other = new Cpu(ram, { preset: skylake(), index: 1 });
  other.attachShootdown(domain);
  other.setCr3(pt.cr3, 1);
  other.load32(0);
  assert.throws(() => cpu.shootdown([1], { kind: 'pcid', pcid: 1 }, 20), (e: unknown) => e instanceof ShootdownTimeoutError && e.pending.join() === '1');
  // The other CPU services the request late; the next shootdown then completes at once.
  other.pollShootdown();
  assert.equal(other.shootdownsServiced, 1);
  assert.equal(other.stats().tlb.arrays.reduce((n, a) => n + a.valid, 0), 0, 'flushed by PCID');
  // Same thread, so the target must poll: it does when the initiator's wait has timed out; instead
  // check the single-CPU case (no other targets) returns at once.
  assert.equal(cpu.shootdown([0], { kind: 'all' }), 2);
  domain.validate();
  assert.deepEqual(domain.stats(), {
    generation: 2,
    lockHolder: -1,
    cpus: [
      { request: 2, acknowledged: 2 },
      { request: 1, acknowledged: 1 },
    ],
  });
  assert.throws(() => ShootdownDomain.create(0), ArgumentError);
});
