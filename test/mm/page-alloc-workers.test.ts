import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { runTsWorker } from '../helpers/worker.ts';

interface WorkerReport {
  id: number;
  allocs: number;
  failures: number;
  doubles: number;
  corrupt: number;
}

function runWorker(data: object): Promise<WorkerReport> {
  return runTsWorker<WorkerReport>(new URL('./page-alloc-worker.ts', import.meta.url), data);
}

test('two workers allocate and free pages from one shared arena: nothing handed out twice, nothing lost', async () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus: 3 });
  const bootFree = kernel.pages.stats().zones.map((z) => z.freeBlocks.join(','));
  const claims = new SharedArrayBuffer(kernel.pages.nrPages * 4);
  const ops = 200_000;
  const reports = await Promise.all(
    [1, 2].map((id) => runWorker({ buffer: kernel.buffer, claims, id, ops, seed: 100 + id })),
  );
  for (const report of reports) {
    assert.equal(report.doubles, 0, `worker ${report.id}: a page was handed out twice`);
    assert.equal(report.corrupt, 0, `worker ${report.id}: a page was written by someone else`);
    assert.ok(report.allocs > ops / 4);
  }
  kernel.validate();
  assert.equal(kernel.pages.freePagesTotal, kernel.pages.managedPagesTotal);
  assert.deepEqual(kernel.pages.stats().zones.map((z) => z.freeBlocks.join(',')), bootFree);
  assert.ok(new Int32Array(claims).every((c) => c === 0));
  const contended = kernel.pages.zones.reduce((sum, z) => sum + z.lock.contended, 0);
  assert.equal(contended, 0, 'the main thread never took the locks');
});
