import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { ROW_WORDS, oddInverse } from '../../../src/mm/slab/cpu-slab.ts';
import { InteriorPointerError, InvalidFreeError } from '../../../src/mm/slab/errors.ts';

test('oddInverse: d · d⁻¹ ≡ 1 (mod 2^32) for every odd d a slot size can have', () => {
  for (let d = 1; d < 1 << 13; d += 2) assert.equal(Math.imul(d, oddInverse(d)), 1, `d = ${d}`);
});

test('the fast free accepts exactly the object starts of every slot size (divisibility test), the rest fall to the checked path', () => {
  const kernel = Kernel.boot({ ramBytes: '64MiB' });
  for (const size of [8, 24, 40, 56, 72, 96, 104, 192, 200, 328, 520, 1000, 1536, 3000, 4104]) {
    const cache = kernel.createCache(`s${size}`, size);
    const row = cache.index * ROW_WORDS;
    const a = cache.alloc() as number;
    const b = cache.alloc() as number;
    // Every 8-byte step inside the two objects but their starts is refused, and nothing changes.
    for (const base of [a, b]) {
      for (let off = 8; off < cache.size; off += 8) {
        assert.throws(() => cache.free(base + off), (e: unknown) => e instanceof InteriorPointerError || e instanceof InvalidFreeError, `size ${size} +${off}`);
      }
    }
    // The starts themselves are taken by the fast path, not left to the checked one.
    assert.equal(kernel.slab.cpuSlab.free(a, row), true, `size ${size}: fast free of an object start`);
    assert.equal(kernel.slab.cpuSlab.free(b, row), true);
    assert.throws(() => cache.free(a), /double free/);
    kernel.validate();
  }
});
