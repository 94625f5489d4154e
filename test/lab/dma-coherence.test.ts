import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario } from '../../src/lab/run.ts';
import { dmaCoherence, runDmaDesign } from '../../src/lab/scenarios/dma-coherence.ts';

test('dma-coherence: without a sync the CPU reads stale bytes; with sync, coherent and uncached it reads none; uncached is slowest per access', async () => {
  const run = await runScenario(dmaCoherence, { bufferSizes: '1024,4096', packets: '24' }, { seed: 5 });
  const rows = run.result.tables.find((t) => t.id === 'designs')?.rows ?? [];
  const row = (design: string, size: number): Record<string, unknown> => {
    const r = rows.find((x) => String(x.design).startsWith(design) && x.bufferBytes === size);
    assert.ok(r !== undefined, `${design} ${size}`);
    return r;
  };
  for (const size of [1024, 4096]) {
    const nosync = row('non-coherent, streaming, no sync', size);
    // 8 buffers rotate: the first 8 packets find nothing cached, the other 16 read the previous packet.
    assert.equal(nosync.stalePackets, 16);
    assert.ok((nosync.staleWords as number) > 0.6 * (24 * size) / 4 * (16 / 24));
    for (const design of ['non-coherent, streaming + sync', 'non-coherent 24-bit,', 'non-coherent 24-bit behind', 'coherent device', 'non-coherent device, coherent (uncached)']) {
      assert.equal(row(design, size).staleWords, 0, design);
    }
    const uncached = row('non-coherent device, coherent (uncached)', size).cyclesPerLoad as number;
    for (const design of ['non-coherent, streaming + sync', 'non-coherent 24-bit', 'non-coherent 24-bit behind', 'coherent device']) {
      assert.ok(uncached > 5 * (row(design, size).cyclesPerLoad as number), `uncached ${uncached} vs ${design}`);
    }
    assert.ok((row('non-coherent 24-bit,', size).bytesBounced as number) >= 24 * size, 'every packet bounced');
    assert.equal(row('non-coherent 24-bit behind', size).bytesBounced, 0, 'an IOMMU makes bouncing unnecessary');
    assert.equal(row('non-coherent, streaming + sync', size).bytesBounced, 0);
    assert.ok((row('non-coherent, streaming + sync', size).linesInvalidated as number) >= (24 * size) / 64);
  }
  const rx = run.result.tables.find((t) => t.id === 'rx-paths')?.rows ?? [];
  for (const size of [1024, 4096]) {
    const copy = rx.find((r) => r.path === 'copy' && r.bufferBytes === size);
    const zero = rx.find((r) => r.path === 'zero-copy' && r.bufferBytes === size);
    assert.ok(copy !== undefined && zero !== undefined);
    assert.deepEqual([copy.bytesCopied, zero.bytesCopied], [24 * size, 0]);
    assert.deepEqual([copy.staleWords, zero.staleWords], [0, 0]);
    assert.equal(zero.pins, 24 + 7, 'one pin per packet, and the 7 pages posted at the start');
    assert.ok((zero.cyclesPerPacket as number) < (copy.cyclesPerPacket as number));
  }
});

test('dma-coherence: every preset shows the same direction', () => {
  for (const preset of ['skylake', 'skylake-server', 'zen3'] as const) {
    assert.ok(runDmaDesign('nosync', 2048, 16, 1, preset, 32 << 20).staleWords > 0, preset);
    assert.equal(runDmaDesign('sync', 2048, 16, 1, preset, 32 << 20).staleWords, 0, preset);
  }
});
