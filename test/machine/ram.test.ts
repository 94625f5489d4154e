import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RAM_BYTES, PhysicalAddressError, Ram, RamSizeError, paddrToPfn, pfnToPaddr } from '../../src/machine/ram.ts';

test('RAM of a given size, plain or shared', () => {
  const ram = Ram.create({ sizeBytes: '4MiB' });
  assert.equal(ram.sizeBytes, 4 << 20);
  assert.equal(ram.nrPages, 1024);
  assert.equal(ram.shared, false);
  const shared = Ram.create({ sizeBytes: 4 << 20, shared: true });
  assert.equal(shared.shared, true);
  assert.ok(shared.buffer instanceof SharedArrayBuffer);
});

test('RAM sizes that are not page multiples, too small, too large or malformed are refused', () => {
  assert.throws(() => Ram.create({ sizeBytes: (4 << 20) + 100 }), RamSizeError);
  assert.throws(() => Ram.create({ sizeBytes: 4096 }), RamSizeError);
  assert.throws(() => Ram.create({ sizeBytes: MAX_RAM_BYTES + 4096 }), /at most 4 GiB/);
  assert.throws(() => Ram.create({ sizeBytes: 'lots' }), RamSizeError);
});

test('views check their range; frames and addresses convert', () => {
  const ram = Ram.create({ sizeBytes: '1MiB' });
  assert.equal(ram.u8(4096, 16).length, 16);
  assert.throws(() => ram.u8((1 << 20) - 8, 16), PhysicalAddressError);
  assert.throws(() => ram.checkRange(-1, 1), PhysicalAddressError);
  assert.equal(pfnToPaddr(3), 12288);
  assert.equal(paddrToPfn(12289), 3);
});
